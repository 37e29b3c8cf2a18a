/**
 * A concurrency limiter with a bounded FIFO queue: at most `limit` holders of
 * a slot at once, at most `maxQueued` callers waiting for one, and a waiter
 * whose signal aborts leaves the queue at once.
 *
 * The limit is fixed (`maxConcurrent`) or adaptive: a {@linkcode LimitAlgorithm}
 * (adaptive_limit.ts) moves it between its floor and `maxConcurrent` from the
 * time each holder kept its slot. Holders report how their work ended when
 * they give the slot back ({@linkcode Outcome}).
 *
 * Shedding: when no slot is free, a caller is refused at once (a
 * {@linkcode CapacityError}, never a wait) if the queue is full, or if the
 * wait it would face — callers ahead of it × the time per slot ÷ the limit —
 * is over `maxQueueWaitMs` while at least `limit` callers are queued. The
 * time per slot is the recent average of finished holds, or, when larger, the
 * time since a slot was last handed out: every holder has held its slot at
 * least that long. So a burst that stalls the holders (or the event loop that
 * would finish them) is shed from its first few hundred callers, before any
 * hold has finished, instead of once the queue is full. Under overload new
 * work is turned away in microseconds instead of timing out in the queue.
 *
 * The coalescer uses it to bound the queries it sends to the database; one
 * limiter may be shared by several coalescers so that they share one budget.
 *
 * @module
 */

import type { Cancellation } from "../lib/cancellation.ts";
import type { LimitAlgorithm } from "./adaptive_limit.ts";

/** The option whose cap was hit; the service maps every one to RESOURCE_EXHAUSTED. */
export type Cap = "maxWaitersPerFlight" | "maxFlights" | "maxQueuedCalls" | "maxQueueWait";

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
   * @param detail what was measured against it, for the message.
   */
  constructor(readonly cap: Cap | QueueCap, readonly limit: number, detail?: string) {
    super(`Capacity exceeded: ${cap} is ${limit}${detail ? ` (${detail})` : ""}`);
  }
}

/**
 * How the work done under a slot ended: `ok` (a latency sample), `dropped`
 * (failed in a way that means overload: a sample that lowers an adaptive
 * limit) or `ignored` (abandoned or failed for another reason: no sample).
 */
export type Outcome = "ok" | "dropped" | "ignored";

/** Gives a slot back; calling it more than once has no further effect. */
export type Release = (outcome?: Outcome) => void;

/** Options of {@linkcode Limiter}. */
export interface LimiterOptions {
  /** Most slots held at once (the ceiling of an adaptive limit): an integer >= 1, or Infinity. */
  maxConcurrent: number;
  /** Most callers waiting for a slot: an integer >= 0, or Infinity (the default). */
  maxQueued?: number;
  /** The cap named by the CapacityError of a full queue (default "maxQueuedCalls"). */
  cap?: QueueCap;
  /** Moves the limit from the samples (default: none, the limit is maxConcurrent). */
  algorithm?: LimitAlgorithm;
  /**
   * Refuse a caller at once when its estimated wait for a slot is over this
   * (ms; default Infinity: only the queue length bounds waiting).
   */
  maxQueueWaitMs?: number;
  /** Clock in ms (default performance.now). */
  now?: () => number;
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

/** Weight of a new sample in the recent time per slot. */
const RTT_ALPHA = 0.1;

/**
 * Counts slots; hands a freed slot straight to the oldest waiter.
 *
 * @example
 * ```ts
 * const limiter = new Limiter({ maxConcurrent: 8, maxQueued: 100 });
 * const release = limiter.tryAcquire() ?? await limiter.acquire(signal);
 * try {
 *   await query();
 *   release("ok");
 * } catch (e) {
 *   release("dropped");
 *   throw e;
 * }
 * ```
 */
export class Limiter {
  /** Most slots held at once: the fixed limit, or the ceiling of an adaptive one. */
  readonly maxConcurrent: number;
  /** Most callers in the queue. */
  readonly maxQueued: number;
  /** Refusal bound on the estimated wait (ms). */
  readonly maxQueueWaitMs: number;
  /** The cap a full queue reports. */
  readonly cap: QueueCap;
  /** Slots allowed now. */
  #limit: number;
  /** Slots held now. */
  #running = 0;
  /** Callers waiting for a slot, oldest first (a Set: leaving is O(1)). */
  #queue = new Set<Waiting>();
  #algorithm: LimitAlgorithm | undefined;
  #now: () => number;
  /** Recent time a slot is held (ms, exponential average); NaN before the first sample. */
  #rttMs = NaN;
  /** When a slot was last handed out (ms on the clock): the youngest hold began then. */
  #lastGrantAt = NaN;
  #shed = 0;

