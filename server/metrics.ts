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

/** Labels of the RPC metrics, as go-grpc-prometheus names them. */
type RpcLabel = "grpc_type" | "grpc_service" | "grpc_method";

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
export class ServiceMetrics {
  readonly registry = new Registry();
  /** RPCs started, by service and method. */
  readonly started: Counter<RpcLabel>;
  /** RPCs finished, by service, method and gRPC code name ("OK", "NotFound", ...). */
  readonly handled: Counter<RpcLabel | "grpc_code">;
  /** RPC latency in seconds, by service and method. */
  readonly handlingSeconds: Histogram<RpcLabel>;
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
    this.#counted = counted;
    const registers = [this.registry];
    const rpc: RpcLabel[] = ["grpc_type", "grpc_service", "grpc_method"];
    this.started = new Counter({
      name: "grpc_server_started_total",
      help: "RPCs started on the server (every protocol: gRPC, gRPC-web, Connect).",
      labelNames: rpc,
      registers,
    });
    this.handled = new Counter({
      name: "grpc_server_handled_total",
      help: "RPCs completed on the server, by gRPC code.",
      labelNames: [...rpc, "grpc_code"],
      registers,
    });
    this.handlingSeconds = new Histogram({
      name: "grpc_server_handling_seconds",
      help: "Time from the start of an RPC to its reply, in seconds.",
      labelNames: rpc,
      buckets: LATENCY_BUCKETS,
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
