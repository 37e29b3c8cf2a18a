// Each test names the bug it guards against; the test controls timing, nothing sleeps.
import assert from "node:assert/strict";
import { CapacityError, Limiter } from "./limiter.ts";

Deno.test("tryAcquire takes free slots only (bug: more queries than maxConcurrent)", () => {
  const limiter = new Limiter({ maxConcurrent: 2 });
  const a = limiter.tryAcquire();
  const b = limiter.tryAcquire();
  assert.ok(a && b);
  assert.equal(limiter.tryAcquire(), undefined);
  assert.equal(limiter.running, 2);
  a();
  assert.equal(limiter.running, 1);
  assert.ok(limiter.tryAcquire());
});

Deno.test(
  "a freed slot goes to the oldest waiter (bug: starvation, or a newcomer jumps in)",
  async () => {
    const limiter = new Limiter({ maxConcurrent: 1 });
    const first = limiter.tryAcquire()!;
    const order: string[] = [];
    const w1 = limiter.acquire().then((r) => (order.push("w1"), r));
    const w2 = limiter.acquire().then((r) => (order.push("w2"), r));
    assert.equal(limiter.queued, 2);
    first();
    assert.equal(limiter.tryAcquire(), undefined); // handed over, not freed
    (await w1)();
    (await w2)();
    assert.deepEqual(order, ["w1", "w2"]);
    assert.deepEqual([limiter.running, limiter.queued], [0, 0]);
  },
);

Deno.test("releasing twice frees one slot (bug: a double release breaks the bound)", () => {
  const limiter = new Limiter({ maxConcurrent: 1 });
  const release = limiter.tryAcquire()!;
  release();
  release();
  assert.equal(limiter.running, 0);
  assert.ok(limiter.tryAcquire());
  assert.equal(limiter.tryAcquire(), undefined);
});

Deno.test(
  "a full queue rejects with CapacityError (bug: an unbounded queue under overload)",
  async () => {
    const limiter = new Limiter({ maxConcurrent: 1, maxQueued: 1 });
    const release = limiter.tryAcquire()!;
    assert.equal(limiter.full, false);
    const queued = limiter.acquire();
    assert.equal(limiter.full, true);
    await assert.rejects(limiter.acquire(), (e: unknown) => {
      assert.ok(e instanceof CapacityError);
      assert.deepEqual([e.name, e.cap, e.limit], ["CapacityError", "maxQueuedCalls", 1]);
      return true;
    });
    release();
    (await queued)();
    const none = new Limiter({ maxConcurrent: 1, maxQueued: 0 });
    none.tryAcquire();
    assert.equal(none.full, true);
    await assert.rejects(none.acquire(), CapacityError);
  },
);

Deno.test(
  "an aborted waiter leaves the queue (bug: slots handed to callers who left)",
  async () => {
    const limiter = new Limiter({ maxConcurrent: 1, maxQueued: 1 });
    const release = limiter.tryAcquire()!;
    const ac = new AbortController();
    const left = limiter.acquire(ac.signal);
    const reason = new Error("caller gone");
    ac.abort(reason);
    await assert.rejects(left, (e) => e === reason);
    assert.equal(limiter.queued, 0);
    const next = limiter.acquire(); // its queue place is free again
    release();
    (await next)();
    assert.deepEqual([limiter.running, limiter.queued], [0, 0]);
  },
);

Deno.test("an already-aborted signal takes nothing, even with a free slot", async () => {
  const limiter = new Limiter({ maxConcurrent: 1 });
  const reason = new Error("late");
  await assert.rejects(limiter.acquire(AbortSignal.abort(reason)), (e) => e === reason);
  assert.equal(limiter.running, 0);
});

Deno.test(
  "the abort listener is removed once the slot is handed over (bug: listener leak)",
  async () => {
    const { signal } = new AbortController();
    let live = 0;
    const add = signal.addEventListener.bind(signal);
    const remove = signal.removeEventListener.bind(signal);
    signal.addEventListener =
      ((...args: Parameters<typeof add>) => (live++, add(...args))) as typeof add;
    signal.removeEventListener =
      ((...args: Parameters<typeof remove>) => (live--, remove(...args))) as typeof remove;
    const limiter = new Limiter({ maxConcurrent: 1 });
    for (let i = 0; i < 10; i++) {
      const release = limiter.tryAcquire()!;
      const waiting = limiter.acquire(signal);
      assert.equal(live, 1);
      release();
      (await waiting)();
      assert.equal(live, 0);
    }
    assert.equal(limiter.running, 0);
  },
);

Deno.test("options are validated with clear RangeErrors", () => {
  assert.throws(() => new Limiter({ maxConcurrent: 0 }), {
    name: "RangeError",
    message: "maxConcurrent must be an integer >= 1 or Infinity, got 0",
  });
  assert.throws(() => new Limiter({ maxConcurrent: 1.5 }), RangeError);
  assert.throws(() => new Limiter({ maxConcurrent: 1, maxQueued: -1 }), RangeError);
  assert.throws(() => new Limiter({ maxConcurrent: 1, maxQueued: NaN }), RangeError);
  assert.equal(new Limiter({ maxConcurrent: Infinity }).maxQueued, Infinity);
});

// --- adjustable and adaptive limits, shedding --------------------------------------------------

/** A clock the test moves by hand. */
function manualClock() {
  const c = { t: 0, now: () => c.t };
  return c;
}

