/**
 * Jump consistent hashing (Lamping & Veach 2014) on unsigned 64-bit keys, a
 * splitmix64 finalizer to mix keys whose low bits are not uniform (Snowflake
 * ids, sequential channel ids), and the salted re-jump the router uses to
 * fail over from a dead bucket without moving any other key.
 *
 * All 64-bit arithmetic runs on two unsigned 32-bit halves held in ordinary
 * numbers (4 to 6 times faster than BigInt here, see `jump_bench.ts`); `jumpHash`
 * is bit-exact with the reference C++ for every key, including its rounding:
 * `(b + 1) * (2^31 / ((key >> 33) + 1))` in that order, which differs from
 * the exact `floor((b + 1) * 2^31 / ((key >> 33) + 1))` for rare operands
 * (b + 1 = 49, (key >> 33) + 1 = 98 gives 1073741823 instead of 2^30).
 *
 * ```cpp
 * int32_t JumpConsistentHash(uint64_t key, int32_t num_buckets) {
 *   int64_t b = -1, j = 0;
 *   while (j < num_buckets) {
 *     b = j;
 *     key = key * 2862933555777941757ULL + 1;
 *     j = (b + 1) * (double(1LL << 31) / double((key >> 33) + 1));
 *   }
 *   return b;
 * }
 * ```
 *
 * Imports nothing: works in browsers, Deno and Node.
 *
 * @module
 */

/** Largest bucket count: the reference takes an `int32_t`. */
export const MAX_BUCKETS = 0x7fff_ffff;

const TWO_31 = 2147483648;

// Splits a bigint into unsigned 32-bit halves without allocating BigInts: a
// BigUint64Array stores ToBigUint64(key), i.e. key mod 2^64 (negative keys
// included), and a Uint32Array over the same bytes reads the halves. About 4x
// faster than `Number(key & 0xffffffffn)` and `Number(key >> 32n)`.
const KEY64 = new BigUint64Array(1);
const KEY32 = new Uint32Array(KEY64.buffer);
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
const LO = LITTLE_ENDIAN ? 0 : 1;
const HI = 1 - LO;

// LCG multiplier 2862933555777941757 = 0x27BB2EE6_87B0B0FD, its low half in
// 16-bit pieces for the exact 32x32 -> 64 product.
const LCG_HI = 0x27bb2ee6;
const LCG_LO = 0x87b0b0fd;
const LCG_LO_0 = LCG_LO & 0xffff;
const LCG_LO_1 = LCG_LO >>> 16;

// splitmix64 finalizer multipliers.
const MIX_A_HI = 0xbf58476d;
const MIX_A_LO = 0x1ce4e5b9;
const MIX_B_HI = 0x94d049bb;
const MIX_B_LO = 0x133111eb;

// Salt step for failover attempts: 2^64 / golden ratio (odd, so i * step is
// distinct for every i < 2^64).
const SALT_STEP = 0x9e3779b97f4a7c15n;

/** Halves of salt_i = i * SALT_STEP mod 2^64, computed on first use. */
const saltHi: number[] = [0];
const saltLo: number[] = [0];
function salt(i: number): void {
  while (saltHi.length <= i) {
    const s = BigInt.asUintN(64, BigInt(saltHi.length) * SALT_STEP);
    saltHi.push(Number(s >> 32n));
    saltLo.push(Number(s & 0xffff_ffffn));
  }
}

// Result registers of mul64/mix. A typed array keeps uint32 values unboxed
// (module-level `let`s would box every value >= 2^30 in a heap number).
const R = new Uint32Array(2);

