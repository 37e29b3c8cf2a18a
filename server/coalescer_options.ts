/**
 * The coalescer's surface besides the class (coalescer.ts): its options, what
 * a caller receives, its events and counters, and the flight timeout error.
 *
 * @module
 */
import type { Cap, Limiter } from "./limiter.ts";

/** The rejection of every waiter of a flight past `flightTimeoutMs`, and its signal's reason. */
export class FlightTimeoutError extends Error {
  override name = "FlightTimeoutError";
  /**
   * @param key the flight's key.
   * @param timeoutMs the bound that passed.
   */
  constructor(readonly key: string, readonly timeoutMs: number) {
    super(`Flight timed out after ${timeoutMs} ms`);
  }
}

/** The shared call; it should stop when `signal` (the flight's, not a caller's) aborts. */
export type CallFn<T> = (signal: AbortSignal) => Promise<T>;

/** Options of {@linkcode Coalescer}; all are optional. */
export interface CoalescerOptions {
  /** false: every call runs fn alone (a baseline for benchmarks); caps are off, limits are on. */
  enabled?: boolean;
  /**
   * Bound on a flight, queue time included: then its signal aborts and its
   * waiters reject with a {@linkcode FlightTimeoutError}. Default: none.
   */
  flightTimeoutMs?: number;
  /** A flight this old takes no new waiters; the next arrival starts afresh. Default: none. */
  maxFlightAgeMs?: number;
  /** Most callers waiting on one flight, its starter included. Default: Infinity. */
  maxWaitersPerFlight?: number;
  /** Most keys with a flight open to joiners (the size of the map). Default: Infinity. */
  maxFlights?: number;
  /**
   * Past maxWaitersPerFlight or maxFlights: "reject" with a {@linkcode CapacityError}
   * (the default), or run fn "independent"ly for that caller, outside the map.
   */
  overCap?: "reject" | "independent";
  /** Most calls of fn running at once; the others queue. Default: Infinity. */
  maxConcurrentCalls?: number;
  /** Most flights queued for a call; past it, a {@linkcode CapacityError}. Default: Infinity. */
  maxQueuedCalls?: number;
  /** A limiter shared with other coalescers, instead of maxConcurrentCalls and maxQueuedCalls. */
  limiter?: Limiter;
  /**
   * Whether an error of fn means the backend is overloaded (a timeout, "overloaded",
   * "unavailable"): the limiter then counts the call as dropped, which lowers an
   * adaptive limit. Default: no error does.
   */
  isOverload?: (error: unknown) => boolean;
  /** Called synchronously on each {@linkcode CoalescerEvent}; what it throws is ignored. */
  onEvent?: (event: CoalescerEvent) => void;
}

/** What a caller receives. */
export interface Coalesced<T> {
  /** The value fn resolved with. */
  value: T;
  /** Whether the value went to more than one caller. */
  shared: boolean;
}

/** How a flight ended: fn's value or error, the time bound, or every waiter gone. */
export type FlightEnd = "value" | "error" | "timeout" | "abandoned";

/** What happened; keys are unbounded: log them, never make them metric labels. */
export type CoalescerEvent =
  | { type: "start"; key: string; independent: boolean }
  | { type: "join"; key: string; waiters: number }
  | { type: "cancel"; key: string }
  | { type: "reject"; key: string; cap: Cap }
  | { type: "aged"; key: string; ageMs: number }
  | {
    type: "end";
    key: string;
    end: FlightEnd;
    durationMs: number;
    waiters: number;
    /** Whether fn was called (false: the flight ended in the queue). */
    called: boolean;
  };

/** Counters (since construction) and gauges (now). */
export interface CoalescerStats {
  /** Counter: calls of fn started. */
  calls: number;
  /** Counter: arrivals that joined a flight instead of calling fn. */
  joins: number;
  /** Counter: arrivals past a cap that ran fn alone (overCap "independent"). */
  independent: number;
  /** Counter: flights whose fn failed (each waiter got the error). */
  errors: number;
  /** Counter: flights ended by flightTimeoutMs. */
  timeouts: number;
  /** Counter: callers released by their own signal (already aborted ones included). */
  cancels: number;
  /** Counter: flights aborted because their last waiter left. */
  abandoned: number;
  /** Counter: flights that ended (every waiter gone, or timed out) before fn was called. */
  dropped: number;
  /** Counter: flights closed to joiners for being older than maxFlightAgeMs. */
  aged: number;
  /** Counters: callers turned away with a CapacityError, by cap. */
  rejected: Record<Cap, number>;
  /** Gauge: flights in progress (open to joiners, independent or aged). */
  flights: number;
  /** Gauge: keys with a flight open to joiners. */
  keys: number;
  /** Gauge: callers waiting on a flight. */
  waiters: number;
  /** Gauge: calls of fn not yet settled (an aborted one counts until it settles). */
  runningCalls: number;
  /** Gauge: flights waiting for a call slot. */
  queuedCalls: number;
}
