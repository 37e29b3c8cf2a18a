// The adaptive limit is a pure function of its samples: each test feeds a latency story from a
// simulated backend and checks where the limit goes. Each name says the bug it guards against.
import assert from "node:assert/strict";
import { VegasLimit, type VegasLimitOptions } from "./adaptive_limit.ts";

/** A limit whose no-load RTT is never re-learned unless a test asks (no probe in the window). */
const vegas = (o: Partial<VegasLimitOptions> = {}) =>
  new VegasLimit({ min: 4, max: 256, initial: 16, probeMultiplier: 1e6, ...o });

/**
 * A backend that serves `capacity` queries at once in `baseMs`; past that they queue inside it
 * and each takes `baseMs * inflight / capacity` (Little's law). The limiter is kept saturated.
 * Returns the limit after each tenth of the `n` samples.
 */
function simulate(g: VegasLimit, n: number, capacity: number, baseMs = 2): number[] {
  const seen: number[] = [];
  for (let i = 1; i <= n; i++) {
    const inflight = g.limit;
    g.onSample(baseMs * Math.max(1, inflight / capacity), inflight, false);
    if (i % (n / 10) === 0) seen.push(g.limit);
  }
  return seen;
}

Deno.test("nothing queues: the limit grows to the ceiling (bug: stuck at the start value)", () => {
  const g = vegas();
  simulate(g, 2000, 10_000);
  assert.equal(g.limit, 256);
});

Deno.test(
  "the limit settles just past what the backend serves without queueing (bug: fills its queue)",
  () => {
    const g = vegas();
    const seen = simulate(g, 5000, 32);
    const settled = seen.slice(5);
    // A fixed limit of 256 would keep 224 queries queued inside the backend.
    for (const l of settled) assert.ok(l >= 32 && l <= 64, `settled at ${seen.join(", ")}`);
  },
);

Deno.test("a backend that slows down gets a lower limit, and a higher one when it recovers", () => {
  const g = vegas();
  const normal = simulate(g, 3000, 64).at(-1)!;
  const slow = simulate(g, 3000, 8).at(-1)!; // e.g. compaction, or a write storm on its disks
  const recovered = simulate(g, 3000, 64).at(-1)!;
  assert.ok(slow < normal / 2, `${normal} -> ${slow}`);
  assert.ok(slow >= 8, `limit collapsed to ${slow}`);
  assert.ok(recovered > slow * 2, `${slow} -> ${recovered}`);
});

Deno.test(
  "a backend that became slower for good is re-learned by the probe (bug: mistaken for queueing)",
  () => {
    // Base latency 2 ms, then 8 ms without any queueing (e.g. a remote data center).
    const probing = vegas({ probeMultiplier: 5, random: () => 1 });
    const never = vegas();
    for (const g of [probing, never]) {
      simulate(g, 2000, 10_000, 2);
      simulate(g, 4000, 10_000, 8);
    }
    assert.equal(probing.limit, 256);
    assert.ok(never.limit < 64, `without a probe the limit is ${never.limit}`);
  },
);

Deno.test("a dropped query multiplies the limit by 0.9 at once (bug: timeouts ignored)", () => {
  const g = vegas({ initial: 100 });
  assert.equal(g.onSample(3, 100, true), 90);
  assert.equal(g.onSample(3, 90, true), 81);
  for (let i = 0; i < 100; i++) g.onSample(3, g.limit, true);
  assert.equal(g.limit, 4, "never below the floor");
});

Deno.test("while under half the slots are used the limit holds (bug: grows while idle)", () => {
  const g = vegas({ initial: 64 });
  for (let i = 0; i < 1000; i++) g.onSample(i % 2 ? 2 : 50, 10, false);
  assert.equal(g.limit, 64);
});

Deno.test("options are validated with clear RangeErrors", () => {
  assert.throws(() => new VegasLimit({ min: 0, max: 10 }), /min must be an integer >= 1/);
  assert.throws(() => new VegasLimit({ min: 8, max: 4 }), /max must be an integer >= min/);
  assert.throws(() => new VegasLimit({ min: 1, max: 4, backoff: 1 }), /backoff/);
  assert.throws(() => new VegasLimit({ min: 1, max: 4, rttWindow: 0 }), /rttWindow/);
  assert.equal(new VegasLimit({ min: 1, max: 10 }).limit, 10, "initial clamped to max");
  assert.equal(new VegasLimit({ min: 50, max: 100 }).limit, 50, "initial clamped to min");
});
