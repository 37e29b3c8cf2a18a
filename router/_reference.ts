/**
 * The reference algorithms with BigInt, for tests and benchmarks only: jump
 * consistent hash as in Lamping & Veach's C++ (including its double rounding
 * order) and the splitmix64 finalizer.
 *
 * @module
 */

/** 2^64 - 1. */
export const U64 = (1n << 64n) - 1n;

/** The reference C++ jump hash transcribed with BigInt. */
export function referenceJump(key: bigint, buckets: number): number {
  key = BigInt.asUintN(64, key);
  let b = -1;
  let j = 0;
  while (j < buckets) {
    b = j;
    key = (key * 2862933555777941757n + 1n) & U64;
    j = Math.floor((b + 1) * (2147483648 / Number((key >> 33n) + 1n)));
  }
  return b;
}

/** splitmix64 finalizer with BigInt. */
export function referenceMix(z: bigint): bigint {
  z = BigInt.asUintN(64, z);
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & U64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & U64;
  return z ^ (z >> 31n);
}
