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
