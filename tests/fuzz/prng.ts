/**
 * A small seeded pseudo-random generator for the fuzz test (mulberry32:
 * 32-bit state, fast, good enough to pick cases; not for cryptography).
 * Each case gets its own generator from `(seed, case number)`, so any case
 * can be regenerated alone and the cases do not depend on the order in which
 * concurrent workers ran them.
 *
 * @module
 */

/** A seeded generator of numbers, picks and byte strings. */
export class Prng {
  #state: number;

  /** @param seed any 32-bit integer. */
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** The generator of case `index` under `seed` (a splitmix-style mix of both). */
  static forCase(seed: number, index: number): Prng {
    let h = (seed ^ Math.imul(index + 1, 0x9e3779b9)) >>> 0;
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    return new Prng((h ^ (h >>> 16)) >>> 0);
  }

  /** The next 32-bit unsigned integer. */
  next(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** An integer in `[0, n)`. */
  int(n: number): number {
    return Math.floor((this.next() / 2 ** 32) * n);
  }

  /** An integer in `[min, max]`. */
  range(min: number, max: number): number {
    return min + this.int(max - min + 1);
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() / 2 ** 32 < p;
  }

  /** One element of `items`. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  /** One element of `[weight, item]` pairs, by weight. */
  weighted<T>(items: readonly (readonly [number, T])[]): T {
    let total = 0;
    for (const [w] of items) total += w;
    let r = (this.next() / 2 ** 32) * total;
    for (const [w, item] of items) {
      if ((r -= w) < 0) return item;
    }
    return items[items.length - 1][1];
  }

  /** `n` random bytes. */
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i += 4) {
      const v = this.next();
      for (let j = 0; j < 4 && i + j < n; j++) out[i + j] = (v >>> (8 * j)) & 0xff;
    }
    return out;
  }
}
