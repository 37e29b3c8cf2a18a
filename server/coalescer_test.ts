// Timing is controlled with deferreds (Promise.withResolvers) and fake timers; nothing sleeps.
// Each test's name says the bug it guards against.
import assert from "node:assert/strict";
// @ts-types="npm:@types/sinonjs__fake-timers@15.0.1"
import FakeTimers from "@sinonjs/fake-timers";
import {
  CapacityError,
  type Coalesced,
  Coalescer,
  type CoalescerEvent,
  type CoalescerOptions,
  type CoalescerStats,
  FlightTimeoutError,
  Limiter,
} from "./coalescer.ts";
import { CallSignal } from "../lib/cancellation.ts";
import { SLOT_MS } from "../lib/coarse_timer.ts";
import { Code, ConnectError } from "@connectrpc/connect";

/** An fn whose every call is a deferred the test settles; records the signal each call got. */
function controlled<T = string>() {
  const calls: {
    key: string;
    signal: AbortSignal;
    resolve: (v: T) => void;
    reject: (e: unknown) => void;
  }[] = [];
  const make = (key = "") => (signal: AbortSignal) => {
    const { promise, resolve, reject } = Promise.withResolvers<T>();
    calls.push({ key, signal, resolve, reject });
    return promise;
  };
  return { fn: make(), make, calls };
}

/** Follows a promise's state without awaiting it (and marks its rejection handled). */
function track<T>(promise: Promise<T>) {
  const t: { state: "pending" | "fulfilled" | "rejected"; value?: T; error?: unknown } = {
    state: "pending",
  };
  promise.then((value) => Object.assign(t, { state: "fulfilled", value }), (error) => {
    Object.assign(t, { state: "rejected", error });
  });
  return t;
}

/** Lets queued promise reactions run (microtasks only, no timers). */
async function ticks(n = 10) {
  for (let i = 0; i < n; i++) await Promise.resolve();
}

/** Every gauge back to 0 and no map entry left behind. */
function assertIdle(c: { stats(): CoalescerStats }) {
  const { flights, keys, waiters, runningCalls, queuedCalls } = c.stats();
  assert.deepEqual({ flights, keys, waiters, runningCalls, queuedCalls }, {
    flights: 0,
    keys: 0,
    waiters: 0,
    runningCalls: 0,
    queuedCalls: 0,
  });
}

/** Runs `body` with fake setTimeout/clearTimeout/performance/Date. */
async function withClock(body: (clock: FakeTimers.InstalledClock) => Promise<void>) {
  const clock = FakeTimers.install({
    toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "performance", "Date"],
  });
  try {
    await body(clock);
  } finally {
    clock.uninstall();
  }
}

const isError = (expected: unknown) => (e: unknown) => e === expected;

// --- sharing -------------------------------------------------------------------------------------

Deno.test("identical keys share one call (bug: a hot key sends one query per caller)", async () => {
  const c = new Coalescer<string>();
  const { fn, calls } = controlled();
  const results = Array.from({ length: 5 }, () => c.do("k", fn));
  assert.equal(calls.length, 1);
  const s = c.stats();
  assert.deepEqual([s.calls, s.joins, s.flights, s.keys, s.waiters], [1, 4, 1, 1, 5]);
  calls[0].resolve("v");
  for (const r of await Promise.all(results)) assert.deepEqual(r, { value: "v", shared: true });
  assertIdle(c);
});

Deno.test("a lone caller and distinct keys get shared: false (bug: shared flag lies)", async () => {
  const c = new Coalescer<string>();
  const { make, calls } = controlled();
  const a = c.do("a", make("a"));
  const b = c.do("b", make("b"));
  assert.deepEqual(calls.map((x) => x.key), ["a", "b"]);
  calls[0].resolve("A");
  calls[1].resolve("B");
  assert.deepEqual(await a, { value: "A", shared: false });
  assert.deepEqual(await b, { value: "B", shared: false });
  assertIdle(c);
});

Deno.test(
  "every waiter gets the same error object (bug: errors become empty successes)",
  async () => {
    const c = new Coalescer<string>();
    const { fn, calls } = controlled();
    const results = Array.from({ length: 3 }, () => c.do("k", fn));
    const err = new Error("db down");
    calls[0].reject(err);
    for (const r of results) await assert.rejects(r, isError(err));
    assert.equal(c.stats().errors, 1);
    assertIdle(c);
  },
);

