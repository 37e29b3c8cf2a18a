import assert from "node:assert/strict";
import {
  counterDelta,
  histogram,
  median,
  niceStep,
  percentile,
  restartedBetween,
  summarize,
} from "./stats.ts";

Deno.test("percentile: nearest rank, p in 0..100", () => {
  const xs = Array.from({ length: 100 }, (_, i) => i + 1); // 1..100
  assert.equal(percentile(xs, 50), 50);
  assert.equal(percentile(xs, 90), 90);
  assert.equal(percentile(xs, 99), 99);
  assert.equal(percentile(xs, 100), 100);
  assert.equal(percentile(xs, 0), 1);
  assert.equal(percentile([1, 2, 3, 4], 50), 2);
  assert.equal(percentile([1, 2, 3, 4], 90), 4);
  assert.equal(percentile([7], 99), 7);
});

Deno.test("no values: every statistic is undefined, never NaN", () => {
  assert.equal(percentile([], 50), undefined);
  assert.equal(summarize([]), undefined);
  assert.equal(median([]), undefined);
  assert.deepEqual(histogram([]), []);
});

Deno.test("summarize sorts a copy and reports min/mean/p50/p90/p99/max", () => {
  const samples = [5, 1, 4, 2, 3];
  assert.deepEqual(summarize(samples), {
    count: 5,
    min: 1,
    mean: 3,
    p50: 3,
    p90: 5,
    p99: 5,
    max: 5,
  });
  assert.deepEqual(samples, [5, 1, 4, 2, 3], "input untouched");
  const xs = Float64Array.from({ length: 1000 }, (_, i) => 1000 - i);
  assert.deepEqual(summarize(xs), {
    count: 1000,
    min: 1,
    mean: 500.5,
    p50: 500,
    p90: 900,
    p99: 990,
    max: 1000,
  });
});

Deno.test("median of odd and even counts", () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
});

Deno.test("histogram: nice-width bars from min to max, every value counted once", () => {
  const h = histogram([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 5);
  assert.deepEqual(h.map((b) => [b.fromMs, b.toMs, b.count]), [
    [0, 2, 2],
    [2, 4, 2],
    [4, 6, 2],
    [6, 8, 2],
    [8, 10, 3], // the last bar includes the max
  ]);
  const samples = [0, 0.4, 1, 9.99, 10, 19.9, 20];
  const h2 = histogram(samples, 10);
  assert.equal(h2[0].toMs - h2[0].fromMs, 2);
  assert.equal(h2.reduce((s, b) => s + b.count, 0), samples.length);
  assert.equal(h2.at(-1)!.toMs, 20);
  assert.equal(h2.at(-1)!.count, 2, "the max lands in the last bar");
  // Bars start at a multiple of the width at or below the smallest value.
  assert.deepEqual(histogram([103, 180, 250], 3).map((b) => b.fromMs), [100, 150, 200]);
  assert.deepEqual(histogram([3, 3, 3]), [{ fromMs: 3, toMs: 3, count: 3 }]);
});

Deno.test("niceStep rounds up to 1, 2 or 5 times a power of ten", () => {
  assert.equal(niceStep(0.3), 0.5);
  assert.equal(niceStep(1), 1);
  assert.equal(niceStep(1.1), 2);
  assert.equal(niceStep(3), 5);
  assert.equal(niceStep(7), 10);
  assert.equal(niceStep(120), 200);
});

const reading = (requests: number, queries: number, startedAtMs = 1000) => ({
  requests,
  queries,
  coalesced: requests - queries,
  errors: 0,
  rejected: 0,
  startedAtMs,
});

Deno.test("counterDelta subtracts readings of the same process", () => {
  const d = counterDelta(reading(100, 40), reading(5100, 132));
  assert.equal(d.restarted, false);
  assert.deepEqual(d.counters, {
    requests: 5000,
    queries: 92,
    coalesced: 4908,
    errors: 0,
    rejected: 0,
  });
});

Deno.test("the restart rule: a new start time or a counter going down counts from the restart", () => {
  assert.equal(restartedBetween(reading(500, 50), reading(30, 3, 9000)), true);
  assert.equal(restartedBetween(reading(500, 50), reading(600, 40)), true, "queries went down");
  assert.equal(restartedBetween(reading(500, 50), reading(500, 50)), false);
  const d = counterDelta(reading(500, 50), reading(30, 3, 9000));
  assert.equal(d.restarted, true);
  assert.equal(d.counters.requests, 30);
  assert.equal(d.counters.queries, 3);
});
