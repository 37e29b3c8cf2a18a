/**
 * Snowflake-style message ids and the time buckets derived from them.
 *
 * An id is a positive int64: `(ms since EPOCH_MS) << 22 | worker << 12 | seq`.
 * Ids from one worker strictly increase; ids from different workers never
 * collide as long as each instance has its own worker id (0..1023), which
 * the worker lease (worker_lease.ts) guarantees.
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

/** The next id would carry a time past the reservation given to {@linkcode SnowflakeGenerator.next}. */
export class ReservationError extends Error {
  override name = "ReservationError";
}

/**
 * Makes time-ordered unique ids for one worker.
 *
 * Unique across workers only while no two running generators share a worker
 * id (the worker lease, worker_lease.ts, sees to that), and across restarts
 * only when a generator starts above every id its worker id was used for
 * before: `floorMs`, the lease's high-water mark.
 */
export class SnowflakeGenerator {
  #worker: bigint;
  /** Milliseconds since EPOCH_MS of the last id (or of the floor). */
  #lastMs = -1;
  #seq = 0;
  #now: () => number;

  /**
   * @param workerId 0..1023, unique per running instance.
   * @param now clock in Unix epoch milliseconds (injectable for tests).
   * @param floorMs every id carries a time after this (Unix epoch ms): ids
   *   made before it with this worker id are never made again, even when the
   *   clock is behind it (ids then borrow later milliseconds, as past 4096
   *   per millisecond).
   */
  constructor(workerId: number, now: () => number = Date.now, floorMs?: number) {
    if (!Number.isInteger(workerId) || workerId < 0 || workerId > MAX_WORKER_ID) {
      throw new RangeError(`Worker id must be an integer in 0..${MAX_WORKER_ID}, got ${workerId}`);
    }
    this.#worker = BigInt(workerId);
    this.#now = now;
    if (floorMs !== undefined && floorMs >= EPOCH_MS) {
      // The floor's millisecond counts as used up: the next id is in a later one.
      this.#lastMs = Math.floor(floorMs) - EPOCH_MS;
      this.#seq = MAX_SEQ;
    }
  }

  /** The worker id inside every id. */
  get workerId(): number {
    return Number(this.#worker);
  }

  /** Unix epoch ms of the last id made (of the floor before the first; -1 with neither). */
  get lastMs(): number {
    return this.#lastMs < 0 ? -1 : this.#lastMs + EPOCH_MS;
  }

  /**
   * Returns the next id; never smaller than or equal to the previous one.
   *
   * @param untilMs the latest time (Unix epoch ms) an id may carry: the
   *   generator's reservation.
   * @throws {ReservationError} when the next id would be past `untilMs` (no
   *   id is used up).
   */
  next(untilMs = Infinity): bigint {
    let ms = Math.max(this.#now() - EPOCH_MS, this.#lastMs);
    let seq = 0;
    if (ms === this.#lastMs) {
      seq = this.#seq + 1;
      if (seq > MAX_SEQ) {
        // 4096 ids in one millisecond: borrow the next millisecond, which keeps
        // ids increasing even if the clock stepped back.
        ms++;
        seq = 0;
      }
    }
    if (ms + EPOCH_MS > untilMs) {
      throw new ReservationError(
        `the next id (at ${new Date(ms + EPOCH_MS).toISOString()}) is past the reservation ` +
          `(${new Date(untilMs).toISOString()})`,
      );
    }
    this.#lastMs = ms;
    this.#seq = seq;
    return (BigInt(ms) << TIME_SHIFT) | (this.#worker << SEQ_BITS) | BigInt(seq);
  }
}