Deno.test(
  "a synchronous throw in fn is a rejection shared by all (bug: throws out of do, hangs)",
  async () => {
    const c = new Coalescer<string>();
    const err = new Error("bad query");
    let n = 0;
    const fn = (): Promise<string> => {
      n++;
      throw err;
    };
    const results: Promise<unknown>[] = [];
    assert.doesNotThrow(() => {
      for (let i = 0; i < 3; i++) results.push(c.do("k", fn));
    });
    for (const r of results) await assert.rejects(r, isError(err));
    assert.equal(n, 1);
    assert.equal(c.stats().errors, 1);
    assertIdle(c);
  },
);

Deno.test(
  "nothing is cached once a flight settles (bug: a stale value or error served later)",
  async () => {
    const c = new Coalescer<string>();
    const { fn, calls } = controlled();
    const first = c.do("k", fn);
    calls[0].resolve("v1");
    assert.deepEqual(await first, { value: "v1", shared: false });
    const second = c.do("k", fn); // arrives right after the first was delivered
    assert.equal(calls.length, 2);
    const err = new Error("e");
    calls[1].reject(err);
    await assert.rejects(second, isError(err));
    const third = c.do("k", fn); // an error is not kept either
    assert.equal(calls.length, 3);
    calls[2].resolve("v3");
    assert.deepEqual(await third, { value: "v3", shared: false });
    assert.equal(c.stats().calls, 3);
    assertIdle(c);
  },
);

// --- cancellation --------------------------------------------------------------------------------

Deno.test(
  "one caller's abort releases only that caller (bug: one cancel kills shared work)",
  async () => {
    const c = new Coalescer<string>();
    const { fn, calls } = controlled();
    const a = track(c.do("k", fn));
    const ac = new AbortController();
    const b = track(c.do("k", fn, { signal: ac.signal }));
    const reason = new DOMException("deadline", "TimeoutError");
    ac.abort(reason);
    await ticks();
    assert.equal(b.state, "rejected");
    assert.equal(b.error, reason);
    assert.equal(a.state, "pending");
    assert.equal(calls[0].signal.aborted, false);
    assert.notEqual(calls[0].signal, ac.signal); // fn runs under the flight's signal
    assert.deepEqual([c.stats().waiters, c.stats().cancels], [1, 1]);
    calls[0].resolve("v");
    await ticks();
    assert.deepEqual(a.value, { value: "v", shared: false }); // only one caller received it
    assertIdle(c);
  },
);

Deno.test(
  "the last waiter leaving aborts fn and unmaps the flight (bug: joining a doomed flight)",
  async () => {
    const c = new Coalescer<string>();
    const { fn, calls } = controlled();
    const [acA, acB] = [new AbortController(), new AbortController()];
    const a = c.do("k", fn, { signal: acA.signal });
    const b = c.do("k", fn, { signal: acB.signal });
    acA.abort();
    assert.equal(calls[0].signal.aborted, false);
    acB.abort();
    assert.equal(calls[0].signal.aborted, true);
    assert.equal((calls[0].signal.reason as DOMException).name, "AbortError");
    await assert.rejects(a, (e: DOMException) => e.name === "AbortError");
    await assert.rejects(b, (e: DOMException) => e.name === "AbortError");
    assert.deepEqual([c.stats().abandoned, c.stats().keys, c.stats().flights], [1, 0, 0]);
    const late = track(c.do("k", fn)); // must start afresh
    assert.equal(calls.length, 2);
    calls[0].resolve("old"); // the doomed call ignores its signal and finishes anyway
    await ticks();
    assert.equal(late.state, "pending");
    assert.equal(c.stats().keys, 1); // its end did not delete the new entry
    const joiner = track(c.do("k", fn));
    assert.equal(calls.length, 2);
    calls[1].resolve("new");
    await ticks();
    assert.deepEqual([late.value, joiner.value], [{ value: "new", shared: true }, {
      value: "new",
      shared: true,
    }]);
    assertIdle(c);
  },
);

Deno.test("an already-aborted signal rejects at once, starting and joining nothing", async () => {
  const c = new Coalescer<string>();
  const { fn, calls } = controlled();
  const a = c.do("k", fn);
  const reason = new Error("gone");
  await assert.rejects(c.do("k", fn, { signal: AbortSignal.abort(reason) }), isError(reason));
  await assert.rejects(c.do("other", fn, { signal: AbortSignal.abort(reason) }), isError(reason));
  const s = c.stats();
  assert.deepEqual([calls.length, s.joins, s.waiters, s.flights, s.cancels], [1, 0, 1, 1, 2]);
  calls[0].resolve("v");
  assert.deepEqual(await a, { value: "v", shared: false });
  assertIdle(c);
});

