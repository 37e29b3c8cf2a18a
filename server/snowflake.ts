/**
 * Snowflake-style message ids and the time buckets derived from them.
 *
 * An id is a positive int64: `(ms since EPOCH_MS) << 22 | worker << 12 | seq`.
 * Ids from one worker strictly increase; ids from different workers never
 * collide as long as each instance has its own worker id (0..1023).
 *
 * @module
 */

/** 2015-01-01T00:00:00Z, the epoch Discord uses for its Snowflakes. */
export const EPOCH_MS = 1_420_070_400_000;
/** Largest worker id (10 bits). */
export const MAX_WORKER_ID = 1023;
/** Length of a time bucket: 10 days, as Discord uses. */
export const BUCKET_MS = 10 * 24 * 60 * 60 * 1000;

const SEQ_BITS = 12n;
const WORKER_BITS = 10n;
const TIME_SHIFT = SEQ_BITS + WORKER_BITS;
const MAX_SEQ = (1 << Number(SEQ_BITS)) - 1;

/** Milliseconds since the Unix epoch at which `id` was made. */
export function timestampOf(id: bigint): number {
  return Number(id >> TIME_SHIFT) + EPOCH_MS;
}

/** The time bucket (partition part) a message id falls in. */
export function bucketOf(id: bigint): number {
  return Math.floor(Number(id >> TIME_SHIFT) / BUCKET_MS);
}

/** The bucket that holds ids made at `ms` (Unix epoch milliseconds). */
export function bucketAt(ms: number): number {
  return Math.floor(Math.max(0, ms - EPOCH_MS) / BUCKET_MS);
}

/** The smallest id that could be made at `ms` by any worker. */
export function firstIdAt(ms: number): bigint {
  return BigInt(Math.max(0, ms - EPOCH_MS)) << TIME_SHIFT;
}

/** Makes time-ordered unique ids for one worker. */
export class SnowflakeGenerator {
  #worker: bigint;
  #lastMs = -1;
  #seq = 0;
  #now: () => number;

  /**
   * @param workerId 0..1023, unique per running instance.
   * @param now clock in Unix epoch milliseconds (injectable for tests).
   */
  constructor(workerId: number, now: () => number = Date.now) {
    if (!Number.isInteger(workerId) || workerId < 0 || workerId > MAX_WORKER_ID) {
      throw new RangeError(`Worker id must be an integer in 0..${MAX_WORKER_ID}, got ${workerId}`);
    }
    this.#worker = BigInt(workerId);
    this.#now = now;
  }

  /** Returns the next id; never smaller than or equal to the previous one. */
  next(): bigint {
    let ms = Math.max(this.#now() - EPOCH_MS, this.#lastMs);
    if (ms === this.#lastMs) {
      this.#seq++;
      if (this.#seq > MAX_SEQ) {
        // 4096 ids in one millisecond: borrow the next millisecond, which keeps
        // ids increasing even if the clock stepped back.
        ms++;
        this.#seq = 0;
      }
    } else {
      this.#seq = 0;
    }
    this.#lastMs = ms;
    return (BigInt(ms) << TIME_SHIFT) | (this.#worker << SEQ_BITS) | BigInt(this.#seq);
  }
}
