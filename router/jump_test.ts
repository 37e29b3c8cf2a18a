import assert from "node:assert/strict";
import { jumpHash, MAX_BUCKETS, mix64, route, routeLive } from "./jump.ts";
import { referenceJump, referenceMix, U64 } from "./_reference.ts";

/** Deterministic 64-bit pseudo-random keys (splitmix64 sequence). */
function* randomKeys(count: number, seed = 0x1234_5678n): Generator<bigint> {
  let state = seed;
  for (let i = 0; i < count; i++) {
    state = (state + 0x9e3779b97f4a7c15n) & U64;
    yield referenceMix(state);
  }
}

/** Edge keys: 0, 1, 2^64-1, single high bits, half boundaries. */
const EDGE_KEYS = [
  0n,
  1n,
  U64,
  U64 - 1n,
  1n << 63n,
  (1n << 63n) - 1n,
  (1n << 63n) + 1n,
  1n << 32n,
  (1n << 32n) - 1n,
  (1n << 33n) - 1n,
  0xffff_ffff_0000_0000n,
  0x0000_0000_ffff_ffffn,
  0x8000_0000_8000_0000n,
  0xdead_beef_cafe_baben,
];

function counts(buckets: number, keys: Iterable<bigint>, hash = route): number[] {
  const out = new Array<number>(buckets).fill(0);
  for (const key of keys) out[hash(key, buckets)]++;
  return out;
}

function assertEven(c: readonly number[], tolerance: number, what: string): void {
  const total = c.reduce((a, b) => a + b, 0);
  const mean = total / c.length;
  for (const [bucket, n] of c.entries()) {
    assert.ok(
      Math.abs(n - mean) <= tolerance * mean,
      `${what}: bucket ${bucket} has ${n}, mean ${mean.toFixed(1)} (±${tolerance * 100}%)`,
    );
  }
}

Deno.test("jumpHash matches the golden vectors of the reference C++", () => {
  const golden: [bigint, number, number][] = [
    [1n, 10, 6],
    [1n, 1000, 549],
    [2n, 100, 62],
    [3n, 65536, 59579],
    [42n, 2, 1],
    [42n, 1000, 571],
    [123456789n, 100, 34],
    [123456789n, 65536, 42483],
  ];
  for (const [key, buckets, want] of golden) {
    assert.equal(jumpHash(key, buckets), want, `jumpHash(${key}, ${buckets})`);
    assert.equal(referenceJump(key, buckets), want, `referenceJump(${key}, ${buckets})`);
  }
});

Deno.test("jumpHash equals the BigInt reference on edge and random 64-bit keys", () => {
  const bucketCounts = [1, 2, 3, 7, 10, 100, 1000, 65536, 1_000_003, MAX_BUCKETS];
  for (const key of EDGE_KEYS) {
    for (const n of bucketCounts) {
      assert.equal(jumpHash(key, n), referenceJump(key, n), `key ${key.toString(16)}, n ${n}`);
    }
  }
  let i = 0;
  for (const key of randomKeys(20_000)) {
    // Cycle through small, medium and huge bucket counts.
    const n = bucketCounts[i++ % bucketCounts.length] + (i % 5);
    const buckets = Math.min(n, MAX_BUCKETS);
    assert.equal(jumpHash(key, buckets), referenceJump(key, buckets), `key ${key}, n ${buckets}`);
  }
});

Deno.test("jumpHash takes keys outside 0..2^64-1 mod 2^64", () => {
  for (const n of [2, 10, 1000]) {
    assert.equal(jumpHash(-1n, n), jumpHash(U64, n));
    assert.equal(jumpHash(-42n, n), jumpHash(BigInt.asUintN(64, -42n), n));
    assert.equal(jumpHash((1n << 64n) + 5n, n), jumpHash(5n, n));
    assert.equal(route(-7n, n), route(BigInt.asUintN(64, -7n), n));
  }
  assert.equal(mix64(-1n), referenceMix(U64));
});

Deno.test("jumpHash, route and routeLive reject bucket counts outside 1..2^31-1", () => {
  for (const bad of [0, -1, 1.5, Number.NaN, Infinity, MAX_BUCKETS + 1]) {
    assert.throws(() => jumpHash(1n, bad), RangeError);
    assert.throws(() => route(1n, bad), RangeError);
    assert.throws(() => routeLive(1n, bad, () => true), RangeError);
  }
  assert.equal(jumpHash(U64, 1), 0);
});