Deno.test("an abort after delivery changes nothing (bug: gauges decremented twice)", async () => {
  const c = new Coalescer<string>();
  const { fn, calls } = controlled();
  const ac = new AbortController();
  const a = c.do("k", fn, { signal: ac.signal });
  calls[0].resolve("v");
  await a;
  ac.abort();
  assert.equal(c.stats().cancels, 0);
  assertIdle(c);
});

Deno.test(
  "an abort between the flight's end and delivery still delivers (bug: counted twice)",
  async () => {
    const ac = new AbortController();
    const c = new Coalescer<string>({
      onEvent: (e) => e.type === "end" && ac.abort(), // runs after the end, before delivery
    });
    const { fn, calls } = controlled();
    const a = c.do("k", fn, { signal: ac.signal });
    calls[0].resolve("v");
    assert.deepEqual(await a, { value: "v", shared: false });
    assert.equal(c.stats().cancels, 0);
    assertIdle(c);
  },
);

Deno.test(
  "abort listeners are removed once a waiter is served (bug: leak on a long-lived signal)",
  async () => {
    let live = 0;
    const { signal } = new AbortController();
    const add = signal.addEventListener.bind(signal);
    const remove = signal.removeEventListener.bind(signal);
    signal.addEventListener =
      ((...args: Parameters<typeof add>) => (live++, add(...args))) as typeof add;
    signal.removeEventListener =
      ((...args: Parameters<typeof remove>) => (live--, remove(...args))) as typeof remove;
    const c = new Coalescer<string>({ maxWaitersPerFlight: 2 });
    const { fn, calls } = controlled();
    for (let i = 0; i < 100; i++) {
      const results = [c.do("k", fn, { signal }), c.do("k", fn, { signal })];
      await assert.rejects(c.do("k", fn, { signal }), CapacityError);
      if (i % 2) calls[i].resolve("v");
      else calls[i].reject(new Error("e"));
      await Promise.allSettled(results);
    }
    assert.equal(live, 0);
    assertIdle(c);
  },
);

// --- time bounds ---------------------------------------------------------------------------------

Deno.test(
  "flightTimeoutMs rejects all waiters even if fn ignores its signal (bug: hung waiters)",
  () =>
    withClock(async (clock) => {
      const c = new Coalescer<string>({ flightTimeoutMs: 1000 });
      const { fn, calls } = controlled();
      const a = track(c.do("k", fn));
      const b = track(c.do("k", fn));
      await clock.tickAsync(999);
      assert.equal(a.state, "pending");
      await clock.tickAsync(1);
      assert.ok(a.error instanceof FlightTimeoutError);
      assert.equal(a.error.name, "FlightTimeoutError");
      assert.deepEqual([a.error.key, a.error.timeoutMs], ["k", 1000]);
      assert.equal(b.error, a.error);
      assert.equal(calls[0].signal.reason, a.error);
      assert.deepEqual([c.stats().timeouts, c.stats().keys], [1, 0]);
      const late = track(c.do("k", fn)); // a fresh flight, not the timed-out one
      assert.equal(calls.length, 2);
      calls[0].resolve("too late");
      await ticks();
      assert.equal(late.state, "pending");
      calls[1].resolve("v");
      await ticks();
      assert.deepEqual(late.value, { value: "v", shared: false });
      assert.equal(clock.countTimers(), 0); // the second flight's timer was cleared on its end
      assert.equal(c.stats().timeouts, 1);
      assertIdle(c);
    }),
);

Deno.test(
  "flightTimeoutMs counts queue time; a timed-out call keeps its slot until it settles",
  () =>
    withClock(async (clock) => {
      const c = new Coalescer<string>({ flightTimeoutMs: 1000, maxConcurrentCalls: 1 });
      const { make, calls } = controlled();
      const a = track(c.do("a", make("a")));
      await clock.tickAsync(500);
      const b = track(c.do("b", make("b")));
      assert.equal(c.stats().queuedCalls, 1);
      await clock.tickAsync(500);
      assert.ok(a.error instanceof FlightTimeoutError);
      assert.equal(c.stats().runningCalls, 1); // fn ignored its signal: the query still runs
      await clock.tickAsync(500);
      assert.ok(b.error instanceof FlightTimeoutError);
      assert.equal(c.stats().queuedCalls, 0);
      calls[0].resolve("late");
      await ticks();
      assert.deepEqual(calls.map((x) => x.key), ["a"]); // b's fn was never called
      assert.equal(c.stats().timeouts, 2);
      assertIdle(c);
    }),
);

