import assert from "node:assert/strict";
// @ts-types="npm:@types/sinonjs__fake-timers@15.0.1"
import FakeTimers from "@sinonjs/fake-timers";
import { Code, ConnectError, createContextKey, type HandlerContext } from "@connectrpc/connect";
import { MessagesService } from "../../gen/dataservices/v1/messages_pb.ts";
import { cancellationOf, FastContext, type RequestReader } from "./context.ts";
import { SLOT_MS } from "../../lib/coarse_timer.ts";

const METHOD = MessagesService.method.getMessages;

/** A reader over nothing that counts what the context asked of it. */
function reader() {
  const calls = { headers: 0, url: 0, hangup: 0 };
  let hangUp: ((reason?: unknown) => void) | undefined;
  const r: RequestReader<string> = {
    headers: (raw) => {
      calls.headers++;
      return new Headers({ "x-raw": raw });
    },
    url: (raw) => {
      calls.url++;
      return `http://localhost/${raw}`;
    },
    hangup: (_raw, abort) => {
      calls.hangup++;
      hangUp = abort;
    },
  };
  return { r, calls, hangUp: () => hangUp!() };
}

/** Counts AbortControllers made while `body` runs. */
function countControllers(body: () => void): number {
  const Real = globalThis.AbortController;
  let made = 0;
  globalThis.AbortController = class extends Real {
    constructor() {
      super();
      made++;
    }
  };
  try {
    body();
  } finally {
    globalThis.AbortController = Real;
  }
  return made;
}

function withClock(body: (clock: FakeTimers.InstalledClock) => void) {
  const clock = FakeTimers.install({ toFake: ["setTimeout", "clearTimeout", "performance"] });
  try {
    clock.tick(1_000);
    body(clock);
  } finally {
    clock.uninstall();
  }
}

Deno.test("FastContext: nothing is made until asked", () => {
  const { r, calls } = reader();
  const made = countControllers(() => {
    const ctx = new FastContext(METHOD, "grpc", "POST", 100, "raw", r);
    assert.equal(ctx.method, METHOD);
    assert.equal(ctx.service, MessagesService);
    assert.equal(ctx.protocolName, "grpc");
    assert.equal(ctx.requestMethod, "POST");
    assert.equal(ctx.hasResponseMetadata, false);
    assert.equal(ctx.cancellation.aborted, false);
    ctx.done();
  });
  assert.equal(made, 0, "no AbortController");
  assert.deepEqual(calls, { headers: 0, url: 0, hangup: 0 });
});

Deno.test("FastContext: request headers and URL are read once, on first use", () => {
  const { r, calls } = reader();
  const ctx = new FastContext(METHOD, "connect", "GET", undefined, "abc", r);
  assert.equal(ctx.requestHeader.get("x-raw"), "abc");
  assert.equal(ctx.requestHeader, ctx.requestHeader);
  assert.equal(ctx.url, "http://localhost/abc");
  assert.equal(ctx.url, "http://localhost/abc");
  assert.deepEqual(calls, { headers: 1, url: 1, hangup: 0 });
});

Deno.test("FastContext: response headers, trailers and values are made once, on first use", () => {
  const ctx = new FastContext(METHOD, "connect", "POST", undefined, "", reader().r);
  assert.equal(ctx.responseHeader, ctx.responseHeader);
  assert.equal(ctx.hasResponseMetadata, true);
  const other = new FastContext(METHOD, "connect", "POST", undefined, "", reader().r);
  other.responseTrailer.set("x", "1");
  assert.equal(other.hasResponseMetadata, true);
  assert.equal(other.responseTrailer.get("x"), "1");
  const key = createContextKey(0);
  ctx.values.set(key, 5);
  assert.equal(ctx.values.get(key), 5);
});