Deno.test("raising the limit hands slots to waiters at once (bug: they wait for a release)", async () => {
  const limiter = new Limiter({ maxConcurrent: 10 });
  limiter.setLimit(1);
  const first = limiter.tryAcquire()!;
  const waiters = [limiter.acquire(), limiter.acquire(), limiter.acquire()];
  assert.deepEqual([limiter.running, limiter.queued], [1, 3]);
  limiter.setLimit(3);
  assert.deepEqual([limiter.running, limiter.queued], [3, 1]);
  const [a, b] = await Promise.all(waiters.slice(0, 2));
  limiter.setLimit(100);
  assert.equal(limiter.limit, 10, "clamped to maxConcurrent");
  for (const r of [first, a, b, await waiters[2]]) r();
  assert.deepEqual([limiter.running, limiter.queued], [0, 0]);
});

Deno.test("lowering the limit takes effect as holders leave (bug: more than the limit run)", async () => {
  const limiter = new Limiter({ maxConcurrent: 4 });
  const held = [1, 2, 3, 4].map(() => limiter.tryAcquire()!);
  const next = limiter.acquire();
  limiter.setLimit(2);
  held[0]();
  held[1]();
  assert.deepEqual([limiter.running, limiter.queued], [2, 1], "not handed over: 2 still run");
  held[2]();
  assert.equal(limiter.running, 2, "handed over at the limit");
  (await next)();
  held[3]();
  assert.deepEqual([limiter.running, limiter.queued], [0, 0]);
});

Deno.test("holders' times feed the algorithm; ignored outcomes do not (bug: blind limit)", () => {
  const clock = manualClock();
  const samples: [number, number, boolean][] = [];
  const algorithm = {
    limit: 2,
    onSample(rtt: number, inflight: number, dropped: boolean) {
      samples.push([rtt, inflight, dropped]);
      return this.limit = dropped ? 1 : 3;
    },
  };
  const limiter = new Limiter({ maxConcurrent: 8, algorithm, now: clock.now });
  assert.equal(limiter.limit, 2);
  const a = limiter.tryAcquire()!;
  const b = limiter.tryAcquire()!;
  clock.t = 5;
  a("ok");
  assert.equal(limiter.limit, 3);
  clock.t = 12;
  b("dropped");
  assert.equal(limiter.limit, 1);
  limiter.tryAcquire()!("ignored");
  assert.deepEqual(samples, [[5, 2, false], [12, 1, true]]);
  assert.equal(limiter.rttMs, 5 + (12 - 5) * 0.1);
});

Deno.test(
  "a caller whose estimated wait is over maxQueueWaitMs is refused at once (bug: waits to time out)",
  async () => {
    const clock = manualClock();
    const limiter = new Limiter({ maxConcurrent: 1, maxQueueWaitMs: 250, now: clock.now });
    assert.equal(limiter.refusal(), undefined, "a free slot");
    const warm = limiter.tryAcquire()!;
    clock.t = 100;
    warm(); // one sample: a slot is held about 100 ms
    const running = limiter.tryAcquire()!;
    const queued = [limiter.acquire(), limiter.acquire()]; // waits of ~100 and ~200 ms
    const refused = limiter.refusal();
    assert.ok(refused instanceof CapacityError);
    assert.equal(refused.cap, "maxQueueWait");
    assert.match(refused.message, /estimated wait 300 ms: 2 queued, limit 1/);
    await assert.rejects(limiter.acquire(), (e) => e instanceof CapacityError);
    assert.equal(limiter.shed, 2);
    assert.equal(limiter.queued, 2, "the refused callers never queued");
    running();
    for (const q of queued) (await q)();
  },
);

Deno.test(
  "a queue shorter than the limit is never refused for its wait (bug: reads refused behind a killed node's slow queries)",
  async () => {
    const clock = manualClock();
    const limiter = new Limiter({ maxConcurrent: 4, maxQueueWaitMs: 250, now: clock.now });
    const warm = limiter.tryAcquire()!;
    clock.t = 2000;
    warm(); // slots are held 2 s: a node that stopped answering
    const running = [1, 2, 3, 4].map(() => limiter.tryAcquire()!);
    const queued = [1, 2, 3].map(() => limiter.acquire()); // 3 queued < limit 4
    assert.equal(limiter.refusal(), undefined, "3 queued behind a limit of 4 wait their turn");
    const fourth = limiter.acquire();
    const refused = limiter.refusal();
    assert.ok(refused instanceof CapacityError, "a full round queued: refused");
    assert.equal(refused.cap, "maxQueueWait");
    for (const r of running) r();
    for (const q of [...queued, fourth]) (await q)();
  },
);

Deno.test(
  "a burst whose holders have not finished is shed before the queue is full (bug: no wait estimate before the first sample, so 50k distinct reads were refused only once 2,048 had queued)",
  async () => {
    const clock = manualClock();
    const limiter = new Limiter({
      maxConcurrent: 2,
      maxQueued: 1000,
      maxQueueWaitMs: 100,
      now: clock.now,
    });
    const running = [limiter.tryAcquire()!, limiter.tryAcquire()!]; // at t = 0, never finished
    const queued = [limiter.acquire(), limiter.acquire()];
    assert.equal(limiter.rttMs, undefined, "no hold has finished yet");
    clock.t = 60; // held 60 ms each: (2 + 1) x 60 / 2 = 90 ms <= 100
    assert.equal(limiter.refusal(), undefined);
    clock.t = 80; // (2 + 1) x 80 / 2 = 120 ms > 100
    const refused = limiter.refusal();
    assert.ok(refused instanceof CapacityError);
    assert.equal(refused.cap, "maxQueueWait");
    assert.match(refused.message, /estimated wait 120 ms: 2 queued, limit 2/);
    running[0](); // a hold ends and its slot goes to the oldest waiter at t = 80
    assert.equal(limiter.refusal(), undefined, "a slot was just handed out: no stall");
    running[1]();
    for (const q of queued) (await q)();
  },
);