Deno.test(
  "maxFlightAgeMs: a stuck flight is replaced; its end keeps the new entry (identity check)",
  () =>
    withClock(async (clock) => {
      const c = new Coalescer<string>({ maxFlightAgeMs: 1000 });
      const { fn, calls } = controlled();
      const a = track(c.do("k", fn));
      await clock.tickAsync(999);
      const b = track(c.do("k", fn)); // still young: joins
      assert.equal(calls.length, 1);
      await clock.tickAsync(1);
      const cc = track(c.do("k", fn)); // too old: a fresh flight
      const d = track(c.do("k", fn));
      assert.equal(calls.length, 2);
      assert.deepEqual([c.stats().aged, c.stats().flights, c.stats().keys], [1, 2, 1]);
      calls[0].resolve("old");
      await ticks();
      assert.deepEqual([a.value, b.value], [{ value: "old", shared: true }, {
        value: "old",
        shared: true,
      }]);
      assert.deepEqual([cc.state, d.state, c.stats().keys], ["pending", "pending", 1]);
      const e = track(c.do("k", fn)); // joins the new flight, which the old one did not delete
      assert.equal(calls.length, 2);
      calls[1].resolve("new");
      await ticks();
      for (const t of [cc, d, e]) assert.deepEqual(t.value, { value: "new", shared: true });
      assert.equal(calls[0].signal.aborted, false); // the old flight was not aborted, only closed
      assertIdle(c);
    }),
);

Deno.test(
  "forget makes the next arrival start afresh; the old end keeps the new entry",
  async () => {
    const c = new Coalescer<string>();
    const { fn, calls } = controlled();
    const a = c.do("k", fn);
    assert.equal(c.forget("k"), true);
    assert.equal(c.forget("k"), false);
    const b = track(c.do("k", fn));
    assert.equal(calls.length, 2);
    calls[0].resolve("old");
    assert.deepEqual(await a, { value: "old", shared: false });
    assert.equal(b.state, "pending");
    const d = c.do("k", fn);
    assert.equal(calls.length, 2);
    calls[1].resolve("new");
    assert.deepEqual(await d, { value: "new", shared: true });
    assertIdle(c);
  },
);

// --- caps ----------------------------------------------------------------------------------------

Deno.test(
  "maxWaitersPerFlight reject: an identifiable CapacityError (bug: unbounded waiter lists)",
  async () => {
    const c = new Coalescer<string>({ maxWaitersPerFlight: 3 });
    const { fn, calls } = controlled();
    const ac = new AbortController();
    const results = [c.do("k", fn), c.do("k", fn), c.do("k", fn, { signal: ac.signal })];
    await assert.rejects(c.do("k", fn), (e: unknown) => {
      assert.ok(e instanceof CapacityError);
      assert.deepEqual([e.name, e.cap, e.limit], ["CapacityError", "maxWaitersPerFlight", 3]);
      return true;
    });
    ac.abort(); // a leaving waiter frees its place
    results.push(c.do("k", fn));
    assert.equal(calls.length, 1);
    calls[0].resolve("v");
    const settled = await Promise.allSettled(results);
    assert.deepEqual(settled.map((s) => s.status), [
      "fulfilled",
      "fulfilled",
      "rejected",
      "fulfilled",
    ]);
    assert.equal(c.stats().rejected.maxWaitersPerFlight, 1);
    assertIdle(c);
  },
);

Deno.test(
  "maxWaitersPerFlight independent: runs uncoalesced and leaves the map alone",
  async () => {
    const c = new Coalescer<string>({ maxWaitersPerFlight: 2, overCap: "independent" });
    const { fn, calls } = controlled();
    const shared = [c.do("k", fn), c.do("k", fn)];
    const own1 = c.do("k", fn);
    const own2 = c.do("k", fn);
    assert.equal(calls.length, 3);
    assert.deepEqual([c.stats().independent, c.stats().flights, c.stats().keys], [2, 3, 1]);
    calls[1].resolve("own1");
    calls[2].resolve("own2");
    assert.deepEqual(await own1, { value: "own1", shared: false });
    assert.deepEqual(await own2, { value: "own2", shared: false });
    assert.equal(c.stats().keys, 1); // an independent run's end must not unmap the shared flight
    calls[0].resolve("v");
    for (const r of await Promise.all(shared)) assert.deepEqual(r, { value: "v", shared: true });
    assertIdle(c);
  },
);

Deno.test(
  "maxFlights reject: new keys are refused, joining still works (bug: unbounded map)",
  async () => {
    const c = new Coalescer<string>({ maxFlights: 2 });
    const { make, calls } = controlled();
    const a = c.do("a", make("a"));
    const b = c.do("b", make("b"));
    await assert.rejects(
      c.do("c", make("c")),
      (e: unknown) => e instanceof CapacityError && e.cap === "maxFlights" && e.limit === 2,
    );
    const a2 = c.do("a", make("a"));
    calls[0].resolve("A");
    await Promise.all([a, a2]);
    const cc = c.do("c", make("c")); // room again
    assert.deepEqual(calls.map((x) => x.key), ["a", "b", "c"]);
    calls[1].resolve("B");
    calls[2].resolve("C");
    assert.deepEqual((await Promise.all([b, cc])).map((r) => r.value), ["B", "C"]);
    assert.equal(c.stats().rejected.maxFlights, 1);
    assertIdle(c);
  },
);