  /** @throws {RangeError} when an option is out of range. */
  constructor(o: LimiterOptions) {
    const { maxConcurrent, maxQueued = Infinity, cap = "maxQueuedCalls" } = o;
    checkCount("maxConcurrent", maxConcurrent, 1);
    checkCount("maxQueued", maxQueued, 0);
    const wait = o.maxQueueWaitMs ?? Infinity;
    if (!(wait > 0)) throw new RangeError(`maxQueueWaitMs must be > 0, got ${wait}`);
    this.cap = cap;
    this.maxConcurrent = maxConcurrent;
    this.maxQueued = maxQueued;
    this.maxQueueWaitMs = wait;
    this.#algorithm = o.algorithm;
    this.#limit = Math.min(maxConcurrent, o.algorithm?.limit ?? maxConcurrent);
    this.#now = o.now ?? (() => performance.now());
  }

  /** Slots allowed now (moves with an adaptive algorithm). */
  get limit(): number {
    return this.#limit;
  }

  /** Slots held now (may exceed the limit for a while after it was lowered). */
  get running(): number {
    return this.#running;
  }

  /** Callers waiting for a slot now. */
  get queued(): number {
    return this.#queue.size;
  }

  /** Callers refused (queue full or wait too long) since construction. */
  get shed(): number {
    return this.#shed;
  }

  /** Recent time a slot was held, in ms; undefined before any sample. */
  get rttMs(): number | undefined {
    return Number.isNaN(this.#rttMs) ? undefined : this.#rttMs;
  }

  /** True when {@linkcode acquire} would refuse (see {@linkcode refusal}). */
  get full(): boolean {
    return this.#refusal() !== undefined;
  }

  /**
   * Sets the limit (clamped to 1..maxConcurrent); raising it hands slots to
   * waiters at once, lowering it takes effect as holders leave.
   */
  setLimit(limit: number): void {
    this.#limit = Math.max(1, Math.min(this.maxConcurrent, Math.floor(limit)));
    this.#drain();
  }

  /**
   * Why a caller arriving now would be refused, or undefined when it would
   * get a slot or a queue place. A refusal is counted in {@linkcode shed}.
   */
  refusal(): CapacityError | undefined {
    const refused = this.#refusal();
    if (refused !== undefined) this.#shed++;
    return refused;
  }

  /** Takes a slot if one is free now, without waiting. */
  tryAcquire(): Release | undefined {
    if (this.#running >= this.#limit) return undefined;
    this.#running++;
    return this.#grant();
  }

  /**
   * Takes a slot, waiting in the queue if none is free. Rejects with a
   * {@linkcode CapacityError} when the caller is refused (see
   * {@linkcode refusal}), and with the signal's reason when it aborts first
   * (the caller then leaves the queue).
   */
  acquire(signal?: Cancellation): Promise<Release> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const release = this.tryAcquire();
    if (release) return Promise.resolve(release);
    const refused = this.refusal();
    if (refused !== undefined) return Promise.reject(refused);
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

  #refusal(): CapacityError | undefined {
    if (this.#running < this.#limit) return undefined;
    const queued = this.#queue.size;
    if (queued >= this.maxQueued) return new CapacityError(this.cap, this.maxQueued);
    // Only a queue at least one round of slots long: a short queue behind slow queries (a
    // node just killed, its calls waiting for their attempt timeout) is a slow backend, not
    // overload, and its few callers wait about one query time (the fault suite's contact-node
    // kill had reads refused with 6 queued behind a limit of 9).
    if (this.maxQueueWaitMs !== Infinity && queued >= this.#limit) {
      // Every holder has held its slot at least since the last grant (NaN before any: 0).
      const heldMs = this.#now() - this.#lastGrantAt || 0;
      const perSlotMs = Number.isNaN(this.#rttMs) ? heldMs : Math.max(this.#rttMs, heldMs);
      const waitMs = ((queued + 1) * perSlotMs) / this.#limit;
      if (waitMs > this.maxQueueWaitMs) {
        return new CapacityError(
          "maxQueueWait",
          this.maxQueueWaitMs,
          `estimated wait ${Math.round(waitMs)} ms: ${queued} queued, limit ${this.#limit}`,
        );
      }
    }
    return undefined;
  }

  /** A one-shot release for a slot just taken; times the hold for the samples. */
  #grant(): Release {
    const startedAt = this.#now();
    this.#lastGrantAt = startedAt;
    let released = false;
    return (outcome = "ok") => {
      if (released) return;
      released = true;
      if (outcome !== "ignored") this.#sample(this.#now() - startedAt, outcome === "dropped");
      this.#running--;
      this.#drain();
    };
  }

  #sample(rttMs: number, dropped: boolean): void {
    this.#rttMs = Number.isNaN(this.#rttMs)
      ? rttMs
      : this.#rttMs + (rttMs - this.#rttMs) * RTT_ALPHA;
    const algorithm = this.#algorithm;
    if (algorithm !== undefined) {
      this.#limit = Math.max(
        1,
        Math.min(this.maxConcurrent, algorithm.onSample(rttMs, this.#running, dropped)),
      );
    }
  }

  /** Hands free slots to the oldest waiters. */
  #drain(): void {
    while (this.#running < this.#limit && this.#queue.size > 0) {
      const next = this.#queue.values().next().value!;
      this.#queue.delete(next);
      next.unsubscribe();
      this.#running++;
      next.resolve(this.#grant());
    }
  }
}
