/**
 * The instance's counters, as Prometheus metrics (prom-client, one registry per
 * instance) and as the totals that GetStats and getAndResetMetrics report.
 * Counters only grow; nothing here is ever reset.
 *
 * @module
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { registerProcessMetrics } from "../http/process_metrics.ts";
import { LATENCY_BUCKETS, RpcMetrics } from "../http/rpc_metrics.ts";

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

/** Whether calls of `service`/`method` count as data requests in {@linkcode Totals}. */
export type CountedPredicate = (service: string, method: string) => boolean;

/**
 * Metrics of one data-service instance.
 *
 * RPC metrics use the go-grpc-prometheus names and labels
 * (`grpc_server_started_total`, `grpc_server_handled_total{grpc_code}`,
 * `grpc_server_handling_seconds`) for every protocol, so stock gRPC
 * dashboards work; domain metrics are `dataservices_*`.
 */
export class ServiceMetrics extends RpcMetrics {
  readonly registry: Registry;
  /** Store operations sent to Cassandra, by operation. */
  readonly queries: Counter<"op">;
  /** Reads answered by joining a flight already running. */
  readonly coalesced: Counter;
  /** Reads refused because a cap was reached, by cap. */
  readonly rejected: Counter<"cap">;
  /** Store operation latency in seconds, by operation. */
  readonly querySeconds: Histogram<"op">;
  #counted: CountedPredicate;

  /**
   * @param inFlight reads the coalescer's gauges when scraped.
   * @param counted which RPCs {@linkcode totals} counts as requests (default: all).
   */
  constructor(inFlight: () => InFlight, counted: CountedPredicate = () => true) {
    const registry = new Registry();
    super(registry);
    this.registry = registry;
    // Process and runtime metrics (CPU, RSS, heap, event-loop lag), read when scraped.
    registerProcessMetrics(registry);
    this.#counted = counted;
    const registers = [registry];
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
    this.querySeconds = new Histogram({
      name: "dataservices_query_duration_seconds",
      help: "Cassandra operation latency in seconds, by operation.",
      labelNames: ["op"],
      buckets: [...LATENCY_BUCKETS],
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
    const counted = (l: Record<string, unknown>) =>
      this.#counted(String(l.grpc_service), String(l.grpc_method));
    const sum = async (
      c: Counter<string>,
      pred: (l: Record<string, unknown>) => boolean = () => true,
    ) => (await c.get()).values.reduce((n, v) => pred(v.labels) ? n + v.value : n, 0);
    return {
      requests: await sum(this.handled, counted),
      queries: await sum(this.queries),
      coalesced: await sum(this.coalesced),
      errors: await sum(this.handled, (l) => counted(l) && l.grpc_code !== "OK"),
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
