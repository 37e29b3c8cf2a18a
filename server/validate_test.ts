import assert from "node:assert/strict";
import { create, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf";
import { createValidator } from "@bufbuild/protovalidate";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  CreateMessageRequestSchema,
  GetMessageRequestSchema,
  GetMessagesRequestSchema,
  GetStatsRequestSchema,
} from "../gen/dataservices/v1/messages_pb.ts";
import { historyQuery, LIMITS, requirePositiveId } from "./validate.ts";

function code(fn: () => unknown): Code | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof ConnectError ? err.code : undefined;
  }
  return undefined;
}

const validator = createValidator();

/** The violations of `init` against the proto's rules: `field: rule_id` (or `rule_id` alone). */
function violations<D extends DescMessage>(schema: D, init: MessageInitShape<D>): string[] {
  const result = validator.validate(schema, create(schema, init));
  assert.notEqual(result.kind, "error", String(result.error));
  return (result.violations ?? []).map((v) => {
    const field = v.field.map((f) => f.kind === "field" ? f.name : "?").join(".");
    return field ? `${field}: ${v.ruleId}` : v.ruleId;
  });
}

Deno.test("the original's ids must be positive (its proto has no rules)", () => {
  assert.equal(requirePositiveId("channel_id", 1n), 1n);
  assert.equal(code(() => requirePositiveId("channel_id", 0n)), Code.InvalidArgument);
  assert.equal(code(() => requirePositiveId("channel_id", -5n)), Code.InvalidArgument);
});

Deno.test("history: limit 0 means the default, other values pass through", () => {
  const q = historyQuery({ channelId: 3n, before: 0n, after: 0n, limit: 0 });
  assert.deepEqual(q, { channelId: 3n, before: 0n, after: 0n, limit: LIMITS.defaultLimit });
  assert.equal(historyQuery({ channelId: 3n, before: 9n, after: 2n, limit: 100 }).limit, 100);
});

Deno.test("proto rules: ids are > 0", () => {
  assert.deepEqual(violations(GetMessageRequestSchema, { channelId: 1n, messageId: 1n }), []);
  assert.deepEqual(violations(GetMessageRequestSchema, { channelId: 0n, messageId: -1n }), [
    "channel_id: int64.gt",
    "message_id: int64.gt",
  ]);
  assert.deepEqual(
    violations(CreateMessageRequestSchema, { channelId: -1n, authorId: 0n, content: "hi" }),
    ["channel_id: int64.gt", "author_id: int64.gt"],
  );
  assert.deepEqual(violations(GetStatsRequestSchema, {}), []);
});

Deno.test("proto rules: history bounds, and after < before when both are set", () => {
  const ok = [
    { channelId: 3n, before: 0n, after: 0n, limit: 0 },
    { channelId: 3n, before: 9n, after: 2n, limit: 100 },
    { channelId: 3n, before: 0n, after: 9n, limit: 1 },
    { channelId: 3n, before: 9n, after: 0n, limit: 1 },
  ];
  for (const req of ok) assert.deepEqual(violations(GetMessagesRequestSchema, req), []);
  const bad: [MessageInitShape<typeof GetMessagesRequestSchema>, string[]][] = [
    [{ channelId: 0n, limit: 1 }, ["channel_id: int64.gt"]],
    [{ channelId: 1n, before: -1n }, ["before: int64.gte"]],
    [{ channelId: 1n, after: -1n }, ["after: int64.gte"]],
    [{ channelId: 1n, before: 5n, after: 5n }, ["after_before"]],
    [{ channelId: 1n, before: 5n, after: 9n }, ["after_before"]],
    [{ channelId: 1n, limit: 101 }, ["limit: int32.gte_lte"]],
    [{ channelId: 1n, limit: -1 }, ["limit: int32.gte_lte"]],
  ];
  for (const [req, want] of bad) {
    assert.deepEqual(violations(GetMessagesRequestSchema, req), want, String(Object.values(req)));
  }
});

Deno.test("proto rules: content is 1..4000 characters (code points) and not blank", () => {
  const msg = (content: string) => ({ channelId: 1n, authorId: 1n, content });
  assert.deepEqual(violations(CreateMessageRequestSchema, msg("hi")), []);
  assert.deepEqual(violations(CreateMessageRequestSchema, msg(" x ")), []);
  assert.deepEqual(violations(CreateMessageRequestSchema, msg("😀".repeat(4000))), []);
  assert.deepEqual(violations(CreateMessageRequestSchema, msg("")), ["content: string.min_len"]);
  assert.deepEqual(violations(CreateMessageRequestSchema, msg("x".repeat(4001))), [
    "content: string.max_len",
  ]);
  // What String.prototype.trim removes: ASCII and Unicode spaces, line and
  // paragraph separators, the byte-order mark.
  for (const blank of ["   ", "\t\n\v\f\r", "\u00a0\u2003\u3000", "\u2028\u2029", "\ufeff"]) {
    assert.equal(blank.trim(), "");
    assert.deepEqual(
      violations(CreateMessageRequestSchema, msg(blank)),
      ["content: content_not_blank"],
      JSON.stringify(blank),
    );
  }
});