Deno.test("maxFlights independent: past the cap each caller runs alone, never joined", async () => {
  const c = new Coalescer<string>({ maxFlights: 1, overCap: "independent" });
  const { make, calls } = controlled();
  const a = c.do("a", make("a"));
  const b1 = c.do("b", make("b"));
  const b2 = c.do("b", make("b"));
  assert.deepEqual(calls.map((x) => x.key), ["a", "b", "b"]);
  assert.deepEqual([c.stats().independent, c.stats().joins, c.stats().keys], [2, 0, 1]);
  calls.forEach((x, i) => x.resolve(`${x.key}${i}`));
  assert.deepEqual(await Promise.all([a, b1, b2]), [
    { value: "a0", shared: false },
    { value: "b1", shared: false },
    { value: "b2", shared: false },
  ]);
  assertIdle(c);
});

// --- concurrency limit ---------------------------------------------------------------------------

Deno.test(
  "maxConcurrentCalls queues flights, maxQueuedCalls bounds the queue (bug: DB overload)",
  async () => {
    const c = new Coalescer<string>({ maxConcurrentCalls: 2, maxQueuedCalls: 1 });
    const { make, calls } = controlled();
    const a = c.do("a", make("a"));
    const b = c.do("b", make("b"));
    const cc = c.do("c", make("c"));
    const c2 = c.do("c", make("c")); // joins the queued flight: no second queue place
    assert.deepEqual(calls.map((x) => x.key), ["a", "b"]);
    assert.deepEqual([c.stats().runningCalls, c.stats().queuedCalls, c.stats().joins], [2, 1, 1]);
    await assert.rejects(
      c.do("d", make("d")),
      (e: unknown) => e instanceof CapacityError && e.cap === "maxQueuedCalls" && e.limit === 1,
    );
    calls[0].resolve("A");
    await a;
    await ticks();
    assert.deepEqual(calls.map((x) => x.key), ["a", "b", "c"]);
    assert.equal(c.stats().queuedCalls, 0);
    calls[1].resolve("B");
    calls[2].resolve("C");
    assert.deepEqual((await Promise.all([b, cc, c2])).map((r) => r.value), ["B", "C", "C"]);
    assert.deepEqual([c.stats().calls, c.stats().rejected.maxQueuedCalls], [3, 1]);
    assertIdle(c);
  },
);

Deno.test(
  "an abandoned queued flight leaves the queue and never calls fn (bug: wasted queries)",
  async () => {
    const c = new Coalescer<string>({ maxConcurrentCalls: 1, maxQueuedCalls: 1 });
    const { make, calls } = controlled();
    const a = c.do("a", make("a"));
    const ac = new AbortController();
    const b = c.do("b", make("b"), { signal: ac.signal });
    ac.abort();
    await assert.rejects(b);
    assert.equal(c.stats().queuedCalls, 0);
    const d = c.do("d", make("d")); // b's queue place is free again
    calls[0].resolve("A");
    await a;
    await ticks();
    assert.deepEqual(calls.map((x) => x.key), ["a", "d"]);
    calls[1].resolve("D");
    await d;
    assertIdle(c);
  },
);

Deno.test(
  "a flight abandoned as its slot is handed over gives the slot back (bug: lost slot)",
  async () => {
    const limiter = new Limiter({ maxConcurrent: 1 });
    const c = new Coalescer<string>({ limiter });
    const { fn, calls } = controlled();
    const release = limiter.tryAcquire()!; // another coalescer's query holds the only slot
    const ac = new AbortController();
    const a = c.do("k", fn, { signal: ac.signal });
    release(); // hands the slot to the queued flight...
    ac.abort(); // ...which is abandoned before it can use it
    await assert.rejects(a);
    await ticks();
    assert.deepEqual([calls.length, limiter.running, limiter.queued], [0, 0, 0]);
    assertIdle(c);
  },
);

Deno.test("one coalescer serves several kinds of value under prefixed keys", async () => {
  const c = new Coalescer(); // Coalescer<unknown>: each call infers its own type
  const n: Promise<Coalesced<number>> = c.do("count:1", () => Promise.resolve(1));
  const t: Promise<Coalesced<string>> = c.do("text:1", () => Promise.resolve("one"));
  assert.deepEqual([(await n).value, (await t).value], [1, "one"]);
  assertIdle(c);
});

