// Lookups per second of the router's hash: `deno bench router/jump_bench.ts`.
// Each bench iteration does LOOKUPS lookups over a fixed key set, so
// lookups/s = LOOKUPS / (time per iteration).
import { jumpHash, mix64, route, routeLive } from "./jump.ts";

const LOOKUPS = 1000;
const U64 = (1n << 64n) - 1n;

function referenceJump(key: bigint, buckets: number): number {
  let b = -1;
  let j = 0;
  while (j < buckets) {
    b = j;
    key = (key * 2862933555777941757n + 1n) & U64;
    j = Math.floor((b + 1) * (2147483648 / Number((key >> 33n) + 1n)));
  }
  return b;
}

function referenceMix(z: bigint): bigint {
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & U64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & U64;
  return z ^ (z >> 31n);
}

// Snowflake-like channel ids.
const keys = Array.from(
  { length: LOOKUPS },
  (_, i) => ((300_000_000_000n + BigInt(i)) << 22n) | (BigInt(i % 7) << 12n),
);
const mixed = keys.map(mix64);
let sink = 0;

for (const buckets of [10, 1000]) {
  Deno.bench(`jumpHash (32-bit halves), ${buckets} buckets, ${LOOKUPS} lookups`, {
    group: `jump-${buckets}`,
    baseline: true,
  }, () => {
    for (const key of mixed) sink += jumpHash(key, buckets);
  });
  Deno.bench(`jump with BigInt (reference), ${buckets} buckets, ${LOOKUPS} lookups`, {
    group: `jump-${buckets}`,
  }, () => {
    for (const key of mixed) sink += referenceJump(key, buckets);
  });
  Deno.bench(`route = jumpHash(mix64) (halves), ${buckets} buckets, ${LOOKUPS} lookups`, {
    group: `route-${buckets}`,
    baseline: true,
  }, () => {
    for (const key of keys) sink += route(key, buckets);
  });
  Deno.bench(`route with BigInt (reference), ${buckets} buckets, ${LOOKUPS} lookups`, {
    group: `route-${buckets}`,
  }, () => {
    for (const key of keys) sink += referenceJump(referenceMix(key), buckets);
  });
}

const down = (b: number) => b !== 3;
Deno.bench(`routeLive with 1 of 10 buckets down, ${LOOKUPS} lookups`, { group: "failover" }, () => {
  for (const key of keys) sink += routeLive(key, 10, down);
});

globalThis.addEventListener("unload", () => {
  if (sink === 0.5) console.log(sink);
});
