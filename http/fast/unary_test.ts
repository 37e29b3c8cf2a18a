import assert from "node:assert/strict";
// @ts-types="npm:@types/sinonjs__fake-timers@15.0.1"
import FakeTimers from "@sinonjs/fake-timers";
import { create, type DescMethod, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { findTrailerError } from "@connectrpc/connect/protocol-grpc";
import {
  type GetMessagesRequest,
  GetMessagesRequestSchema,
  GetMessagesResponseSchema,
  MessagesService,
} from "../../gen/dataservices/v1/messages_pb.ts";
import type { FastContext } from "./context.ts";
import { envelope } from "./grpc_wire.ts";
import { ProcedureTable } from "./procedures.ts";
import type { Reply } from "./reply.ts";
import { type CallObserver, type TracedCall, UnaryEngine } from "./unary.ts";
import { countingReader } from "./_testing.ts";

const METHOD = MessagesService.method.getMessages;
const PATH = "/dataservices.v1.MessagesService/GetMessages";
type Handler = (req: GetMessagesRequest, ctx: HandlerContext) => unknown;

/** An observer that records every call it sees. */
class RecordingObserver implements CallObserver {
  started: DescMethod[] = [];
  ended: { method: DescMethod; started: number; error: ConnectError | undefined }[] = [];
  start(method: DescMethod): number {
    this.started.push(method);
    return 1000 + this.started.length;
  }
  end(method: DescMethod, started: number, error: ConnectError | undefined): void {
    this.ended.push({ method, started, error });
  }
}

/** An engine serving GetMessages with `handler`; the handler's contexts are kept. */
function setup(handler: Handler, o: { maxTimeoutMs?: number; readMaxBytes?: number } = {}) {
  const observer = new RecordingObserver();
  const contexts: FastContext[] = [];
  const procedures = new ProcedureTable().add(MessagesService, {
    getMessages: (req, ctx) => {
      contexts.push(ctx as FastContext);
      return handler(req, ctx) as never;
    },
  });
  const engine = new UnaryEngine({
    readMaxBytes: o.readMaxBytes ?? 1000,
    maxTimeoutMs: o.maxTimeoutMs,
    observer,
  });
  const proc = procedures.get(PATH)!;
  const reader = countingReader({ traceparent: "00-abc-def-01" });
  return {
    engine,
    observer,
    contexts,
    /** A Connect POST with `body`. */
    connect: (body: Uint8Array, timeout: string | null = null, binary = true, method = "POST") =>
      engine.connect(proc, binary, body, method, timeout, null, reader),
    /** A gRPC (or gRPC-web) call with the enveloped `body`. */
    grpc: (body: Uint8Array, timeout: string | null = null, kind: "grpc" | "grpc-web" = "grpc") =>
      engine.grpc(kind, proc, true, body, timeout, null, reader),
  };
}

const REQUEST = toBinary(
  GetMessagesRequestSchema,
  create(GetMessagesRequestSchema, { channelId: 7n }),
);
const ok = (req: GetMessagesRequest) => ({
  messages: [{ channelId: req.channelId, content: "hi" }],
});

function connectCode(reply: Reply): string {
  return JSON.parse(new TextDecoder().decode(reply.body)).code;
}

function jsonError(reply: Reply): { code: string; message: string } {
  return JSON.parse(new TextDecoder().decode(reply.body));
}

function grpcStatus(reply: Reply): ConnectError | undefined {
  return findTrailerError(new Headers(reply.trailers as HeadersInit));
}

// --- Connect ----------------------------------------------------------------------------------

Deno.test("UnaryEngine.connect: decodes, runs, encodes; the observer sees start and end", async () => {
  const s = setup(ok);
  const reply = await s.connect(REQUEST);
  assert.equal(reply.status, 200);
  assert.equal(reply.contentType, "application/proto");
  const out = fromBinary(GetMessagesResponseSchema, reply.body);
  assert.equal(out.messages[0].channelId, 7n);
  assert.deepEqual(s.observer.started, [METHOD]);
  assert.deepEqual(s.observer.ended, [{ method: METHOD, started: 1001, error: undefined }]);
  const ctx = s.contexts[0];
  assert.equal(ctx.protocolName, "connect");
  assert.equal(ctx.requestMethod, "POST");
  assert.equal(ctx.timeoutMs(), undefined);
});

Deno.test("UnaryEngine.connect: JSON in, JSON out; GET is passed on as the request method", async () => {
  const s = setup(ok);
  const reply = await s.connect(
    new TextEncoder().encode('{"channelId":"9"}'),
    null,
    false,
    "GET",
  );
  assert.equal(reply.contentType, "application/json");
  assert.deepEqual(JSON.parse(new TextDecoder().decode(reply.body)), {
    messages: [{ channelId: "9", content: "hi" }],
  });
  assert.equal(s.contexts[0].requestMethod, "GET");
});

Deno.test("UnaryEngine.grpc: the reply in the caller's protocol", async () => {
  const s = setup(ok);
  const grpc = await s.grpc(envelope(REQUEST));
  assert.equal(grpc.contentType, "application/grpc+proto");
  assert.equal(fromBinary(GetMessagesResponseSchema, grpc.body.subarray(5)).messages.length, 1);
  assert.equal(grpcStatus(grpc), undefined);
  assert.equal(new Headers(grpc.trailers as HeadersInit).get("grpc-status"), "0");
  const web = await s.grpc(envelope(REQUEST), null, "grpc-web");
  assert.equal(web.contentType, "application/grpc-web+proto");
  assert.equal(web.trailers, undefined);
  assert.ok(web.body.length > grpc.body.length, "the trailer frame follows the message");
  assert.deepEqual(s.contexts.map((c) => c.protocolName), ["grpc", "grpc-web"]);
});

Deno.test("UnaryEngine: each call is observed once, with its error", async () => {
  const notFound = new ConnectError("no such channel", Code.NotFound);
  const s = setup((req) => {
    if (req.channelId === 1n) throw notFound;
    return {};
  });
  const bad = toBinary(
    GetMessagesRequestSchema,
    create(GetMessagesRequestSchema, { channelId: 1n }),
  );
  const r1 = await s.connect(bad);
  const r2 = await s.connect(REQUEST);
  const r3 = await s.grpc(envelope(bad));
  assert.equal(r1.status, 404);
  assert.equal(r2.status, 200);
  assert.equal(grpcStatus(r3)?.code, Code.NotFound);
  assert.equal(s.observer.started.length, 3);
  assert.deepEqual(s.observer.ended.map((e) => [e.started, e.error]), [
    [1001, notFound],
    [1002, undefined],
    [1003, notFound],
  ]);
});

Deno.test("UnaryEngine: a handler's own exception is 'internal error', as in connect-es", async () => {
  for (
    const handler of [
      () => {
        throw new Error("db password is hunter2");
      },
      () => Promise.reject(new TypeError("x is undefined")),
      () => {
        throw "a string";
      },
    ] as Handler[]
  ) {
    const s = setup(handler);
    const reply = await s.connect(REQUEST);
    assert.equal(reply.status, 500);
    assert.deepEqual(jsonError(reply), { code: "internal", message: "internal error" });
    const error = s.observer.ended[0].error!;
    assert.equal(error.code, Code.Internal);
    assert.equal(error.rawMessage, "internal error");
    assert.ok(error.cause !== undefined, "the original is kept as the cause");
    const grpc = await s.grpc(envelope(REQUEST));
    assert.equal(grpcStatus(grpc)?.code, Code.Internal);
    assert.equal(grpcStatus(grpc)?.rawMessage, "internal error");
  }
});

Deno.test("UnaryEngine: a malformed request is INVALID_ARGUMENT and the handler does not run", async () => {
  let ran = 0;
  const s = setup(() => ran++);
  const reply = await s.connect(new Uint8Array([0xff, 0xff]));
  assert.equal(reply.status, 400);
  assert.equal(connectCode(reply), "invalid_argument");
  assert.equal(ran, 0);
  assert.equal(s.observer.ended[0].error?.code, Code.InvalidArgument);
});

Deno.test("UnaryEngine: what the handler returns must be a response", async () => {
  const s = setup(() => undefined);
  const reply = await s.connect(REQUEST);
  assert.equal(reply.status, 500);
  assert.equal(s.observer.ended[0].error?.code, Code.Internal);
});

// --- limits -----------------------------------------------------------------------------------

Deno.test("UnaryEngine: messages over readMaxBytes are RESOURCE_EXHAUSTED before decoding", async () => {
  let ran = 0;
  const s = setup(() => (ran++, {}), { readMaxBytes: REQUEST.length });
  const big = new Uint8Array(REQUEST.length + 1);
  const connect = await s.connect(big);
  assert.equal(connect.status, 429);
  assert.equal(connectCode(connect), "resource_exhausted");
  const grpc = await s.grpc(envelope(big));
  assert.equal(grpcStatus(grpc)?.code, Code.ResourceExhausted);
  assert.equal(ran, 0);
  // Exactly at the limit is fine.
  assert.equal((await s.connect(REQUEST)).status, 200);
  assert.equal(grpcStatus(await s.grpc(envelope(REQUEST))), undefined);
  assert.equal(ran, 2);
});

// --- timeouts ---------------------------------------------------------------------------------

async function withClock(body: (clock: FakeTimers.InstalledClock) => Promise<void>) {
  const clock = FakeTimers.install({ toFake: ["setTimeout", "clearTimeout", "performance"] });
  try {
    clock.tick(1_000);
    await body(clock);
  } finally {
    clock.uninstall();
  }
}

Deno.test("UnaryEngine: the caller's timeout becomes the handler's deadline", async () => {
  await withClock(async () => {
    const seen: (number | undefined)[] = [];
    const s = setup((_, ctx) => (seen.push(ctx.timeoutMs()), {}));
    await s.connect(REQUEST, "250");
    await s.grpc(envelope(REQUEST), "2S");
    await s.grpc(envelope(REQUEST), "1M", "grpc-web");
    await s.grpc(envelope(REQUEST), "1500u");
    assert.deepEqual(seen, [250, 2000, 60_000, 1]);
    assert.deepEqual(s.contexts.map((c) => c.protocolName), [
      "connect",
      "grpc",
      "grpc-web",
      "grpc",
    ]);
  });
});

Deno.test("UnaryEngine: a malformed or too long timeout is INVALID_ARGUMENT; the handler does not run", async () => {
  let ran = 0;
  const s = setup(() => (ran++, {}), { maxTimeoutMs: 10_000 });
  for (const t of ["abc", "-1", "1.5", "12345678901", "10001"]) {
    const reply = await s.connect(REQUEST, t);
    assert.equal(reply.status, 400, `connect-timeout-ms ${t}`);
    assert.equal(connectCode(reply), "invalid_argument", t);
  }
  for (const t of ["1", "1s", "123456789S", "11S", "S"]) {
    const reply = await s.grpc(envelope(REQUEST), t);
    assert.equal(grpcStatus(reply)?.code, Code.InvalidArgument, `grpc-timeout ${t}`);
  }
  assert.equal(ran, 0);
  assert.equal((await s.connect(REQUEST, "10000")).status, 200);
  assert.equal(ran, 1);
});

Deno.test("UnaryEngine: the context's signal, if made, is aborted when the call ends", async () => {
  const signals: AbortSignal[] = [];
  const fail = new ConnectError("nope", Code.FailedPrecondition);
  const s = setup((req, ctx) => {
    signals.push(ctx.signal);
    assert.equal(ctx.signal.aborted, false);
    if (req.channelId === 0n) throw fail;
    return {};
  });
  await s.connect(REQUEST);
  await s.connect(new Uint8Array());
  assert.equal(signals[0].aborted, true);
  assert.equal((signals[0].reason as ConnectError).code, Code.Canceled);
  assert.equal(signals[1].reason, fail);
});

// --- tracing ----------------------------------------------------------------------------------

Deno.test("UnaryEngine: the trace hook wraps the implementation when set", async () => {
  const traced: { method: DescMethod; protocol: string; traceparent: string | null }[] = [];
  const order: string[] = [];
  const observer = new RecordingObserver();
  const tracing: CallObserver = {
    start: (m) => observer.start(m),
    end: (m, s, e) => observer.end(m, s, e),
    trace: async <T>(method: DescMethod, call: TracedCall, fn: () => Promise<T>) => {
      traced.push({
        method,
        protocol: call.protocolName,
        traceparent: call.requestHeader.get("traceparent"),
      });
      order.push("span start");
      try {
        return await fn();
      } finally {
        order.push("span end");
      }
    },
  };
  const engine = new UnaryEngine({ readMaxBytes: 1000, observer: tracing });
  const proc = new ProcedureTable().add(MessagesService, {
    getMessages: () => (order.push("handler"), {}),
  }).get(PATH)!;
  const reply = await engine.grpc(
    "grpc-web",
    proc,
    true,
    envelope(REQUEST),
    null,
    null,
    countingReader({ traceparent: "00-1-2-01" }),
  );
  assert.equal(reply.status, 200);
  assert.deepEqual(order, ["span start", "handler", "span end"]);
  assert.deepEqual(traced, [{ method: METHOD, protocol: "grpc-web", traceparent: "00-1-2-01" }]);
  assert.equal(observer.ended.length, 1);
});

Deno.test("UnaryEngine: without a trace hook the request headers are not read", async () => {
  const s = setup(ok);
  const reader = countingReader();
  const proc = new ProcedureTable().add(MessagesService, { getMessages: ok }).get(PATH)!;
  await s.engine.connect(proc, true, REQUEST, "POST", null, null, reader);
  assert.equal(reader.calls.headers, 0);
});

Deno.test("UnaryEngine: no observer needed", async () => {
  const engine = new UnaryEngine({ readMaxBytes: 100 });
  const proc = new ProcedureTable().add(MessagesService, { getMessages: ok }).get(PATH)!;
  const reply = await engine.connect(proc, true, REQUEST, "POST", null, null, countingReader());
  assert.equal(fromBinary(GetMessagesResponseSchema, reply.body).messages[0].content, "hi");
});
