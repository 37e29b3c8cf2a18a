/**
 * Seeded random numbers and a Zipf sampler, for reproducible skewed loads
 * (the hot-key tests and `deno task bench:hot`). Browser-safe.
 *
 * @module
 */

/** A seeded generator of numbers in [0, 1) (mulberry32: fast, 32-bit state, not cryptographic). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Draws ranks 1..n with P(k) ∝ 1 / k^s (rank 1 the most frequent), by binary
 * search in the cumulative distribution (n doubles of memory).
 *
 * @example
 * ```ts
 * const next = zipf(1000, 1.1, seededRandom(42));
 * const channel = next(); // 1 about 13% of the time with these numbers
 * ```
 * @throws {RangeError} unless n >= 1 and s >= 0.
 */
export function zipf(n: number, s: number, random: () => number = Math.random): () => number {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`n must be an integer >= 1, got ${n}`);
  if (!(s >= 0)) throw new RangeError(`s must be >= 0, got ${s}`);
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let k = 1; k <= n; k++) cdf[k - 1] = sum += 1 / k ** s;
  for (let i = 0; i < n; i++) cdf[i] /= sum;
  return () => {
    const u = random();
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cdf[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    return lo + 1;
  };
}
