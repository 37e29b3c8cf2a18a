/**
 * Per-channel token buckets for writes: each channel may send `burst` writes
 * at once and `ratePerSec` on average; past that a write is refused, and the
 * caller is told when the next one would pass.
 *
 * Memory is bounded: at most `maxBuckets` channels have a bucket. A bucket
 * that has refilled completely is the same as no bucket, so idle ones are
 * dropped as writes pass (the least recently used first, two checks per
 * write: O(1)); when every bucket is busy the least recently used is dropped
 * anyway (that channel starts again from a full bucket: never stricter than
 * configured, briefly more lenient).
 *
 * One bucket per channel on one instance is one bucket for the whole fleet
 * because the router sends every request of a channel — its writes too — to
 * that channel's owner (jump hash on channel_id; see `router/transport.ts`).
 * While the owner is down its channels' writes go to their fallback, which
 * has its own bucket: during a failover a channel may write up to twice the
 * burst.
 *
 * @module
 */

/** Options of {@linkcode WriteBuckets}. */
export interface WriteBucketsOptions {
  /** Tokens added per second (> 0). */
  readonly ratePerSec: number;
  /** Bucket size: writes at once (an integer >= 1). */
  readonly burst: number;
  /** Most channels with a bucket (an integer >= 1). */
  readonly maxBuckets: number;
  /** Clock (ms). Default performance.now. */
  readonly now?: () => number;
}

interface Bucket {
  tokens: number;
  /** Clock time of the last refill. */
  at: number;
}

/** The buckets of every channel that wrote recently. */
export class WriteBuckets {
  readonly ratePerSec: number;
  readonly burst: number;
  readonly maxBuckets: number;
  /** Insertion order is recency: the first entry is the least recently used. */
  #buckets = new Map<bigint, Bucket>();
  #now: () => number;
  #perMs: number;
  #throttled = 0;

  /** @throws {RangeError} on a bad option. */
  constructor(o: WriteBucketsOptions) {
    if (!(o.ratePerSec > 0 && Number.isFinite(o.ratePerSec))) {
      throw new RangeError(`ratePerSec must be > 0, got ${o.ratePerSec}`);
    }
    for (const [name, v] of [["burst", o.burst], ["maxBuckets", o.maxBuckets]] as const) {
      if (!Number.isInteger(v) || v < 1) {
        throw new RangeError(`${name} must be an integer >= 1, got ${v}`);
      }
    }
    this.ratePerSec = o.ratePerSec;
    this.burst = o.burst;
    this.maxBuckets = o.maxBuckets;
    this.#perMs = o.ratePerSec / 1000;
    this.#now = o.now ?? (() => performance.now());
  }

  /** Channels with a bucket now. */
  get size(): number {
    return this.#buckets.size;
  }

  /** Writes refused since construction. */
  get throttled(): number {
    return this.#throttled;
  }

  /**
   * Takes a token for a write of `channel`: 0 when the write may pass, else
   * the milliseconds until the channel has a token again (the write is
   * refused and takes nothing).
   */
  take(channel: bigint): number {
    const now = this.#now();
    const buckets = this.#buckets;
    let b = buckets.get(channel);
    if (b !== undefined) {
      b.tokens = Math.min(this.burst, b.tokens + (now - b.at) * this.#perMs);
      b.at = now;
      buckets.delete(channel); // most recently used: to the end
    } else {
      this.#dropIdle(now);
      if (buckets.size >= this.maxBuckets) buckets.delete(buckets.keys().next().value!);
      b = { tokens: this.burst, at: now };
    }
    buckets.set(channel, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    this.#throttled++;
    return Math.max(1, Math.ceil((1 - b.tokens) / this.#perMs));
  }

  /** Drops up to two least recently used buckets that have refilled completely. */
  #dropIdle(now: number): void {
    for (let i = 0; i < 2; i++) {
      const first = this.#buckets.entries().next();
      if (first.done) return;
      const [channel, b] = first.value;
      if (b.tokens + (now - b.at) * this.#perMs < this.burst) return;
      this.#buckets.delete(channel);
    }
  }
}
