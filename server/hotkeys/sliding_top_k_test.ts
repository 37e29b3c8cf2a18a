// Windows of the top-K: what they cover, that old slices leave, and the error bound of merged
// views against exact counts per window. The clock is a number the test moves.
import assert from "node:assert/strict";
import { seededRandom, zipf } from "../../lib/zipf.ts";
import { SlidingTopK } from "./sliding_top_k.ts";

function setup(capacity = 16) {
  const clock = { t: 0 };
  const w = new SlidingTopK<number>({
    capacity,
    shortSlices: 5,
    longSlices: 30,
    now: () => clock.t,
  });
  const add = (key: number, n = 1) => {
    for (let i = 0; i < n; i++) {
      w.totals.events++;
      w.current.add(key);
    }
  };
  /** Ends a slice of 2 s. */
  const tick = () => {
    clock.t += 2000;
    w.rotate();
  };
  return { w, add, tick, clock };
}

Deno.test("the short window forgets a key once its slices are older than 5 slices", () => {
  const { w, add, tick } = setup();
  add(7, 100);
  tick();
  assert.equal(w.view("short", 5).top[0].key, 7);
  for (let i = 0; i < 4; i++) tick();
  assert.equal(w.view("short", 5).top[0]?.count, 100, "still inside: 5 slices back");
  tick();
  assert.deepEqual(w.view("short", 5).top, [], "gone after the 6th rotation");
  assert.equal(w.view("long", 5).top[0].key, 7, "the long window still has it");
});

Deno.test("spanMs says what a view covers: 10-12 s short, up to ~5 min long", () => {
  const { w, tick, clock } = setup();
  for (let i = 0; i < 200; i++) tick();
  clock.t += 1000; // halfway through the current slice
  assert.equal(w.view("short", 1).spanMs, 11_000);
  const long = w.view("long", 1).spanMs;
  assert.ok(long >= 300_000 && long <= 312_000, `long span ${long}`);
});

Deno.test("a storm on one key names it first within one slice; totals are exact", () => {
  const { w, add, tick } = setup(8);
  const random = seededRandom(1);
  for (let s = 0; s < 6; s++) {
    for (let i = 0; i < 2000; i++) add(1 + Math.floor(random() * 5000)); // background
    if (s === 5) add(424242, 3000); // the storm starts in the current slice
    if (s < 5) tick();
  }
  const view = w.view("short", 3);
  assert.equal(view.top[0].key, 424242);
  assert.ok(view.top[0].count - view.top[0].error <= 3000 && view.top[0].count >= 3000);
  assert.equal(view.totals.events, 5 * 2000 + 2000 + 3000);
});

/** Zipf traffic over many slices, with exact counts kept per slice. */
function zipfRun(slices: number, perSlice: number, capacity: number) {
  const { w, add, tick } = setup(capacity);
  const next = zipf(50_000, 1.05, seededRandom(99));
  const exact: Map<number, number>[] = [];
  for (let s = 0; s < slices; s++) {
    const counts = new Map<number, number>();
    for (let i = 0; i < perSlice; i++) {
      const k = next();
      add(k);
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    exact.push(counts);
    if (s < slices - 1) tick();
  }
  /** Exact counts over the last `n` slices. */
  const over = (n: number) => {
    const total = new Map<number, number>();
    for (const c of exact.slice(-n)) for (const [k, v] of c) total.set(k, (total.get(k) ?? 0) + v);
    return total;
  };
  return { w, over };
}

Deno.test("short window on Zipf traffic: lower <= true <= upper, gap <= N/m", () => {
  const { w, over } = zipfRun(12, 5000, 32);
  const view = w.view("short", 32);
  const truth = over(6); // 5 frozen slices + the current one
  const n = view.totals.events;
  assert.equal(n, 30_000);
  assert.ok(view.maxError <= n / 32, `maxError ${view.maxError} > N/m ${n / 32}`);
  for (const t of view.top) {
    const f = truth.get(t.key) ?? 0;
    assert.ok(t.count - t.error <= f && f <= t.count, `key ${t.key}: ${f} not in bounds`);
    assert.ok(t.error <= view.maxError);
  }
  const heavy = [...truth].filter(([, f]) => f > n / 32).map(([k]) => k);
  const listed = new Set(view.top.map((t) => t.key));
  for (const k of heavy) assert.ok(listed.has(k), `key ${k} over N/m is missing`);
});

Deno.test("long window on Zipf traffic (folded slices): bounds hold, gap <= 2N/m", () => {
  const { w, over } = zipfRun(80, 2000, 32); // 16 folds, 0 unfolded fine slices + current
  const view = w.view("long", 32);
  const truth = over(80);
  const n = view.totals.events;
  assert.equal(n, 160_000);
  assert.ok(view.maxError <= (2 * n) / 32, `maxError ${view.maxError} > 2N/m`);
  for (const t of view.top) {
    const f = truth.get(t.key) ?? 0;
    assert.ok(t.count - t.error <= f && f <= t.count, `key ${t.key}: ${f} not in bounds`);
  }
  const top5 = [...truth].sort((a, b) => b[1] - a[1]).slice(0, 5).map(([k]) => k);
  assert.deepEqual(view.top.slice(0, 5).map((t) => t.key), top5);
});

Deno.test("memory: tallies retained stay bounded however many slices and keys pass", () => {
  const { w, add, tick } = setup(16);
  let key = 0;
  for (let s = 0; s < 400; s++) {
    for (let i = 0; i < 500; i++) add(key++);
    tick();
  }
  assert.ok(w.retained <= (1 + 5 + 30) * 16, `${w.retained} tallies`);
});

Deno.test("window sizes are validated", () => {
  assert.throws(() => new SlidingTopK({ shortSlices: 0 }), /shortSlices must be an integer >= 1/);
  assert.throws(() => new SlidingTopK({ longSlices: 1.5 }), /longSlices/);
});
