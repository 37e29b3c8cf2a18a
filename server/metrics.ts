/**
 * The instance's counters, as Prometheus metrics (prom-client, one registry per
 * instance) and as the totals that GetStats and getAndResetMetrics report.
 * Counters only grow; nothing here is ever reset.
 *
 * @module
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";

/** Cumulative totals, as GetStats reports them. */
export interface Totals {
  requests: number;
  queries: number;
  coalesced: number;
  errors: number;
  rejected: number;
}

/** Current values of the coalescer's gauges. */
export interface InFlight {
  flights: number;
  waiters: number;
}

const LATENCY_BUCKETS = [
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
];

/** Metrics of one data-service instance. */
export class ServiceMetrics {
  readonly registry = new Registry();
  /** RPCs by method and final code ("ok", "not_found", ...). */
  readonly requests: Counter<"method" | "code">;
  /** Store operations sent to Cassandra, by operation. */
  readonly queries: Counter<"op">;
  /** Reads answered by joining a flight already running. */
  readonly coalesced: Counter;
  /** Reads refused because a cap was reached, by cap. */
  readonly rejected: Counter<"cap">;
  /** RPC latency in seconds, by method. */
  readonly requestSeconds: Histogram<"method">;
  /** Store operation latency in seconds, by operation. */
  readonly querySeconds: Histogram<"op">;

  /** @param inFlight reads the coalescer's gauges when scraped. */
  constructor(inFlight: () => InFlight) {
    const registers = [this.registry];
    this.requests = new Counter({
      name: "dataservices_requests_total",
      help: "Data RPCs received, by method and final code.",
      labelNames: ["method", "code"],
      registers,
    });
    this.queries = new Counter({
      name: "dataservices_queries_total",
      help: "Store operations sent to Cassandra, by operation.",
      labelNames: ["op"],
      registers,
    });
    this.coalesced = new Counter({
      name: "dataservices_coalesced_total",
      help: "Reads answered by joining a query already in flight.",
      registers,
    });
    this.rejected = new Counter({
      name: "dataservices_rejected_total",
      help: "Reads refused with RESOURCE_EXHAUSTED because a cap was reached, by cap.",
      labelNames: ["cap"],
      registers,
    });
    this.requestSeconds = new Histogram({
      name: "dataservices_request_duration_seconds",
      help: "RPC latency in seconds, by method.",
      labelNames: ["method"],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.querySeconds = new Histogram({
      name: "dataservices_query_duration_seconds",
      help: "Cassandra operation latency in seconds, by operation.",
      labelNames: ["op"],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    new Gauge({
      name: "dataservices_flights_in_progress",
      help: "Read queries (flights) running now.",
      registers,
      collect() {
        this.set(inFlight().flights);
      },
    });
    new Gauge({
      name: "dataservices_waiters_in_progress",
      help: "Callers waiting on flights now.",
      registers,
      collect() {
        this.set(inFlight().waiters);
      },
    });
  }

  /** Sums the counters into the totals GetStats reports. */
  async totals(): Promise<Totals> {
    const sum = async (
      c: Counter<string>,
      pred: (l: Record<string, unknown>) => boolean = () => true,
    ) => (await c.get()).values.reduce((n, v) => pred(v.labels) ? n + v.value : n, 0);
    return {
      requests: await sum(this.requests),
      queries: await sum(this.queries),
      coalesced: await sum(this.coalesced),
      errors: await sum(this.requests, (l) => l.code !== "ok"),
      rejected: await sum(this.rejected),
    };
  }

  /** Prometheus text exposition. */
  async exposition(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

/**
 * The original's getAndResetMetrics view: counts since the previous call.
 * It keeps a baseline instead of resetting counters, so no increment is lost
 * and GetStats/`/metrics` are unaffected.
 */
export class ResettableWindow {
  #base = { requests: 0, queries: 0 };

  /** Returns the counts since the previous call and starts a new window. */
  take(now: Totals): { requests: number; queries: number } {
    const out = {
      requests: now.requests - this.#base.requests,
      queries: now.queries - this.#base.queries,
    };
    this.#base = { requests: now.requests, queries: now.queries };
    return out;
  }
}