Deno.test("FastContext: the signal is made on first access and installs the hang-up hook", () => {
  const { r, calls, hangUp } = reader();
  const ctx = new FastContext(METHOD, "connect", "POST", undefined, "", r);
  let signal: AbortSignal | undefined;
  const made = countControllers(() => {
    signal = ctx.signal;
    assert.equal(ctx.signal, signal);
  });
  assert.equal(made, 1);
  assert.equal(calls.hangup, 1);
  assert.equal(signal!.aborted, false);
  hangUp();
  assert.equal(signal!.aborted, true);
  assert.ok(signal!.reason instanceof ConnectError);
  assert.equal((signal!.reason as ConnectError).code, Code.Canceled);
  assert.equal(signal!.reason, ctx.cancellation.reason);
});

Deno.test("FastContext: the signal follows the call's deadline", () => {
  withClock((clock) => {
    const ctx = new FastContext(METHOD, "connect", "POST", 50, "", reader().r);
    const signal = ctx.signal;
    clock.tick(49);
    assert.equal(signal.aborted, false);
    clock.tick(1 + SLOT_MS);
    assert.equal(signal.aborted, true);
    assert.equal((signal.reason as ConnectError).code, Code.DeadlineExceeded);
    assert.equal(clock.countTimers(), 0);
  });
});

Deno.test("FastContext: a signal made after the abort is aborted with its reason", () => {
  const ctx = new FastContext(METHOD, "connect", "POST", undefined, "", reader().r);
  const why = new ConnectError("gone", Code.Unavailable);
  ctx.cancellation.abort(why);
  assert.equal(ctx.signal.aborted, true);
  assert.equal(ctx.signal.reason, why);
});

Deno.test("FastContext: timeoutMs in whole milliseconds, negative once passed", () => {
  withClock((clock) => {
    assert.equal(
      new FastContext(METHOD, "connect", "POST", undefined, "", reader().r).timeoutMs(),
      undefined,
    );
    const ctx = new FastContext(METHOD, "connect", "POST", 100, "", reader().r);
    assert.equal(ctx.timeoutMs(), 100);
    clock.tick(0.4);
    assert.equal(ctx.timeoutMs(), 99);
    clock.tick(99.6);
    assert.equal(ctx.timeoutMs(), 0);
    clock.tick(0.5);
    assert.equal(ctx.timeoutMs(), -1);
  });
});

Deno.test("FastContext: done() aborts a signal someone made, once", () => {
  const ctx = new FastContext(METHOD, "connect", "POST", undefined, "", reader().r);
  const signal = ctx.signal;
  ctx.done();
  assert.equal(signal.aborted, true);
  assert.equal((signal.reason as ConnectError).code, Code.Canceled);
  const first = signal.reason;
  ctx.done(new Error("later"));
  assert.equal(signal.reason, first);

  const failed = new FastContext(METHOD, "connect", "POST", undefined, "", reader().r);
  const s = failed.signal;
  const why = new ConnectError("boom", Code.Internal);
  failed.done(why);
  assert.equal(s.reason, why);
});

Deno.test("cancellationOf: the CallSignal of a fast context, the signal of any other", () => {
  const ctx = new FastContext(METHOD, "connect", "POST", undefined, "", reader().r);
  const made = countControllers(() => assert.equal(cancellationOf(ctx), ctx.cancellation));
  assert.equal(made, 0);
  const signal = new AbortController().signal;
  const other = { signal, timeoutMs: () => undefined } as HandlerContext;
  assert.equal(cancellationOf(other), signal);
});

Deno.test("cancellationOf: with a deadline, a CallSignal that follows the context's signal", () => {
  const controller = new AbortController();
  const other = { signal: controller.signal, timeoutMs: () => 60_000 } as HandlerContext;
  const c = cancellationOf(other);
  assert.notEqual(c, controller.signal);
  assert.equal(c.aborted, false);
  // Like the fast path's, it follows the context's signal once someone listens.
  let heard = 0;
  c.addEventListener("abort", () => heard++);
  controller.abort(new ConnectError("hung up", Code.Canceled));
  assert.equal(heard, 1);
  assert.equal(c.aborted, true);
  assert.equal((c.reason as ConnectError).code, Code.Canceled);
  // A deadline already passed is seen at once, before any timer runs.
  const late = cancellationOf(
    { signal: new AbortController().signal, timeoutMs: () => -1 } as HandlerContext,
  );
  assert.equal(late.aborted, true);
});