Deno.test("mix64 is splitmix64's finalizer and route is jumpHash(mix64(key))", () => {
  assert.equal(mix64(0n), 0n);
  assert.equal(mix64(1n), 0x5692161d100b05e5n);
  // The first output of splitmix64 seeded with 0.
  assert.equal(mix64(0x9e3779b97f4a7c15n), 0xe220a8397b1dcdafn);
  for (const key of [...EDGE_KEYS, ...randomKeys(5_000, 99n)]) {
    assert.equal(mix64(key), referenceMix(key));
    for (const n of [1, 5, 1000, 65536]) {
      assert.equal(route(key, n), referenceJump(referenceMix(key), n));
    }
  }
});

Deno.test("route spreads sequential channel ids evenly", () => {
  const keys = Array.from({ length: 100_000 }, (_, i) => BigInt(i + 1));
  for (const n of [2, 3, 5, 10, 16, 33]) assertEven(counts(n, keys), 0.05, `sequential, n=${n}`);
});

Deno.test("route spreads Snowflake-like ids evenly", () => {
  // (ms << 22) | (worker << 12) | seq: a few workers, bursts of sequence numbers.
  const keys: bigint[] = [];
  const start = 300_000_000_000n; // about 2024 in ms since 2015
  for (let ms = 0n; ms < 2_000n; ms++) {
    for (let worker = 0n; worker < 5n; worker++) {
      for (let seq = 0n; seq < 10n; seq++) keys.push(((start + ms) << 22n) | (worker << 12n) | seq);
    }
  }
  for (const n of [2, 3, 7, 10, 24]) assertEven(counts(n, keys), 0.05, `snowflake, n=${n}`);
});

Deno.test("growing from n to n+1 buckets moves about 1/(n+1) of the keys, all to the new one", () => {
  const keys = [...randomKeys(50_000, 7n), ...Array.from({ length: 50_000 }, (_, i) => BigInt(i))];
  for (let n = 1; n <= 24; n++) {
    let moved = 0;
    for (const key of keys) {
      const before = route(key, n);
      const after = route(key, n + 1);
      if (before !== after) {
        moved++;
        assert.equal(
          after,
          n,
          `key ${key} moved from ${before} to ${after}, not to the new bucket`,
        );
      }
    }
    const expected = keys.length / (n + 1);
    assert.ok(
      Math.abs(moved - expected) <= 0.05 * expected,
      `n=${n}: ${moved} keys moved, expected about ${expected.toFixed(0)}`,
    );
  }
});

Deno.test("routeLive keeps live owners and spreads a dead bucket's keys over the live ones", () => {
  const n = 8;
  const dead = 3;
  const keys = Array.from({ length: 80_000 }, (_, i) => BigInt(i + 1));
  const fallbacks = new Array<number>(n).fill(0);
  for (const key of keys) {
    const owner = route(key, n);
    const chosen = routeLive(key, n, (b) => b !== dead);
    if (owner !== dead) {
      assert.equal(chosen, owner, "a key of a live owner moved");
    } else {
      assert.notEqual(chosen, dead);
      fallbacks[chosen]++;
      // Deterministic: the same answer again.
      assert.equal(routeLive(key, n, (b) => b !== dead), chosen);
    }
    assert.equal(routeLive(key, n, () => true), owner, "with everything live, the owner");
  }
  assert.equal(fallbacks[dead], 0);
  fallbacks.splice(dead, 1);
  assertEven(fallbacks, 0.1, "fallbacks of the dead bucket");
});

Deno.test("routeLive: a second failure moves only keys that sat on the newly dead bucket", () => {
  const n = 10;
  const keys = Array.from({ length: 20_000 }, (_, i) => BigInt(i * 7919 + 3));
  for (const key of keys) {
    const oneDead = routeLive(key, n, (b) => b !== 2);
    const twoDead = routeLive(key, n, (b) => b !== 2 && b !== 6);
    if (oneDead !== 6) assert.equal(twoDead, oneDead, `key ${key} moved needlessly`);
    else assert.ok(twoDead !== 2 && twoDead !== 6);
  }
});

Deno.test("routeLive falls back to a scan, and to the owner when nothing is live", () => {
  const n = 6;
  for (const key of randomKeys(2_000, 5n)) {
    const owner = route(key, n);
    assert.equal(routeLive(key, n, () => false), owner, "nothing live: the owner");
    // Only bucket 4 live: every key lands there, whether or not the attempts hit it.
    assert.equal(routeLive(key, n, (b) => b === 4), 4);
    // No salted attempts: straight to the scan, still a live bucket.
    const scanned = routeLive(key, n, (b) => b % 2 === 0, 0);
    assert.equal(scanned % 2, 0);
    if (owner % 2 === 0) assert.equal(scanned, owner);
  }
  // The scan spreads too.
  const c = new Array<number>(n).fill(0);
  for (let i = 1n; i <= 30_000n; i++) c[routeLive(i, n, (b) => b % 2 === 0 && b !== 0, 0)]++;
  assertEven([c[2], c[4]], 0.05, "scan over buckets 2 and 4");
});
