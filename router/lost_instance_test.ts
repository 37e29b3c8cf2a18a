import assert from "node:assert/strict";
import { Code, ConnectError } from "@connectrpc/connect";
import { MessagesService } from "../gen/dataservices/v1/messages_pb.ts";
import { TransportFailure } from "./lean_transport.ts";
import { lostInstance, reportLostInstance } from "./lost_instance.ts";

Deno.test("lostInstance: errors made on this side of the wire, not the instance's answers", () => {
  const answered = new ConnectError("boom", Code.Internal, { "content-type": "application/grpc" });
  assert.equal(lostInstance(answered), false, "an instance's INTERNAL stays INTERNAL");
  const cancel = new ConnectError(
    "http/2 stream closed with error code CANCEL (0x8)",
    Code.Canceled,
  );
  assert.equal(lostInstance(cancel), true);
  assert.equal(lostInstance(new ConnectError("read ECONNRESET", Code.Aborted)), true);
  const prematureClose = Object.assign(new Error("Premature close"), {
    code: "ERR_STREAM_PREMATURE_CLOSE",
  });
  assert.equal(
    lostInstance(
      new ConnectError("Premature close", Code.Internal, undefined, undefined, prematureClose),
    ),
    true,
    "connect-node's wrap of a node system error",
  );
  assert.equal(
    lostInstance(new ConnectError("HTTP 413", Code.Unknown, { "date": "now" })),
    false,
    "an HTTP status the instance sent is an answer (conformance: HTTP to RPC Code Mapping)",
  );
  assert.equal(
    lostInstance(new ConnectError("protocol error: missing trailer", Code.Internal)),
    false,
    "a malformed answer keeps connect-es's code (conformance: Unexpected Responses)",
  );
  assert.equal(lostInstance(new TypeError("socket gone")), true);
  assert.equal(lostInstance(new ConnectError("gone", Code.Unavailable)), false, "already right");
  assert.equal(lostInstance(new ConnectError("no row", Code.NotFound)), false);
  assert.equal(lostInstance(cancel, AbortSignal.abort()), false, "the caller cancelled");
});

Deno.test("reportLostInstance: a lost instance is UNAVAILABLE with a TransportFailure cause; answers pass", async () => {
  const instance = { id: "a:1", baseUrl: "http://a:1" };
  let next: unknown;
  const inner = {
    unary: () => Promise.reject(next),
    stream: () => Promise.reject(next),
  };
  const t = reportLostInstance(inner as never, instance);
  const call = () =>
    t.unary(MessagesService.method.getStats, undefined, undefined, undefined, {}, undefined);
  next = new ConnectError("read ECONNRESET", Code.Aborted);
  await assert.rejects(call(), (e) =>
    e instanceof ConnectError && e.code === Code.Unavailable &&
    e.cause instanceof TransportFailure && /lost instance a:1: .*read ECONNRESET/.test(e.message));
  const answered = new ConnectError("no row", Code.NotFound, {
    "content-type": "application/proto",
  });
  next = answered;
  await assert.rejects(call(), (e) => e === answered);
});