// --- disabled, scale, hooks ----------------------------------------------------------------------

Deno.test(
  "enabled: false runs fn for every caller, caps off, limiter on (benchmark baseline)",
  async () => {
    const c = new Coalescer<string>({
      enabled: false,
      maxWaitersPerFlight: 1,
      maxFlights: 1,
      maxConcurrentCalls: 2,
    });
    const { fn, calls } = controlled();
    const results = Array.from({ length: 3 }, () => c.do("k", fn));
    assert.equal(calls.length, 2); // the third is queued
    const { flights, keys, queuedCalls, joins } = c.stats();
    assert.deepEqual({ flights, keys, queuedCalls, joins }, {
      flights: 3,
      keys: 0,
      queuedCalls: 1,
      joins: 0,
    });
    calls[0].resolve("v0");
    calls[1].resolve("v1");
    await ticks();
    calls[2].resolve("v2");
    assert.deepEqual(
      await Promise.all(results),
      [0, 1, 2].map((i) => ({ value: `v${i}`, shared: false })),
    );
    assert.deepEqual([c.stats().independent, c.stats().rejected.maxFlights], [0, 0]);
    assertIdle(c);
  },
);

Deno.test("10,000 waiters share one call; half cancel and the rest are served", async () => {
  const c = new Coalescer<number>();
  const { fn, calls } = controlled<number>();
  const controllers = Array.from({ length: 10_000 }, () => new AbortController());
  const results = controllers.map((ac) => c.do("hot", fn, { signal: ac.signal }));
  assert.deepEqual([calls.length, c.stats().waiters, c.stats().joins], [1, 10_000, 9_999]);
  controllers.forEach((ac, i) => i % 2 && ac.abort());
  assert.equal(calls[0].signal.aborted, false);
  calls[0].resolve(42);
  const settled = await Promise.allSettled(results);
  settled.forEach((s, i) => {
    if (i % 2) assert.equal(s.status, "rejected");
    else assert.deepEqual(s, { status: "fulfilled", value: { value: 42, shared: true } });
  });
  assert.deepEqual([c.stats().calls, c.stats().cancels], [1, 5_000]);
  assertIdle(c);
});

Deno.test("10,000 plain waiters share one call", async () => {
  const c = new Coalescer<number>();
  const { fn, calls } = controlled<number>();
  const results = Array.from({ length: 10_000 }, () => c.do("hot", fn));
  calls[0].resolve(7);
  for (const r of await Promise.all(results)) assert.deepEqual(r, { value: 7, shared: true });
  assert.deepEqual([calls.length, c.stats().calls, c.stats().joins], [1, 1, 9_999]);
  assertIdle(c);
});

Deno.test(
  "onEvent sees each step; a throwing hook breaks nothing (bug: metrics break requests)",
  async () => {
    const events: CoalescerEvent[] = [];
    const c = new Coalescer<string>({
      maxWaitersPerFlight: 2,
      onEvent: (e) => {
        events.push(e);
        throw new Error("broken exporter");
      },
    });
    const { fn, calls } = controlled();
    const ac = new AbortController();
    const a = c.do("k", fn);
    const b = c.do("k", fn, { signal: ac.signal });
    await assert.rejects(c.do("k", fn), CapacityError);
    ac.abort();
    await assert.rejects(b);
    calls[0].resolve("v");
    assert.deepEqual(await a, { value: "v", shared: false });
    const end = events.at(-1) as Extract<CoalescerEvent, { type: "end" }>;
    assert.ok(end.durationMs >= 0);
    assert.deepEqual(events.map((e) => e.type), ["start", "join", "reject", "cancel", "end"]);
    assert.deepEqual(events.slice(1, 4), [
      { type: "join", key: "k", waiters: 2 },
      { type: "reject", key: "k", cap: "maxWaitersPerFlight" },
      { type: "cancel", key: "k" },
    ]);
    assert.deepEqual({ ...end, durationMs: 0 }, {
      type: "end",
      key: "k",
      end: "value",
      durationMs: 0,
      waiters: 1,
      called: true,
    });
    assertIdle(c);
  },
);

// --- validation and accounting -------------------------------------------------------------------

