// Token buckets per channel, on a clock the test moves. Each name says the bug it guards against.
import assert from "node:assert/strict";
import { WriteBuckets } from "./write_buckets.ts";

function buckets(o: { rate?: number; burst?: number; max?: number } = {}) {
  const clock = { t: 0 };
  const b = new WriteBuckets({
    ratePerSec: o.rate ?? 10,
    burst: o.burst ?? 3,
    maxBuckets: o.max ?? 100,
    now: () => clock.t,
  });
  return { b, clock };
}

Deno.test("a channel writes its burst at once, then at the rate (bug: a storm passes)", () => {
  const { b, clock } = buckets({ rate: 10, burst: 3 });
  assert.deepEqual([1, 2, 3].map(() => b.take(1n)), [0, 0, 0]);
  assert.equal(b.take(1n), 100, "the next token in 100 ms at 10/s");
  clock.t = 50;
  assert.equal(b.take(1n), 50, "half a token there: 50 ms more");
  clock.t = 100;
  assert.equal(b.take(1n), 0);
  assert.equal(b.take(1n), 100);
  assert.equal(b.throttled, 3);
});

Deno.test("channels have buckets of their own (bug: one hot channel throttles all)", () => {
  const { b } = buckets({ burst: 1 });
  assert.equal(b.take(1n), 0);
  assert.ok(b.take(1n) > 0);
  assert.equal(b.take(2n), 0, "another channel is not affected");
});

Deno.test("a bucket refills to its burst, not beyond (bug: idle time banks a bigger storm)", () => {
  const { b, clock } = buckets({ rate: 10, burst: 3 });
  b.take(1n);
  clock.t = 60_000;
  assert.deepEqual([1, 2, 3, 4].map(() => b.take(1n) === 0), [true, true, true, false]);
});

Deno.test("idle buckets are dropped as writes pass; memory is bounded (bug: one per channel ever)", () => {
  const { b, clock } = buckets({ rate: 10, burst: 2, max: 1000 });
  for (let c = 1n; c <= 500n; c++) {
    b.take(c);
    clock.t += 10; // a full bucket takes 100 ms to refill from 1 token
  }
  assert.ok(b.size <= 20, `${b.size} buckets kept for 500 channels written once each`);
  const busy = buckets({ rate: 0.001, burst: 5, max: 10 });
  for (let c = 1n; c <= 100n; c++) busy.b.take(c);
  assert.equal(busy.b.size, 10, "past maxBuckets the least recently used goes");
});

Deno.test("options are validated", () => {
  const ok = { ratePerSec: 1, burst: 1, maxBuckets: 1 };
  assert.throws(() => new WriteBuckets({ ...ok, ratePerSec: 0 }), /ratePerSec must be > 0/);
  assert.throws(() => new WriteBuckets({ ...ok, burst: 0.5 }), /burst must be an integer >= 1/);
  assert.throws(() => new WriteBuckets({ ...ok, maxBuckets: 0 }), /maxBuckets/);
});
