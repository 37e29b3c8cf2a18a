import assert from "node:assert/strict";
// @ts-types="npm:@types/sinonjs__fake-timers@15.0.1"
import FakeTimers from "@sinonjs/fake-timers";
import { Code, ConnectError } from "@connectrpc/connect";
import { CallSignal, type HangupWatch } from "./cancellation.ts";
import { coarseTimer, SLOT_MS } from "./coarse_timer.ts";

/** Runs `body` with fake setTimeout/clearTimeout and performance.now(). */
function withClock(body: (clock: FakeTimers.InstalledClock) => void) {
  const clock = FakeTimers.install({ toFake: ["setTimeout", "clearTimeout", "performance"] });
  const pendingBefore = coarseTimer.pending;
  try {
    clock.tick(1_000);
    body(clock);
  } finally {
    clock.uninstall();
  }
  assert.equal(coarseTimer.pending, pendingBefore, "the test left a slot on the shared timer");
}

/** A hang-up hook that records installs and lets the test hang up. */
function hangup() {
  const h = { installs: 0, hangUp: undefined as ((reason?: unknown) => void) | undefined };
  const watch: HangupWatch = (abort) => {
    h.installs++;
    h.hangUp = abort;
  };
  return { h, watch };
}

function codeOf(reason: unknown): Code {
  assert.ok(reason instanceof ConnectError, `reason is a ConnectError: ${reason}`);
  return reason.code;
}

Deno.test("CallSignal: without a listener nothing is scheduled, yet the deadline is seen", () => {
  withClock((clock) => {
    const { h, watch } = hangup();
    const s = new CallSignal(50, watch);
    assert.equal(clock.countTimers(), 0);
    assert.equal(h.installs, 0, "the hang-up hook waits for a listener");
    assert.equal(s.aborted, false);
    assert.equal(s.reason, undefined);
    clock.tick(49);
    assert.equal(s.aborted, false);
    clock.tick(1);
    assert.equal(s.aborted, true);
    assert.equal(codeOf(s.reason), Code.DeadlineExceeded);
    assert.equal(clock.countTimers(), 0);
  });
});

Deno.test("CallSignal: a listener hears DEADLINE_EXCEEDED once, not before the deadline", () => {
  withClock((clock) => {
    const s = new CallSignal(25);
    const heard: unknown[] = [];
    s.addEventListener("abort", () => heard.push(s.reason));
    assert.equal(clock.countTimers(), 1, "the deadline joined the shared timer");
    clock.tick(24);
    assert.deepEqual(heard, []);
    clock.tick(SLOT_MS + 1);
    assert.equal(heard.length, 1);
    assert.equal(codeOf(heard[0]), Code.DeadlineExceeded);
    assert.match((heard[0] as ConnectError).rawMessage, /timed out/);
    clock.tick(1_000);
    assert.equal(heard.length, 1);
    assert.equal(clock.countTimers(), 0);
  });
});

Deno.test("CallSignal: no deadline, no timer; remainingMs is Infinity", () => {
  withClock((clock) => {
    const s = new CallSignal(undefined);
    s.addEventListener("abort", () => {});
    assert.equal(clock.countTimers(), 0);
    assert.equal(s.at, Infinity);
    assert.equal(s.remainingMs(), Infinity);
    clock.tick(1e9);
    assert.equal(s.aborted, false);
  });
});

Deno.test("CallSignal: remainingMs counts down and goes negative", () => {
  withClock((clock) => {
    const s = new CallSignal(100);
    assert.equal(s.remainingMs(), 100);
    clock.tick(30);
    assert.equal(s.remainingMs(), 70);
    clock.tick(100);
    assert.equal(s.remainingMs(), -30);
  });
});

Deno.test("CallSignal: the hang-up hook is installed on the first listener only", () => {
  withClock(() => {
    const { h, watch } = hangup();
    const s = new CallSignal(undefined, watch);
    assert.equal(h.installs, 0);
    s.addEventListener("abort", () => {});
    assert.equal(h.installs, 1);
    s.addEventListener("abort", () => {});
    const third = () => {};
    s.removeEventListener("abort", third);
    s.addEventListener("abort", third);
    assert.equal(h.installs, 1);
  });
});

