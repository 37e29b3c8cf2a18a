// Lookups per second of the router's hash: `deno bench router/jump_bench.ts`.
// Each bench iteration does LOOKUPS lookups over a fixed key set, so
// lookups/s = LOOKUPS / (time per iteration).
import { jumpHash, mix64, route, routeLive } from "./jump.ts";
import { referenceJump, referenceMix } from "./_reference.ts";

const LOOKUPS = 1000;
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
