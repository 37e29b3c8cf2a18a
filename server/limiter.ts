/**
 * A concurrency limiter with a bounded FIFO queue: at most `maxConcurrent`
 * holders of a slot at once, at most `maxQueued` callers waiting for one, and
 * a waiter whose signal aborts leaves the queue at once.
 *
 * The coalescer uses it to bound the queries it sends to the database; one
 * limiter may be shared by several coalescers so that they share one budget.
 *
 * @module
 */

import type { Cancellation } from "../lib/cancellation.ts";

/** The option whose cap was hit; the service maps every one to RESOURCE_EXHAUSTED. */
export type Cap = "maxWaitersPerFlight" | "maxFlights" | "maxQueuedCalls";

/** The cap a limiter's full queue reports: reads (the coalescer's) or writes. */
export type QueueCap = "maxQueuedCalls" | "maxQueuedWrites";

/**
 * Thrown (as a rejection) when a caller is turned away because a cap was hit.
 *
 * @example
 * ```ts
 * try {
 *   await coalescer.do(key, load);
 * } catch (e) {
 *   if (e instanceof CapacityError) console.warn(`shed load: ${e.cap} = ${e.limit}`);
 * }
 * ```
 */
export class CapacityError extends Error {
  override name = "CapacityError";
  /**
   * @param cap the option whose cap was hit.
   * @param limit that option's value.
   */
  constructor(readonly cap: Cap | QueueCap, readonly limit: number) {
    super(`Capacity exceeded: ${cap} is ${limit}`);
  }
}

/** Gives a slot back; calling it more than once has no further effect. */
export type Release = () => void;

/** Options of {@linkcode Limiter}. */
export interface LimiterOptions {
  /** Most slots held at once: an integer >= 1, or Infinity. */
  maxConcurrent: number;
  /** Most callers waiting for a slot: an integer >= 0, or Infinity (the default). */
  maxQueued?: number;
  /** The cap named by the CapacityError of a full queue (default "maxQueuedCalls"). */
  cap?: QueueCap;
}

/** Throws a RangeError unless `value` is an integer >= `min` or Infinity. */
export function checkCount(name: string, value: number, min: number): void {
  if (value !== Infinity && !(Number.isInteger(value) && value >= min)) {
    throw new RangeError(`${name} must be an integer >= ${min} or Infinity, got ${value}`);
  }
}

/** One caller waiting in the queue. */
interface Waiting {
  /** Hands the slot to this caller. */
  resolve: (release: Release) => void;
  /** Unsubscribes from the caller's signal once the slot is handed over. */
  unsubscribe: () => void;
}

/**
 * Counts slots; hands a freed slot straight to the oldest waiter.
 *
 * @example
 * ```ts
 * const limiter = new Limiter({ maxConcurrent: 8, maxQueued: 100 });
 * const release = limiter.tryAcquire() ?? await limiter.acquire(signal);
 * try {
 *   await query();
 * } finally {
 *   release();
 * }
 * ```
 */
export class Limiter {
  /** Most slots held at once. */
  readonly maxConcurrent: number;
  /** Most callers in the queue. */
  readonly maxQueued: number;
  /** Slots held now. */
  #running = 0;
  /** Callers waiting for a slot, oldest first (a Set: leaving is O(1)). */
  #queue = new Set<Waiting>();

  /** @throws {RangeError} when an option is out of range. */
  /** The cap a full queue reports. */
  readonly cap: QueueCap;

  constructor({ maxConcurrent, maxQueued = Infinity, cap = "maxQueuedCalls" }: LimiterOptions) {
    this.cap = cap;
    checkCount("maxConcurrent", maxConcurrent, 1);
    checkCount("maxQueued", maxQueued, 0);
    this.maxConcurrent = maxConcurrent;
    this.maxQueued = maxQueued;
  }

  /** Slots held now. */
  get running(): number {
    return this.#running;
  }

  /** Callers waiting for a slot now. */
  get queued(): number {
    return this.#queue.size;
  }

  /** True when {@linkcode acquire} would reject with a CapacityError. */
  get full(): boolean {
    return this.#running >= this.maxConcurrent && this.#queue.size >= this.maxQueued;
  }

  /** Takes a slot if one is free now, without waiting. */
  tryAcquire(): Release | undefined {
    if (this.#running >= this.maxConcurrent) return undefined;
    this.#running++;
    return this.#release();
  }

  /**
   * Takes a slot, waiting in the queue if none is free. Rejects with a
   * {@linkcode CapacityError} when the queue is full, and with the signal's
   * reason when it aborts first (the caller then leaves the queue).
   */
  acquire(signal?: Cancellation): Promise<Release> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const release = this.tryAcquire();
    if (release) return Promise.resolve(release);
    if (this.#queue.size >= this.maxQueued) {
      return Promise.reject(new CapacityError(this.cap, this.maxQueued));
    }
    const { promise, resolve, reject } = Promise.withResolvers<Release>();
    const onAbort = () => {
      this.#queue.delete(waiting);
      reject(signal!.reason);
    };
    const waiting: Waiting = {
      resolve,
      unsubscribe: () => signal?.removeEventListener("abort", onAbort),
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    this.#queue.add(waiting);
    return promise;
  }

  /** A one-shot release for a slot just taken. */
  #release(): Release {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#queue.values().next();
      if (next.done) {
        this.#running--;
        return;
      }
      this.#queue.delete(next.value);
      next.value.unsubscribe();
      next.value.resolve(this.#release());
    };
  }
}
