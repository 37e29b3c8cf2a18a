// The space-saving guarantees, checked against exact counts on skewed and uniform streams,
// and memory that stays flat with a million distinct keys.
import assert from "node:assert/strict";
import { seededRandom, zipf } from "../../lib/zipf.ts";
import { SpaceSaving } from "./space_saving.ts";

/** Feeds `n` events from `next` into a sketch of `m` counters and into an exact count. */
function run(m: number, n: number, next: () => number) {
  const sketch = new SpaceSaving<number>(m);
  const exact = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const k = next();
    sketch.add(k);
    exact.set(k, (exact.get(k) ?? 0) + 1);
  }
  return { sketch, exact };
}

/** Checks every guarantee of space-saving; returns the bound N/m. */
function assertGuarantees(sketch: SpaceSaving<number>, exact: Map<number, number>): number {
  const n = sketch.total;
  const bound = n / sketch.capacity;
  const tallies = sketch.tallies();
  assert.equal(tallies.length, Math.min(sketch.capacity, exact.size));
  assert.equal(tallies.reduce((s, t) => s + t.count, 0), n, "counts add up to N");
  for (const t of tallies) {
    const f = exact.get(t.key) ?? 0;
    assert.ok(t.count >= f, `key ${t.key}: count ${t.count} < true ${f}`);
    assert.ok(t.count - t.error <= f, `key ${t.key}: lower bound ${t.count - t.error} > ${f}`);
    assert.ok(t.error <= bound, `key ${t.key}: error ${t.error} > N/m ${bound}`);
  }
  assert.ok(sketch.floor <= bound, `floor ${sketch.floor} > N/m`);
  const monitored = new Set(tallies.map((t) => t.key));
  for (const [k, f] of exact) {
    if (f > bound) assert.ok(monitored.has(k), `key ${k} (f=${f} > N/m=${bound}) is missing`);
  }
  for (let i = 1; i < tallies.length; i++) assert.ok(tallies[i - 1].count >= tallies[i].count);
  return bound;
}

Deno.test("Zipf stream: error <= N/m, every key over N/m monitored, the head in true order", () => {
  const { sketch, exact } = run(64, 200_000, zipf(100_000, 1.1, seededRandom(7)));
  assertGuarantees(sketch, exact);
  const bound = sketch.total / sketch.capacity;
  const trueTop = [...exact].sort((a, b) => b[1] - a[1]).map(([k]) => k);
  const heavy = trueTop.filter((k) => exact.get(k)! > bound);
  assert.ok(heavy.length >= 5, `${heavy.length} keys over N/m`);
  // The keys over N/m come first, in their true order (below N/m, a key that just took a
  // counter over may rank high by its inherited error: that is the N/m bound).
  assert.deepEqual(sketch.tallies().slice(0, heavy.length).map((t) => t.key), heavy);
  for (const t of sketch.tallies().slice(0, 5)) assert.ok(t.error <= t.count * 0.05);
});

Deno.test("Zipf stream with a small sketch still bounds every error by N/m", () => {
  const { sketch, exact } = run(8, 50_000, zipf(20_000, 0.8, seededRandom(3)));
  assertGuarantees(sketch, exact);
});

Deno.test("uniform stream: the bounds hold where no key stands out", () => {
  const random = seededRandom(11);
  const { sketch, exact } = run(64, 100_000, () => 1 + Math.floor(random() * 10_000));
  const bound = assertGuarantees(sketch, exact);
  assert.ok(sketch.floor > 0 && sketch.floor <= bound);
});

Deno.test("a uniform stream with one hot key names the hot key first", () => {
  const random = seededRandom(5);
  const { sketch, exact } = run(
    32,
    100_000,
    () => random() < 0.05 ? 0 : 1 + Math.floor(random() * 50_000),
  );
  assertGuarantees(sketch, exact);
  assert.equal(sketch.tallies()[0].key, 0);
});

Deno.test("side tallies follow the key and restart when its counter is taken over", () => {
  const s = new SpaceSaving<string>(2);
  s.add("a").queries++;
  s.add("a");
  s.add("b").coalesced = 5;
  s.get("b")!.tag = "channel b";
  s.add("c"); // takes over b's counter (the smallest count, 1)
  assert.equal(s.get("b"), undefined);
  const c = s.get("c")!;
  assert.deepEqual([c.count, c.error, c.coalesced, c.tag], [2, 1, 0, undefined]);
  assert.equal(s.get("a")!.queries, 1);
  assert.deepEqual(
    new Map(s.tallies().map((t) => [t.key, t.count])),
    new Map([["a", 2], ["c", 2]]),
  );
});

Deno.test("1,000,000 distinct keys: counters and buckets stay within capacity", () => {
  const s = new SpaceSaving<string>(64);
  for (let i = 0; i < 1_000_000; i++) s.add(`key-${i}`);
  assert.equal(s.total, 1_000_000);
  assert.equal(s.size, 64);
  assert.ok(s.buckets <= 64, `${s.buckets} buckets`);
  s.clear();
  assert.deepEqual([s.size, s.total, s.floor], [0, 0, 0]);
});

Deno.test("1,000,000 distinct keys: the heap after GC is as after 10,000 (a process of its own)", async () => {
  const probe = new URL("./_memory_probe.ts", import.meta.url).pathname;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--v8-flags=--expose-gc", probe],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  const r = JSON.parse(new TextDecoder().decode(out.stdout));
  const growth = r.after1M - r.after10k;
  // A Map of 1M string keys would hold ~50 MB; the sketch holds 64 counters.
  assert.ok(
    growth < 1_000_000,
    `heap grew ${growth} bytes from 10k to 1M keys: ${JSON.stringify(r)}`,
  );
  assert.ok(r.retained <= (1 + 5 + 30) * 64, `${r.retained} tallies retained`);
});

Deno.test("capacity is validated", () => {
  assert.throws(() => new SpaceSaving(0), /capacity must be an integer >= 1/);
  assert.throws(() => new SpaceSaving(1.5), RangeError);
});
