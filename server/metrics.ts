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
import type { HotKeysView, WindowName } from "./hotkeys/hot_keys.ts";
import { savedRatio } from "./hotkeys/response.ts";

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

/** The read query limiter now (limiter.ts). */
export interface LimiterGauges {
  limit: number;
  running: number;
  queued: number;
  /** Recent time per query (ms); undefined before the first. */
  rttMs: number | undefined;
}

/** Optional sources of gauges read when scraped. */
export interface MetricSources {
  /** The read query limiter. */
  readonly limiter?: () => LimiterGauges;
  /** Hot-key views (top 5 by rank). */
  readonly hotKeys?: (window: WindowName) => HotKeysView;
}

/** Ranks exported per window: labels stay bounded (never raw channel ids). */
export const HOT_RANKS = 5;
/** Window label values. */
const WINDOWS: Record<WindowName, string> = { short: "10s", long: "5m" };

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
  /** Queued read queries dropped before Cassandra because every caller left. */
  readonly dropped: Counter;
  /** Writes refused by their channel's token bucket. */
  readonly throttled: Counter;
  #counted: CountedPredicate;

  /**
   * @param inFlight reads the coalescer's gauges when scraped.
   * @param counted which RPCs {@linkcode totals} counts as requests (default: all).
   */
  constructor(
    inFlight: () => InFlight,
    counted: CountedPredicate = () => true,
    sources: MetricSources = {},
  ) {
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
    this.dropped = new Counter({
      name: "dataservices_queries_dropped_total",
      help: "Queued read queries dropped before reaching Cassandra: every caller had left " +
        "(deadline passed or canceled).",
      registers,
    });
    this.throttled = new Counter({
      name: "dataservices_writes_throttled_total",
      help: "CreateMessage calls refused by their channel's token bucket.",
      registers,
    });
    const limiter = sources.limiter;
    if (limiter) {
      const gauge = (name: string, help: string, read: (g: LimiterGauges) => number | undefined) =>
        new Gauge({
          name,
          help,
          registers,
          collect() {
            const v = read(limiter());
            if (v === undefined) this.reset();
            else this.set(v);
          },
        });
      gauge("dataservices_query_limit", "Read queries allowed at once now.", (g) => g.limit);
      gauge("dataservices_queries_running", "Read queries running now.", (g) => g.running);
      gauge("dataservices_queries_queued", "Read queries waiting for a slot now.", (g) => g.queued);
      gauge(
        "dataservices_query_recent_seconds",
        "Recent time per read query (exponential average), in seconds.",
        (g) => g.rttMs === undefined ? undefined : g.rttMs / 1000,
      );
    }
    const hot = sources.hotKeys;
    if (hot) {
      const labelNames = ["window", "rank"] as const;
      const byRank = (
        name: string,
        help: string,
        read: (v: HotKeysView, rank: number) => number | undefined,
      ) =>
        new Gauge({
          name,
          help,
          labelNames,
          registers,
          collect() {
            this.reset();
            for (const window of ["short", "long"] as const) {
              const v = hot(window);
              for (let rank = 1; rank <= HOT_RANKS; rank++) {
                const value = read(v, rank);
                if (value !== undefined) this.set({ window: WINDOWS[window], rank: rank }, value);
              }
            }
          },
        });
      byRank(
        "dataservices_hot_channel_requests",
        "Requests of the channel at this rank of the window (top-K sketch; the id is in " +
          "GetHotKeys and /debug/hotkeys, never in a label).",
        (v, r) => v.channels.top[r - 1]?.count,
      );
      byRank(
        "dataservices_hot_channel_share",
        "Share of the window's requests taken by the channel at this rank (0..1).",
        (v, r) => {
          const t = v.channels.top[r - 1];
          return t && v.channels.totals.events > 0 ? t.count / v.channels.totals.events : undefined;
        },
      );
      byRank(
        "dataservices_hot_channel_saved_ratio",
        "Share of the reads of the channel at this rank answered by coalescing (0..1).",
        (v, r) => {
          const t = v.channels.top[r - 1];
          return t && savedRatio(t.coalesced, t.queries, t.writes);
        },
      );
      byRank(
        "dataservices_hot_key_requests",
        "Requests of the coalescing key at this rank of the window.",
        (v, r) => v.keys.top[r - 1]?.count,
      );
    }
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
