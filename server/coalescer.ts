/**
 * Request coalescing: callers asking for a key while a call for it is in
 * flight wait for that call and share its outcome (like Go's singleflight).
 *
 * - No caching: a flight leaves the map as it ends, so the next arrival starts
 *   a new call. Errors reach every waiter and are never kept.
 * - A caller's own signal only ever releases that caller. The call runs under
 *   the flight's own signal, aborted when `flightTimeoutMs` passes or when the
 *   last waiter has left (nobody can join such a doomed flight).
 * - A flight older than `maxFlightAgeMs` takes no new waiters (nginx's
 *   `proxy_cache_lock_age`); map entries are deleted only by their own flight.
 * - Caps on waiters per flight and on flights (as Vitess's consolidator), past
 *   which callers are rejected or run alone, and a concurrency limit on calls
 *   (fixed or adaptive, limiter.ts) whose refusals reject new flights at once
 *   while arrivals for a key already in flight still join it.
 * - A call never starts for nobody: a flight that waited for a slot checks its
 *   waiters' cancellations as the slot is handed over (a deadline that passed
 *   in the meantime counts even if its timer has not fired yet) and passes the
 *   slot on when none is left.
 *
 * Coalescing does not give read-after-write consistency: a read that joins a
 * flight may miss a write that completed after the flight started.
 *
 * @module
 */
import type { Cancellation } from "../lib/cancellation.ts";
import { type Cap, CapacityError, checkCount, Limiter, type Outcome } from "./limiter.ts";

import {
  type CallFn,
  type Coalesced,
  type CoalescerEvent,
  type CoalescerOptions,
  type CoalescerStats,
  type FlightEnd,
  FlightTimeoutError,
} from "./coalescer_options.ts";

export { type Cancellation, type Cap, CapacityError, Limiter };
export {
  type CallFn,
  type Coalesced,
  type CoalescerEvent,
  type CoalescerOptions,
  type CoalescerStats,
  type FlightEnd,
  FlightTimeoutError,
};

/** One shared call and the callers waiting for it. */
interface Flight<T, K> {
  /** For the identity-checked delete and for events. */
  readonly key: K;
  /** Owned by the flight, never by a caller: fn gets its signal. */
  readonly controller: AbortController;
  /**
   * Settled once, when the flight ends. Waiters without a signal get this
   * very promise: nothing is allocated per such waiter.
   */
  readonly outcome: PromiseWithResolvers<Coalesced<T>>;
  /** performance.now() at the start, for maxFlightAgeMs and durations. */
  readonly startedAt: number;
  /** Callers still waiting; reaching 0 before the end abandons the flight. */
  waiters: number;
  /** Set at the end: no more counting, and a late abort is ignored. */
  done: boolean;
  /** The flightTimeoutMs timer, cleared at the end. */
  timer?: ReturnType<typeof setTimeout>;
  /** Whether fn was called (a flight that ends before is counted as dropped). */
  called: boolean;
  /**
   * Every waiter's cancellation, in arrival order (those that left stay): read
   * once as a queued flight gets its slot, so a deadline that passed before
   * its timer fired still keeps the call from starting.
   */
  signals: Cancellation[] | undefined;
}

const now = () => performance.now();

/**
 * Coalesces concurrent calls by key. A key must always stand for the same kind
 * of value (prefix keys by kind when one coalescer serves several): a joiner
 * gets whatever the starter's fn produced.
 *
 * @example
 * ```ts
 * const messages = new Coalescer<Message | null>({ flightTimeoutMs: 2000, maxFlights: 10_000 });
 * const { value, shared } = await messages.do(
 *   `${channelId}/${messageId}`,
 *   (signal) => db.getMessage(channelId, messageId, { signal }),
 *   { signal: AbortSignal.timeout(500) }, // this caller's deadline only
 * );
 * ```
 */