Deno.test("bad options throw clear RangeErrors (bug: a typo silently disables a bound)", () => {
  const bad: [CoalescerOptions, RegExp][] = [
    [{ flightTimeoutMs: 0 }, /flightTimeoutMs must be in 1\.\.2147483647 ms or Infinity, got 0/],
    [{ flightTimeoutMs: NaN }, /flightTimeoutMs/],
    [{ flightTimeoutMs: 2 ** 31 }, /flightTimeoutMs/], // setTimeout would fire at once
    [{ maxFlightAgeMs: -1 }, /maxFlightAgeMs/],
    [{ maxWaitersPerFlight: 0 }, /maxWaitersPerFlight must be an integer >= 1 or Infinity, got 0/],
    [{ maxWaitersPerFlight: 1.5 }, /maxWaitersPerFlight/],
    [{ maxFlights: 0 }, /maxFlights/],
    [{ overCap: "drop" as "reject" }, /overCap must be "reject" or "independent", got drop/],
    [{ maxConcurrentCalls: 0 }, /maxConcurrentCalls/],
    [{ maxConcurrentCalls: 1, maxQueuedCalls: -1 }, /maxQueuedCalls must be an integer >= 0/],
    [{ maxQueuedCalls: 10 }, /maxQueuedCalls needs maxConcurrentCalls/],
    [{ limiter: new Limiter({ maxConcurrent: 1 }), maxConcurrentCalls: 1 }, /either limiter/],
  ];
  for (const [options, message] of bad) {
    assert.throws(() => new Coalescer(options), { name: "RangeError", message });
  }
  const limits = { flightTimeoutMs: Infinity, maxConcurrentCalls: 1, maxQueuedCalls: 0 };
  assert.doesNotThrow(() => new Coalescer(limits));
});

Deno.test(
  "counters and gauges add up after a mixed run (bug: drifting metrics, leaked entries)",
  () =>
    withClock(async (clock) => {
      const c = new Coalescer<string>({
        flightTimeoutMs: 5000,
        maxFlightAgeMs: 1000,
        maxWaitersPerFlight: 3,
        maxConcurrentCalls: 2,
        maxQueuedCalls: 1,
      });
      const { make, calls } = controlled();
      const all: Promise<unknown>[] = [];
      const go = (key: string, signal?: AbortSignal) => {
        const p = c.do(key, make(key), { signal });
        p.catch(() => {}); // outcomes are checked through the counters
        all.push(p);
      };
      const ac = new AbortController();
      go("a"); // 1 start
      go("a");
      go("a", ac.signal); // 2 joins
      go("a"); // rejected: maxWaitersPerFlight
      go("b"); // 1 start: both slots taken
      go("c"); // 1 start, queued
      go("c"); // 1 join
      go("d"); // rejected: maxQueuedCalls
      go("e", AbortSignal.abort()); // cancelled up front
      ac.abort(); // 1 cancel
      await clock.tickAsync(1000);
      go("a"); // "a" is aged out, but the queue is full: rejected (maxQueuedCalls)
      calls[0].reject(new Error("a failed")); // a: error; frees a slot for c
      await ticks();
      await clock.tickAsync(4000); // b and c time out
      calls[1].resolve("late b"); // frees the slots
      calls[2].resolve("late c");
      await ticks();
      const bye = new AbortController();
      go("f", bye.signal); // 1 start, then abandoned: 1 cancel
      bye.abort();
      calls[3].reject(calls[3].signal.reason); // a well-behaved fn stops when aborted
      await Promise.allSettled(all);
      assert.equal(clock.countTimers(), 0);
      assert.deepEqual(c.stats(), {
        calls: 4,
        joins: 3,
        independent: 0,
        errors: 1,
        timeouts: 2,
        cancels: 3,
        abandoned: 1,
        dropped: 0,
        aged: 1,
        rejected: { maxWaitersPerFlight: 1, maxFlights: 0, maxQueuedCalls: 2, maxQueueWait: 0 },
        flights: 0,
        keys: 0,
        waiters: 0,
        runningCalls: 0,
        queuedCalls: 0,
      });
    }),
);

// --- deadlines and overload: no query for nobody, quick shedding ---------------------------------

const isDeadline = (e: unknown) => e instanceof ConnectError && e.code === Code.DeadlineExceeded;

