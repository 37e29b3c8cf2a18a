/**
 * An adaptive concurrency limit driven by query latency, after Netflix's
 * concurrency-limits `VegasLimit` (TCP Vegas applied to requests), with
 * `AIMDLimit`'s multiplicative backoff when a query is dropped.
 *
 * Every finished query is a sample: the time it held its slot (its RTT) and
 * how many slots were held. The RTT is smoothed over about ten queries; the
 * smallest smoothed RTT seen is the no-load RTT (what Cassandra answers in
 * when nothing queues). Then, per sample, the queries queued inside Cassandra
 * (and the driver) are estimated as
 *
 * ```text
 * queue = limit × (1 − noLoadRtt / rtt)          (Little's law: limit − throughput × noLoadRtt)
 * ```
 *
 * and, with `l = log10(limit)` (at least 1):
 *
 * | queue              | new limit        |
 * | ------------------ | ---------------- |
 * | ≤ l                | limit + 6l       | nothing queues: grow fast
 * | < 3l               | limit + l        | a little: grow slowly
 * | > 6l               | limit − l        | Cassandra is queueing: shrink
 * | otherwise          | unchanged        | the sweet spot
 *
 * clamped to [min, max]. A dropped query (Cassandra timed out, or said it is
 * overloaded or unavailable) multiplies the limit by 0.9 at once. While fewer
 * than half the slots are in use the limit does not move (the load, not
 * Cassandra, sets the pace). Every ~30 × limit samples (jittered) the no-load
 * RTT is reset to the current one, so a permanent change of Cassandra's speed
 * (more nodes, a slower disk) is learned rather than mistaken for queueing.
 *
 * Why a limit on concurrency rather than a rate: the concurrency Cassandra
 * sustains is its throughput × latency; once queries queue inside it, latency
 * grows and throughput does not. Queries kept out wait in our own queue
 * instead, where identical reads still join their flight and a caller whose
 * deadline passes is dropped before its query starts.
 *
 * Why Vegas rather than Gradient2 (Netflix's other delay-based limit): the
 * gradient compares the latency now with a long average of past latency, so
 * a slowdown that lasts becomes the new normal and the limit climbs back to
 * the ceiling while Cassandra still queues; Vegas compares with the no-load
 * latency, which a lasting overload does not move.
 *
 * @module
 */

/** Turns query samples into a concurrency limit. */
export interface LimitAlgorithm {
  /** The limit now (a whole number >= 1). */
  readonly limit: number;
  /**
   * One finished query.
   *
   * @param rttMs how long it held its slot.
   * @param inflight slots held when it finished (itself included).
   * @param dropped it failed for a reason that means overload.
   * @returns the new limit.
   */
  onSample(rttMs: number, inflight: number, dropped: boolean): number;
}

/** Options of {@linkcode VegasLimit}. */
export interface VegasLimitOptions {
  /** Floor (an integer >= 1). */
  readonly min: number;
  /** Ceiling (an integer >= min). */
  readonly max: number;
  /** Start value, clamped to [min, max]. Default 32. */
  readonly initial?: number;
  /** Samples in the smoothed RTT. Default 10. */
  readonly rttWindow?: number;
  /** Factor applied on a dropped query, [0.5, 1). Default 0.9. */
  readonly backoff?: number;
  /** The no-load RTT is re-learned every probeMultiplier × limit samples (jittered ×0.5..1). Default 30. */
  readonly probeMultiplier?: number;
  /** Random numbers in [0, 1) for the probe jitter (default Math.random). */
  readonly random?: () => number;
}

/** Netflix's Vegas limit on a smoothed RTT (see the module documentation). */
export class VegasLimit implements LimitAlgorithm {
  readonly min: number;
  readonly max: number;
  #estimate: number;
  readonly #alpha: number;
  readonly #backoff: number;
  readonly #probeMultiplier: number;
  readonly #random: () => number;
  /** Smoothed RTT (ms); NaN before the first sample. */
  #rtt = NaN;
  /** Smallest smoothed RTT since the last probe (ms). */
  #noLoad = Infinity;
  #samples = 0;
  #probeAt = 0;

  /** @throws {RangeError} when an option is out of range. */
  constructor(o: VegasLimitOptions) {
    if (!Number.isInteger(o.min) || o.min < 1) {
      throw new RangeError(`min must be an integer >= 1, got ${o.min}`);
    }
    if (!Number.isInteger(o.max) || o.max < o.min) {
      throw new RangeError(`max must be an integer >= min (${o.min}), got ${o.max}`);
    }
    const backoff = o.backoff ?? 0.9;
    if (!(backoff >= 0.5 && backoff < 1)) {
      throw new RangeError(`backoff must be in [0.5, 1), got ${backoff}`);
    }
    const window = o.rttWindow ?? 10;
    if (!(window >= 1)) throw new RangeError(`rttWindow must be >= 1, got ${window}`);
    this.min = o.min;
    this.max = o.max;
    this.#estimate = Math.min(o.max, Math.max(o.min, o.initial ?? 32));
    this.#alpha = 2 / (window + 1);
    this.#backoff = backoff;
    this.#probeMultiplier = o.probeMultiplier ?? 30;
    this.#random = o.random ?? Math.random;
    this.#scheduleProbe();
  }

  get limit(): number {
    return Math.floor(this.#estimate);
  }

  /** The smoothed RTT now (ms); undefined before the first sample. */
  get rttMs(): number | undefined {
    return Number.isNaN(this.#rtt) ? undefined : this.#rtt;
  }

  /** The no-load RTT the queue is estimated against (ms); undefined before the first sample. */
  get noLoadRttMs(): number | undefined {
    return this.#noLoad === Infinity ? undefined : this.#noLoad;
  }

  onSample(rttMs: number, inflight: number, dropped: boolean): number {
    const rtt = this.#rtt = Number.isNaN(this.#rtt)
      ? rttMs
      : this.#rtt + (rttMs - this.#rtt) * this.#alpha;
    if (++this.#samples >= this.#probeAt) {
      this.#noLoad = rtt;
      this.#scheduleProbe();
    } else if (rtt < this.#noLoad) {
      this.#noLoad = rtt;
    }
    if (dropped) {
      this.#estimate = Math.max(this.min, this.#estimate * this.#backoff);
      return this.limit;
    }
    if (inflight * 2 < this.#estimate) return this.limit; // the load sets the pace
    const limit = this.#estimate;
    const l = Math.max(1, Math.log10(limit));
    const queue = rtt > 0 ? limit * (1 - this.#noLoad / rtt) : 0;
    let next = limit;
    if (queue <= l) next = limit + 6 * l;
    else if (queue < 3 * l) next = limit + l;
    else if (queue > 6 * l) next = limit - l;
    this.#estimate = Math.max(this.min, Math.min(this.max, next));
    return this.limit;
  }

  #scheduleProbe(): void {
    const jitter = 0.5 + 0.5 * this.#random();
    this.#probeAt = this.#samples +
      Math.max(1, Math.ceil(jitter * this.#probeMultiplier * this.#estimate));
  }
}
