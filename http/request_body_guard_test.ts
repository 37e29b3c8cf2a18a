import assert from "node:assert/strict";
// @ts-types="npm:@types/sinonjs__fake-timers@15.0.1"
import FakeTimers from "@sinonjs/fake-timers";
import { Code, ConnectError, createConnectRouter } from "@connectrpc/connect";
import type { UniversalServerRequest } from "@connectrpc/connect/protocol";
import { Health } from "../gen/grpc/health/v1/health_pb.ts";
import { guardRequestBody } from "./request_body_guard.ts";

/** Health's Check (unary) and Watch (server stream) as connect-es serves them, behind a spy. */
function handlers() {
  const router = createConnectRouter();
  router.service(Health, {});
  return router.handlers;
}

/** A handler that reads its whole body and records what it saw. */
function reader() {
  const seen = { header: new Headers(), error: undefined as unknown, bytes: 0 };
  const [watch] = handlers().filter((h) => h.method.name === "Watch");
  const handler = Object.assign(async (req: UniversalServerRequest) => {
    seen.header = req.header;
    try {
      for await (const chunk of req.body as AsyncIterable<Uint8Array>) seen.bytes += chunk.length;
    } catch (e) {
      seen.error = e;
    }
    return { status: 200, header: new Headers() };
  }, { ...watch });
  return { seen, handler };
}

function request(
  body: AsyncIterable<Uint8Array>,
  header: Record<string, string>,
): UniversalServerRequest {
  return {
    httpVersion: "1.1",
    url: "http://t/grpc.health.v1.Health/Watch",
    method: "POST",
    header: new Headers({ "content-type": "application/grpc", ...header }),
    body,
    signal: new AbortController().signal,
  };
}

async function* chunks(...parts: number[][]): AsyncIterable<Uint8Array> {
  for (const p of parts) yield new Uint8Array(p);
}

Deno.test("guardRequestBody: envelope flags other than 0 and 1 fail with INVALID_ARGUMENT, split or not", async () => {
  for (const parts of [[[2, 0, 0, 0, 0]], [[0, 0, 0, 0, 1, 9, 0x80], [0, 0, 0], [0]]]) {
    const { seen, handler } = reader();
    await guardRequestBody(handler, { bodyTimeoutMs: 0 })(request(chunks(...parts), {}));
    assert.ok(seen.error instanceof ConnectError, `${parts}: ${seen.error}`);
    assert.equal(seen.error.code, Code.InvalidArgument);
  }
  const { seen, handler } = reader();
  await guardRequestBody(handler, { bodyTimeoutMs: 0 })(
    request(chunks([0, 0, 0, 0, 2, 8], [1, 1, 0, 0, 0, 1, 7]), {}),
  );
  assert.equal(seen.error, undefined);
  assert.equal(seen.bytes, 13);
});

Deno.test("guardRequestBody: a one-message request body that stops coming fails with DEADLINE_EXCEEDED", async () => {
  const clock = FakeTimers.install({ toFake: ["setTimeout", "clearTimeout", "performance"] });
  try {
    const { seen, handler } = reader();
    const never = { [Symbol.asyncIterator]: () => ({ next: () => new Promise<never>(() => {}) }) };
    const res = guardRequestBody(handler, { bodyTimeoutMs: 1000 })(request(never, {}));
    await clock.tickAsync(990);
    assert.equal(seen.error, undefined);
    await clock.tickAsync(30); // the coarse timer fires at most one 10 ms slot late
    const r = await res;
    const error: unknown = seen.error;
    assert.ok(error instanceof ConnectError, String(error));
    assert.equal(error.code, Code.DeadlineExceeded);
    assert.equal(r.header?.get("connection"), "close"); // HTTP/1.1: the connection ends
  } finally {
    clock.uninstall();
  }
});

Deno.test("guardRequestBody: timeouts no timer can wait for are dropped, others kept", async () => {
  for (
    const [header, kept] of [
      [{ "grpc-timeout": "99999999H" }, false],
      [{ "grpc-timeout": "597H" }, false],
      [{ "grpc-timeout": "596H" }, true],
      [{ "grpc-timeout": "10S" }, true],
      [{ "connect-timeout-ms": "9999999999" }, false],
      [{ "connect-timeout-ms": "2147483647" }, true],
    ] as const
  ) {
    const { seen, handler } = reader();
    await guardRequestBody(handler, { bodyTimeoutMs: 0 })(request(chunks(), header));
    const [name, value] = Object.entries(header)[0];
    assert.equal(seen.header.get(name), kept ? value : null, `${name}: ${value}`);
  }
});