export class Coalescer<T = unknown, K extends string = string> {
  /** Flights open to joiners, by key: the only place where arrivals find one. */
  #flights = new Map<K, Flight<T, K>>();
  /** Bounds calls of fn; undefined when unlimited. */
  #limiter?: Limiter;
  /** The options, validated, with defaults. */
  #o: Required<Omit<CoalescerOptions, "limiter" | "maxConcurrentCalls" | "maxQueuedCalls">>;
  /** What {@linkcode stats} copies; `keys` is read from the map. */
  // deno-fmt-ignore
  #stats: CoalescerStats = {
    calls: 0, joins: 0, independent: 0, errors: 0, timeouts: 0, cancels: 0, abandoned: 0,
    dropped: 0, aged: 0,
    rejected: { maxWaitersPerFlight: 0, maxFlights: 0, maxQueuedCalls: 0, maxQueueWait: 0 },
    flights: 0, keys: 0, waiters: 0, runningCalls: 0, queuedCalls: 0,
  };

  /** @throws {RangeError} when an option is out of range. */
  constructor(options: CoalescerOptions = {}) {
    const { maxConcurrentCalls: maxConcurrent, maxQueuedCalls: maxQueued, limiter } = options;
    for (const name of ["flightTimeoutMs", "maxFlightAgeMs"] as const) {
      const ms = options[name] ?? Infinity;
      if (!(ms > 0 && (ms <= 2 ** 31 - 1 || ms === Infinity))) { // setTimeout's range
        throw new RangeError(`${name} must be in 1..2147483647 ms or Infinity, got ${ms}`);
      }
    }
    checkCount("maxWaitersPerFlight", options.maxWaitersPerFlight ?? Infinity, 1);
    checkCount("maxFlights", options.maxFlights ?? Infinity, 1);
    const overCap = options.overCap ?? "reject";
    if (overCap !== "reject" && overCap !== "independent") {
      throw new RangeError(`overCap must be "reject" or "independent", got ${overCap}`);
    }
    if (limiter && (maxConcurrent ?? maxQueued) !== undefined) {
      throw new RangeError("Give either limiter or maxConcurrentCalls/maxQueuedCalls, not both");
    }
    if (maxConcurrent === undefined && maxQueued !== undefined) {
      throw new RangeError("maxQueuedCalls needs maxConcurrentCalls");
    }
    checkCount("maxConcurrentCalls", maxConcurrent ?? Infinity, 1);
    checkCount("maxQueuedCalls", maxQueued ?? Infinity, 0);
    this.#limiter = limiter ??
      (maxConcurrent === undefined ? undefined : new Limiter({ maxConcurrent, maxQueued }));
    this.#o = {
      enabled: options.enabled ?? true,
      flightTimeoutMs: options.flightTimeoutMs ?? Infinity,
      maxFlightAgeMs: options.maxFlightAgeMs ?? Infinity,
      maxWaitersPerFlight: options.maxWaitersPerFlight ?? Infinity,
      maxFlights: options.maxFlights ?? Infinity,
      overCap,
      isOverload: options.isOverload ?? (() => false),
      onEvent: options.onEvent ?? (() => {}),
    };
  }

  /**
   * Joins the flight for `key`, or starts one that calls `fn`; resolves with
   * fn's value or rejects with its very error. Never throws synchronously.
   * Also rejects with `options.signal`'s reason if it aborts first (at once if
   * already aborted), a {@linkcode FlightTimeoutError}, or a {@linkcode CapacityError}.
   * The signal may be an `AbortSignal` or any {@linkcode Cancellation}.
   * Callers without one share the flight's own promise (nothing is allocated
   * per such caller).
   *
   * @example
   * ```ts
   * try {
   *   return (await coalescer.do(key, load, { signal: ctx.signal })).value;
   * } catch (e) {
   *   if (e instanceof CapacityError) throw new ConnectError(e.message, Code.ResourceExhausted);
   *   if (e instanceof FlightTimeoutError) throw new ConnectError(e.message, Code.DeadlineExceeded);
   *   throw e; // fn's own error, or the caller's abort reason
   * }
   * ```
   */
  do<V extends T = T>(
    key: K,
    fn: CallFn<V>,
    options: { signal?: Cancellation } = {},
  ): Promise<Coalesced<V>> {
    return this.#do(key, fn, options.signal) as Promise<Coalesced<V>>;
  }

  /**
   * Makes the next arrival for `key` start a new call; the flight in progress
   * still serves its own waiters. Returns whether there was one to forget.
   */
  forget(key: K): boolean {
    return this.#flights.delete(key);
  }

  /** The limiter of calls, if any (its limit, queue and shed counts). */
  get limiter(): Limiter | undefined {
    return this.#limiter;
  }

  /** A copy of the counters and gauges, e.g. for a Prometheus collector. */
  stats(): CoalescerStats {
    const s = this.#stats;
    return { ...s, rejected: { ...s.rejected }, keys: this.#flights.size };
  }

  #do(key: K, fn: CallFn<T>, signal: Cancellation | undefined): Promise<Coalesced<T>> {
    if (signal?.aborted) {
      this.#stats.cancels++;
      this.#emit({ type: "cancel", key });
      return Promise.reject(signal.reason);
    }
    if (!this.#o.enabled) return this.#start(key, fn, signal, false);
    let flight = this.#flights.get(key);
    if (flight && now() - flight.startedAt >= this.#o.maxFlightAgeMs) {
      this.#flights.delete(key); // closed to joiners; it still serves its own waiters
      this.#stats.aged++;
      this.#emit({ type: "aged", key, ageMs: now() - flight.startedAt });
      flight = undefined;
    }
    const { maxWaitersPerFlight, maxFlights } = this.#o;
    if (flight && flight.waiters < maxWaitersPerFlight) {
      this.#stats.joins++;
      this.#emit({ type: "join", key, waiters: flight.waiters + 1 });
      return this.#wait(flight, signal);
    }
    if (flight) return this.#overCap(key, fn, signal, "maxWaitersPerFlight", maxWaitersPerFlight);
    if (this.#flights.size >= maxFlights) {
      return this.#overCap(key, fn, signal, "maxFlights", maxFlights);
    }
    return this.#start(key, fn, signal, true);
  }

  #overCap(key: K, fn: CallFn<T>, signal: Cancellation | undefined, cap: Cap, limit: number) {
    if (this.#o.overCap === "reject") return this.#reject(key, cap, limit);
    this.#stats.independent++;
    return this.#start(key, fn, signal, false);
  }

  #reject(key: K, cap: Cap, limit: number): Promise<never> {
    return this.#refuse(key, new CapacityError(cap, limit));
  }

  #refuse(key: K, error: CapacityError): Promise<never> {
    const cap = error.cap as Cap;
    this.#stats.rejected[cap]++;
    this.#emit({ type: "reject", key, cap });
    return Promise.reject(error);
  }

  /** Starts a flight (in the map if `register`) with the caller as its first waiter. */
  #start(key: K, fn: CallFn<T>, signal: Cancellation | undefined, register: boolean) {
    const refused = this.#limiter?.refusal();
    if (refused !== undefined) return this.#refuse(key, refused);
    const flight: Flight<T, K> = {
      key,
      controller: new AbortController(),
      outcome: Promise.withResolvers<Coalesced<T>>(),
      startedAt: now(),
      waiters: 0,
      done: false,
      called: false,
      signals: undefined,
    };
    // Waiters that got the promise itself handle it; this keeps an abandoned
    // flight's rejection from being reported as unhandled.
    flight.outcome.promise.catch(() => {});
    if (register) this.#flights.set(key, flight);
    this.#stats.flights++;
    this.#emit({ type: "start", key, independent: this.#o.enabled && !register });
    const coalesced = this.#wait(flight, signal);
    const timeoutMs = this.#o.flightTimeoutMs;
    if (timeoutMs !== Infinity) {
      flight.timer = setTimeout(() => {
        this.#end(flight, "timeout", { error: new FlightTimeoutError(key, timeoutMs) });
      }, timeoutMs);
    }
    this.#call(flight, fn).then(
      (value) => this.#end(flight, "value", { value }),
      (error) => this.#end(flight, "error", { error }),
    );
    return coalesced;
  }

  /** Waits for a call slot, then calls fn (a synchronous throw becomes a rejection). */
  async #call(flight: Flight<T, K>, fn: CallFn<T>): Promise<T> {
    const { signal } = flight.controller;
    let release = this.#limiter?.tryAcquire();
    if (this.#limiter && !release) {
      this.#stats.queuedCalls++;
      try {
        release = await this.#limiter.acquire(signal); // leaves the queue if signal aborts
      } finally {
        this.#stats.queuedCalls--;
      }
      // Time passed in the queue: a waiter's deadline may have passed before its timer fired.
      // Reading `aborted` makes such a signal abort now (and the flight with its last waiter).
      for (const s of flight.signals ?? []) if (s.aborted && flight.done) break;
      if (signal.aborted) { // ended as the slot was handed over: pass it on
        release("ignored");
        throw signal.reason;
      }
    }
    flight.called = true;
    this.#stats.calls++;
    this.#stats.runningCalls++;
    let outcome: Outcome = "ok";
    try {
      return await fn(signal);
    } catch (error) {
      outcome = signal.aborted
        ? (signal.reason instanceof FlightTimeoutError ? "dropped" : "ignored")
        : this.#o.isOverload(error)
        ? "dropped"
        : "ignored";
      throw error;
    } finally {
      this.#stats.runningCalls--;
      release?.(outcome);
    }
  }

  /** Adds a waiter: settles with the flight's outcome, or the caller's abort reason. */
  #wait(flight: Flight<T, K>, signal: Cancellation | undefined): Promise<Coalesced<T>> {
    flight.waiters++;
    this.#stats.waiters++;
    if (signal === undefined) return flight.outcome.promise;
    (flight.signals ??= []).push(signal);
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        if (flight.done) return; // the outcome is already on its way to this waiter
        flight.waiters--;
        this.#stats.waiters--;
        this.#stats.cancels++;
        this.#emit({ type: "cancel", key: flight.key });
        reject(signal.reason);
        if (flight.waiters > 0) return;
        const error = new DOMException("Every waiter left the flight", "AbortError");
        this.#end(flight, "abandoned", { error });
      };
      signal.addEventListener("abort", onAbort, { once: true });
      flight.outcome.promise.then((coalesced) => {
        signal.removeEventListener("abort", onAbort);
        resolve(coalesced);
      }, (error) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      });
    });
  }

  /** Ends a flight once: unmaps it if still its own entry, counts, aborts fn if needed, settles. */
  #end(flight: Flight<T, K>, end: FlightEnd, outcome: { value: T } | { error: unknown }): void {
    if (flight.done) return;
    flight.done = true;
    clearTimeout(flight.timer);
    if (this.#flights.get(flight.key) === flight) this.#flights.delete(flight.key);
    const s = this.#stats;
    s.flights--;
    s.waiters -= flight.waiters;
    if (end === "error") s.errors++;
    if (end === "timeout") s.timeouts++;
    if (end === "abandoned") s.abandoned++;
    if (!flight.called && (end === "abandoned" || end === "timeout")) s.dropped++;
    const durationMs = now() - flight.startedAt;
    this.#emit({
      type: "end",
      key: flight.key,
      end,
      durationMs,
      waiters: flight.waiters,
      called: flight.called,
    });
    if ("value" in outcome) {
      return flight.outcome.resolve({ value: outcome.value, shared: flight.waiters > 1 });
    }
    if (end === "timeout" || end === "abandoned") flight.controller.abort(outcome.error);
    flight.outcome.reject(outcome.error);
  }

  /** Reports an event; a throwing hook must never break delivery to waiters. */
  #emit(event: CoalescerEvent): void {
    try {
      this.#o.onEvent(event);
    } catch { /* ignored: metrics must not break requests */ }
  }
}