/** R = aHi:aLo * bHi:bLo mod 2^64, all halves unsigned 32-bit. */
function mul64(aHi: number, aLo: number, bHi: number, bLo: number): void {
  const a0 = aLo & 0xffff;
  const a1 = aLo >>> 16;
  const b0 = bLo & 0xffff;
  const b1 = bLo >>> 16;
  // Each 16x16 product is < 2^32 and exact in a double.
  const p00 = a0 * b0;
  const p01 = a0 * b1;
  const p10 = a1 * b0;
  const p11 = a1 * b1;
  const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff); // < 3 * 2^16
  R[1] = ((mid & 0xffff) << 16) | (p00 & 0xffff);
  // High half of aLo*bLo (< 2^32), plus the cross terms mod 2^32. The sum of
  // doubles stays within ±2^34, so it is exact until the Uint32Array store
  // reduces it mod 2^32.
  R[0] = p11 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16) + Math.imul(aHi, bLo) +
    Math.imul(aLo, bHi);
}

/** R = splitmix64 finalizer of hi:lo. */
function mix(hi: number, lo: number): void {
  // z ^= z >>> 30; z *= 0xbf58476d1ce4e5b9
  lo = (lo ^ ((lo >>> 30) | (hi << 2))) >>> 0;
  hi = (hi ^ (hi >>> 30)) >>> 0;
  mul64(hi, lo, MIX_A_HI, MIX_A_LO);
  // z ^= z >>> 27; z *= 0x94d049bb133111eb
  hi = R[0];
  lo = R[1];
  mul64((hi ^ (hi >>> 27)) >>> 0, (lo ^ ((lo >>> 27) | (hi << 5))) >>> 0, MIX_B_HI, MIX_B_LO);
  // z ^= z >>> 31
  hi = R[0];
  lo = R[1];
  R[0] = hi ^ (hi >>> 31);
  R[1] = lo ^ ((lo >>> 31) | (hi << 1));
}

/** The jump loop on a key given as unsigned halves; buckets already validated. */
function jump(hi: number, lo: number, buckets: number): number {
  let b = -1;
  let j = 0;
  while (j < buckets) {
    b = j;
    // key = key * 2862933555777941757 + 1 (mod 2^64), inlined mul64.
    const a0 = lo & 0xffff;
    const a1 = lo >>> 16;
    const p00 = a0 * LCG_LO_0 + 1;
    const p01 = a0 * LCG_LO_1;
    const p10 = a1 * LCG_LO_0;
    const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
    const nextLo = (((mid & 0xffff) << 16) | (p00 & 0xffff)) >>> 0;
    hi = (a1 * LCG_LO_1 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16) + Math.imul(hi, LCG_LO) +
      Math.imul(lo, LCG_HI)) >>> 0;
    lo = nextLo;
    // Same operation order and rounding as the C++: 2^31 / ((key >> 33) + 1)
    // first, then times (b + 1), truncated.
    j = Math.floor((b + 1) * (TWO_31 / ((hi >>> 1) + 1)));
  }
  return b;
}

function checkBuckets(buckets: number): void {
  if (!Number.isInteger(buckets) || buckets < 1 || buckets > MAX_BUCKETS) {
    throw new RangeError(
      `Bucket count must be an integer in 1..${MAX_BUCKETS}, got ${buckets}`,
    );
  }
}

/**
 * Jump consistent hash of `key` into `buckets` buckets (0..buckets-1), on the
 * raw unsigned 64-bit key: the same bucket as the reference C++ for every key.
 * Keys outside 0..2^64-1 (negative int64 ids, for example) are taken mod 2^64.
 *
 * Growing from n to n+1 buckets moves about 1/(n+1) of the keys, all to the
 * new bucket. The spread is only as even as the key's bits are random: for
 * structured keys (sequential or Snowflake ids) use {@linkcode route}.
 *
 * @param key any bigint, reduced mod 2^64.
 * @param buckets integer in 1..2^31-1.
 * @returns the bucket, in 0..buckets-1.
 * @throws {RangeError} if `buckets` is not an integer in 1..2^31-1.
 *
 * @example
 * ```ts
 * jumpHash(1n, 10); // 6
 * jumpHash(123456789n, 65536); // 42483
 * ```
 */
export function jumpHash(key: bigint, buckets: number): number {
  checkBuckets(buckets);
  KEY64[0] = key;
  return jump(KEY32[HI], KEY32[LO], buckets);
}

