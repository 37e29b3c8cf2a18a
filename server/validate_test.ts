import assert from "node:assert/strict";
import { Code, ConnectError } from "@connectrpc/connect";
import { historyQuery, LIMITS, requireContent, requirePositiveId } from "./validate.ts";

function code(fn: () => unknown): Code | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof ConnectError ? err.code : undefined;
  }
  return undefined;
}

Deno.test("ids must be positive", () => {
  assert.equal(requirePositiveId("channel_id", 1n), 1n);
  assert.equal(code(() => requirePositiveId("channel_id", 0n)), Code.InvalidArgument);
  assert.equal(code(() => requirePositiveId("channel_id", -5n)), Code.InvalidArgument);
});

Deno.test("history defaults and bounds", () => {
  const q = historyQuery({ channelId: 3n, before: 0n, after: 0n, limit: 0 });
  assert.deepEqual(q, { channelId: 3n, before: 0n, after: 0n, limit: LIMITS.defaultLimit });
  assert.equal(historyQuery({ channelId: 3n, before: 9n, after: 2n, limit: 100 }).limit, 100);
  const bad = [
    { channelId: 0n, before: 0n, after: 0n, limit: 1 },
    { channelId: 1n, before: -1n, after: 0n, limit: 1 },
    { channelId: 1n, before: 0n, after: -1n, limit: 1 },
    { channelId: 1n, before: 5n, after: 5n, limit: 1 },
    { channelId: 1n, before: 5n, after: 9n, limit: 1 },
    { channelId: 1n, before: 0n, after: 0n, limit: 101 },
    { channelId: 1n, before: 0n, after: 0n, limit: -1 },
  ];
  for (const req of bad) {
    assert.equal(code(() => historyQuery(req)), Code.InvalidArgument, JSON.stringify(String(req)));
  }
});

Deno.test("content is 1..4000 characters, counted as code points", () => {
  assert.equal(requireContent("hi"), "hi");
  assert.equal(requireContent("😀".repeat(4000)).length, 8000);
  assert.equal(code(() => requireContent("")), Code.InvalidArgument);
  assert.equal(code(() => requireContent("   ")), Code.InvalidArgument);
  assert.equal(code(() => requireContent("x".repeat(4001))), Code.InvalidArgument);
});