Deno.test("CallSignal: a hang-up aborts with CANCELED and tells every listener once", () => {
  withClock((clock) => {
    const { h, watch } = hangup();
    const s = new CallSignal(1_000, watch);
    let a = 0, b = 0;
    s.addEventListener("abort", () => a++);
    s.addEventListener("abort", () => b++);
    h.hangUp!();
    assert.equal(s.aborted, true);
    assert.equal(codeOf(s.reason), Code.Canceled);
    assert.equal(a, 1);
    assert.equal(b, 1);
    assert.equal(clock.countTimers(), 0, "the abort took the deadline off the shared timer");
    h.hangUp!(); // a second close event
    clock.tick(2_000);
    assert.equal(a + b, 2);
    assert.equal(codeOf(s.reason), Code.Canceled);
  });
});

Deno.test("CallSignal: abort() defaults to CANCELED and keeps its first reason", () => {
  withClock(() => {
    const s = new CallSignal(undefined);
    s.abort();
    assert.equal(codeOf(s.reason), Code.Canceled);
    assert.match((s.reason as ConnectError).rawMessage, /client went away/);
    const first = s.reason;
    s.abort(new ConnectError("later", Code.Internal));
    assert.equal(s.reason, first);
  });
});

Deno.test("CallSignal: abort(reason) keeps a ConnectError's code, wraps anything else as CANCELED", () => {
  withClock(() => {
    const own = new ConnectError("gone", Code.Unavailable);
    const s1 = new CallSignal(undefined);
    s1.abort(own);
    assert.equal(s1.reason, own);
    const s2 = new CallSignal(undefined);
    s2.abort(new Error("boom"));
    assert.equal(codeOf(s2.reason), Code.Canceled);
    assert.match((s2.reason as ConnectError).rawMessage, /boom/);
  });
});

Deno.test("CallSignal: no event after the abort, and no timer or hook for a late listener", () => {
  withClock((clock) => {
    const { h, watch } = hangup();
    const s = new CallSignal(50, watch);
    s.abort();
    let heard = 0;
    s.addEventListener("abort", () => heard++);
    assert.equal(h.installs, 0);
    assert.equal(clock.countTimers(), 0);
    clock.tick(1_000);
    s.abort();
    assert.equal(heard, 0);
  });
});

Deno.test("CallSignal: removing the last listener releases the timer", () => {
  withClock((clock) => {
    const s = new CallSignal(50);
    const a = () => assert.fail("a was removed");
    let b = 0;
    const bFn = () => b++;
    s.addEventListener("abort", a);
    s.addEventListener("abort", bFn);
    s.removeEventListener("abort", a);
    assert.equal(clock.countTimers(), 1, "b still listens");
    s.removeEventListener("abort", bFn);
    assert.equal(clock.countTimers(), 0);
    // Listening again re-arms it.
    s.addEventListener("abort", bFn);
    assert.equal(clock.countTimers(), 1);
    clock.tick(50 + SLOT_MS);
    assert.equal(b, 1);
  });
});

Deno.test("CallSignal: a listener that was never added is ignored by removeEventListener", () => {
  withClock((clock) => {
    const s = new CallSignal(50);
    let heard = 0;
    s.addEventListener("abort", () => heard++);
    s.removeEventListener("abort", () => {});
    assert.equal(clock.countTimers(), 1);
    clock.tick(50 + SLOT_MS);
    assert.equal(heard, 1);
  });
});

Deno.test("CallSignal: deadlines of many calls share the timer's slots", () => {
  withClock((clock) => {
    const signals = Array.from({ length: 100 }, () => new CallSignal(40));
    let heard = 0;
    for (const s of signals) s.addEventListener("abort", () => heard++);
    assert.equal(clock.countTimers(), 1);
    clock.tick(40 + SLOT_MS);
    assert.equal(heard, 100);
  });
});