Deno.test(
  "a queued flight whose caller's deadline passed never calls fn, even when the slot is handed " +
    "over before the deadline timer fires (bug: a query nobody will read)",
  () =>
    withClock(async (clock) => {
      const c = new Coalescer<string>({ maxConcurrentCalls: 1 });
      const { make, calls } = controlled();
      const running = c.do("a", make("a")); // holds the only slot
      // Deadline at 95 ms; the shared coarse timer fires at the end of its slot (100 ms).
      const deadline = new CallSignal(95);
      assert.equal(Math.ceil(deadline.at / SLOT_MS) * SLOT_MS, 100);
      const late = track(c.do("b", make("b"), { signal: deadline }));
      const next = c.do("c", make("c")); // queued behind b, no deadline
      await clock.tickAsync(97); // the deadline has passed; its timer has not fired
      assert.equal(late.state, "pending", "the timer has not fired yet");
      assert.equal(c.stats().queuedCalls, 2);
      calls[0].resolve("A"); // the slot goes to b now, as its deadline has just passed
      await ticks();
      assert.deepEqual(calls.map((x) => x.key), ["a", "c"], "b's fn never ran; c got the slot");
      assert.equal(late.state, "rejected");
      assert.ok(isDeadline(late.error), String(late.error));
      const s = c.stats();
      assert.deepEqual([s.calls, s.dropped, s.abandoned], [2, 1, 1]);
      calls[1].resolve("C");
      assert.equal((await next).value, "C");
      assert.equal((await running).value, "A");
      await clock.tickAsync(SLOT_MS);
      assertIdle(c);
    }),
);

Deno.test(
  "a queued flight still starts for a waiter whose deadline has not passed (bug: over-eager drop)",
  () =>
    withClock(async (clock) => {
      const c = new Coalescer<string>({ maxConcurrentCalls: 1 });
      const { make, calls } = controlled();
      const running = c.do("a", make("a"));
      const expired = track(c.do("b", make("b"), { signal: new CallSignal(50) }));
      const alive = c.do("b", make("b"), { signal: new CallSignal(5000) }); // joins b
      await clock.tickAsync(55); // the first deadline passed, its timer fired
      assert.ok(isDeadline(expired.error));
      calls[0].resolve("A");
      await ticks();
      assert.deepEqual(calls.map((x) => x.key), ["a", "b"]);
      calls[1].resolve("B");
      assert.equal((await alive).value, "B");
      await running;
      assert.equal(c.stats().dropped, 0);
    }),
);

Deno.test(
  "a queued flight whose only caller's deadline fires leaves the queue at once (bug: a slot for nobody)",
  () =>
    withClock(async (clock) => {
      const c = new Coalescer<string>({ maxConcurrentCalls: 1, maxQueuedCalls: 1 });
      const { make, calls } = controlled();
      const running = c.do("a", make("a"));
      const late = track(c.do("b", make("b"), { signal: new CallSignal(20) }));
      await clock.tickAsync(30);
      assert.ok(isDeadline(late.error));
      assert.equal(c.stats().queuedCalls, 0, "its queue place is free");
      const next = c.do("c", make("c")); // would be refused if b still held the place
      calls[0].resolve("A");
      await ticks();
      assert.deepEqual(calls.map((x) => x.key), ["a", "c"]);
      calls[1].resolve("C");
      await Promise.all([running, next]);
      assert.equal(c.stats().dropped, 1);
    }),
);

Deno.test(
  "under overload a new key is refused at once while reads of a key in flight still join it " +
    "(bug: shedding coalesced reads, or queueing new ones to their deadline)",
  async () => {
    const c = new Coalescer<string>({ maxConcurrentCalls: 1, maxQueuedCalls: 1 });
    const { make, calls } = controlled();
    const running = c.do("a", make("a"));
    const queued = c.do("b", make("b"));
    const refused = track(c.do("c", make("c")));
    await ticks(2);
    assert.equal(refused.state, "rejected", "refused without waiting for anything");
    assert.ok(refused.error instanceof CapacityError);
    assert.equal((refused.error as CapacityError).cap, "maxQueuedCalls");
    const joiners = [c.do("a", make("a")), c.do("b", make("b"))]; // join: no slot needed
    assert.equal(c.stats().joins, 2);
    calls[0].resolve("A");
    await ticks();
    calls[1].resolve("B");
    const values = (await Promise.all([running, queued, ...joiners])).map((r) => r.value);
    assert.deepEqual(values, ["A", "B", "A", "B"]);
    assert.equal(c.limiter?.shed, 1);
  },
);

Deno.test("errors that mean overload lower an adaptive limit; others do not", async () => {
  const samples: boolean[] = [];
  const limiter = new Limiter({
    maxConcurrent: 8,
    algorithm: { limit: 8, onSample: (_r, _i, dropped) => (samples.push(dropped), 8) },
  });
  const overload = new Error("overloaded");
  const c = new Coalescer<string>({ limiter, isOverload: (e) => e === overload });
  const { make, calls } = controlled();
  const results = [c.do("a", make()), c.do("b", make()), c.do("c", make())];
  calls[0].resolve("ok");
  calls[1].reject(overload);
  calls[2].reject(new Error("bad request"));
  await Promise.allSettled(results);
  assert.deepEqual(samples, [false, true], "the other error is not a sample");
});
