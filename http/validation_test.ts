import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { ViolationsSchema } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import { Code, ConnectError, type UnaryRequest, type UnaryResponse } from "@connectrpc/connect";
import {
  GetMessageRequestSchema,
  GetStatsRequestSchema,
  MessagesService,
} from "../gen/dataservices/v1/messages_pb.ts";
import { requestValidation } from "./validation.ts";

const getMessage = MessagesService.method.getMessage;

/** What the interceptor does with `message`: the error it throws, or "next" when it lets the call through. */
async function throughInterceptor(message: unknown): Promise<ConnectError | "next"> {
  const { interceptor } = requestValidation();
  const next = () => Promise.resolve({} as UnaryResponse);
  const req = { stream: false, method: getMessage, message } as unknown as UnaryRequest;
  try {
    await interceptor(next)(req);
    return "next";
  } catch (err) {
    assert.ok(err instanceof ConnectError);
    return err;
  }
}

Deno.test("a valid request passes both shapes", async () => {
  const { validate } = requestValidation();
  const ok = create(GetMessageRequestSchema, { channelId: 1n, messageId: 2n });
  assert.equal(validate(getMessage, ok), undefined);
  assert.equal(await throughInterceptor(ok), "next");
  // A message without rules.
  assert.equal(validate(MessagesService.method.getStats, create(GetStatsRequestSchema)), undefined);
});

Deno.test("the fast path's error is the interceptor's: code, message, violations detail", async () => {
  const { validate } = requestValidation();
  const bad = create(GetMessageRequestSchema, { channelId: 0n, messageId: 2n });
  const fast = validate(getMessage, bad);
  const lib = await throughInterceptor(bad);
  assert.ok(fast instanceof ConnectError && lib instanceof ConnectError);
  assert.equal(fast.code, Code.InvalidArgument);
  assert.equal(fast.rawMessage, "channel_id: must be greater than 0 [int64.gt]");
  assert.equal(fast.rawMessage, lib.rawMessage);
  assert.equal(lib.code, fast.code);
  const [detail] = fast.findDetails(ViolationsSchema);
  assert.deepEqual(detail, lib.findDetails(ViolationsSchema)[0]);
  assert.deepEqual(detail.violations.map((v) => [v.field?.elements[0].fieldName, v.ruleId]), [
    ["channel_id", "int64.gt"],
  ]);
});