/**
 * The splitmix64 finalizer (Stafford's Mix13 variant): a bijection on 64-bit
 * values that spreads every input bit over every output bit, so structured keys
 * jump as evenly as random ones.
 *
 * @param key any bigint, reduced mod 2^64.
 * @returns the mixed key, in 0..2^64-1.
 *
 * @example
 * ```ts
 * mix64(0n); // 0n
 * mix64(1n); // 0x5692161d100b05e5n
 * ```
 */
export function mix64(key: bigint): bigint {
  KEY64[0] = key;
  mix(KEY32[HI], KEY32[LO]);
  KEY32[HI] = R[0];
  KEY32[LO] = R[1];
  return KEY64[0];
}

/**
 * The bucket that owns `key`: `jumpHash(mix64(key), buckets)`, computed without
 * intermediate BigInts. This is what the router uses for channel ids.
 *
 * @param key any bigint, reduced mod 2^64.
 * @param buckets integer in 1..2^31-1.
 * @throws {RangeError} if `buckets` is not an integer in 1..2^31-1.
 *
 * @example
 * ```ts
 * const instance = instances[route(channelId, instances.length)];
 * ```
 */
export function route(key: bigint, buckets: number): number {
  checkBuckets(buckets);
  KEY64[0] = key;
  mix(KEY32[HI], KEY32[LO]);
  return jump(R[0], R[1], buckets);
}

/** Default number of salted re-jumps before {@linkcode routeLive} falls back to a scan. */
export const DEFAULT_FAILOVER_ATTEMPTS = 16;

/**
 * The bucket that serves `key` when some buckets are down.
 *
 * 1. The owner `route(key, buckets)` if it is live: keys owned by live buckets
 *    never move.
 * 2. Otherwise, for i = 1..attempts, `jumpHash(mix64(key ^ salt_i), buckets)`
 *    over the FULL bucket range (salt_i = i * 0x9e3779b97f4a7c15 mod 2^64);
 *    the first live one wins. A dead bucket's keys thus spread evenly over the
 *    live buckets, each to a fallback that depends only on the key and on which
 *    buckets are dead, and they return to the owner once it is live again.
 * 3. If every attempt hit a dead bucket (probability d^attempts when a fraction
 *    d is down), a scan: the live buckets in ascending order, indexed by
 *    `jumpHash(mix64(key ^ salt_{attempts+1}), liveCount)`.
 * 4. If no bucket is live, the owner (the caller tries it anyway).
 *
 * @param key any bigint, reduced mod 2^64.
 * @param buckets integer in 1..2^31-1.
 * @param isLive whether bucket i (0..buckets-1) may be used.
 * @param attempts salted re-jumps before the scan (default 16).
 * @returns the chosen bucket, in 0..buckets-1.
 * @throws {RangeError} if `buckets` is not an integer in 1..2^31-1.
 *
 * @example
 * ```ts
 * const down = new Set([2]);
 * routeLive(42n, 5, (i) => !down.has(i)); // never 2; same as route(42n, 5) unless that is 2
 * ```
 */
export function routeLive(
  key: bigint,
  buckets: number,
  isLive: (bucket: number) => boolean,
  attempts: number = DEFAULT_FAILOVER_ATTEMPTS,
): number {
  checkBuckets(buckets);
  KEY64[0] = key;
  const hi = KEY32[HI];
  const lo = KEY32[LO];
  mix(hi, lo);
  const owner = jump(R[0], R[1], buckets);
  if (isLive(owner)) return owner;
  salt(attempts + 1);
  for (let i = 1; i <= attempts; i++) {
    mix((hi ^ saltHi[i]) >>> 0, (lo ^ saltLo[i]) >>> 0);
    const b = jump(R[0], R[1], buckets);
    if (isLive(b)) return b;
  }
  const live: number[] = [];
  for (let b = 0; b < buckets; b++) if (isLive(b)) live.push(b);
  if (live.length === 0) return owner;
  mix((hi ^ saltHi[attempts + 1]) >>> 0, (lo ^ saltLo[attempts + 1]) >>> 0);
  return live[jump(R[0], R[1], live.length)];
}
