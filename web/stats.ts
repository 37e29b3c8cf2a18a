/**
 * Pure helpers of the dashboard (no DOM, no network), so they can be tested
 * in Deno: sums and differences of `GetStats` counters, latency percentiles
 * and histograms, per-second rates, and the page's configuration.
 *
 * @module
 */

/** The counters of `GetStats` the page uses, as plain numbers. */
export interface Counters {
  requests: number;
  queries: number;
  coalesced: number;
  errors: number;
  rejected: number;
}

/** A counter snapshot of one instance, or why it could not be read. */
export interface Snapshot {
  /** Instance id in the router's list (`host:port`). */
  id: string;
  /** The counters, if GetStats answered. */
  counters?: Counters;
  /** `startedAt` of the instance in ms: a change means it restarted (counters reset). */
  startedAtMs?: number;
  /** Readable error, if GetStats failed. */
  error?: string;
}

/** Counters that are all 0. */
export function zeroCounters(): Counters {
  return { requests: 0, queries: 0, coalesced: 0, errors: 0, rejected: 0 };
}

/** The fields of a `GetStatsResponse` (bigints) as numbers. */
export function toCounters(s: {
  requests: bigint;
  queries: bigint;
  coalesced: bigint;
  errors: bigint;
  rejected: bigint;
}): Counters {
  return {
    requests: Number(s.requests),
    queries: Number(s.queries),
    coalesced: Number(s.coalesced),
    errors: Number(s.errors),
    rejected: Number(s.rejected),
  };
}

/** `after - before`, field by field. */
export function subtract(after: Counters, before: Counters): Counters {
  return {
    requests: after.requests - before.requests,
    queries: after.queries - before.queries,
    coalesced: after.coalesced - before.coalesced,
    errors: after.errors - before.errors,
    rejected: after.rejected - before.rejected,
  };
}

/** What changed between two rounds of snapshots of every instance. */
export interface FleetDelta {
  /** Sum of the differences over the instances counted. */
  total: Counters;
  /** Difference per instance id (only instances read both times without a restart). */
  perInstance: Map<string, Counters>;
  /** Instances left out, with the reason (unreachable or restarted in between). */
  skipped: { id: string; reason: string }[];
}

/**
 * Sums `after - before` over every instance that answered both rounds and did
 * not restart in between; lists the others in `skipped`.
 */
export function fleetDelta(
  before: readonly Snapshot[],
  after: readonly Snapshot[],
): FleetDelta {
  const total = zeroCounters();
  const perInstance = new Map<string, Counters>();
  const skipped: { id: string; reason: string }[] = [];
  const earlier = new Map(before.map((s) => [s.id, s]));
  for (const a of after) {
    const b = earlier.get(a.id);
    if (b?.counters === undefined || a.counters === undefined) {
      skipped.push({
        id: a.id,
        reason: a.error ?? b?.error ?? "not read before the run",
      });
      continue;
    }
    if (b.startedAtMs !== a.startedAtMs) {
      skipped.push({ id: a.id, reason: "restarted during the run" });
      continue;
    }
    const d = subtract(a.counters, b.counters);
    perInstance.set(a.id, d);
    for (const k of Object.keys(total) as (keyof Counters)[]) total[k] += d[k];
  }
  return { total, perInstance, skipped };
}

/** Latency summary of a run, in milliseconds. */
export interface LatencySummary {
  count: number;
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/**
 * The `q` quantile (0..1) of ascending `sorted` by the nearest-rank method:
 * the smallest value with at least `q` of the values at or below it.
 */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1];
}

/** p50/p90/p99/max and friends of `samples` (any order; not modified). */
export function summarize(samples: ArrayLike<number>): LatencySummary {
  const sorted = Float64Array.from(samples).sort();
  const n = sorted.length;
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    count: n,
    min: n ? sorted[0] : NaN,
    mean: n ? sum / n : NaN,
    p50: quantile(sorted, 0.5),
    p90: quantile(sorted, 0.9),
    p99: quantile(sorted, 0.99),
    max: n ? sorted[n - 1] : NaN,
  };
}

/** A histogram: `counts[i]` values fell in `[edges[i], edges[i + 1])` (the last bin includes its upper edge). */
export interface Histogram {
  edges: number[];
  counts: number[];
}

/**
 * Splits `[0, max]` into `bins` equal bins (a "nice" width: 1, 2 or 5 times a
 * power of ten) and counts `samples` in each.
 */
export function histogram(samples: ArrayLike<number>, bins = 20): Histogram {
  let max = 0;
  for (let i = 0; i < samples.length; i++) max = Math.max(max, samples[i]);
  const width = niceStep(max / bins || 1);
  const n = Math.max(1, Math.ceil(max / width) || 1);
  const edges = Array.from(
    { length: n + 1 },
    (_, i) => +(i * width).toPrecision(12),
  );
  const counts = new Array<number>(n).fill(0);
  for (let i = 0; i < samples.length; i++) {
    counts[Math.min(n - 1, Math.floor(samples[i] / width))]++;
  }
  return { edges, counts };
}

/** The smallest of 1, 2, 5 times a power of ten that is >= `x` (> 0). */
export function niceStep(x: number): number {
  const p = 10 ** Math.floor(Math.log10(x));
  for (const m of [1, 2, 5, 10]) if (m * p >= x * (1 - 1e-12)) return m * p;
  return 10 * p;
}

/** Per-second rates between two snapshots `dtMs` apart; `saved` is the share of requests coalesced (null without requests). */
export function rates(
  d: Counters,
  dtMs: number,
): { requests: number; queries: number; saved: number | null } {
  const s = dtMs > 0 ? 1000 / dtMs : 0;
  return {
    requests: d.requests * s,
    queries: d.queries * s,
    saved: d.requests > 0 ? Math.min(1, Math.max(0, d.coalesced / d.requests)) : null,
  };
}

/** Where the page finds the fleet. */
export interface PageConfig {
  /** Ordered instance list, the same order as every other router. */
  instances: string[];
  /** Base URL of the gateway, if there is one. */
  gateway?: string;
  /** Where the instance list came from, for the page's header. */
  source: string;
}

/**
 * Merges `/config.json` (if it was readable) with the query string: the
 * `instances` (comma-separated `host:port` or URLs) and `gateway` parameters
 * override the file.
 *
 * @throws {Error} with a readable message when no instance list is found.
 */
export function resolveConfig(
  file: { instances?: unknown; gateway?: unknown } | undefined,
  search: string,
  fileError?: string,
): PageConfig {
  const params = new URLSearchParams(search);
  const fromParams = (params.get("instances") ?? "").split(/[\s,]+/).filter((
    s,
  ) => s !== "");
  const gatewayParam = params.get("gateway") ?? undefined;
  const fileInstances = Array.isArray(file?.instances)
    ? file.instances.filter((s): s is string => typeof s === "string" && s !== "")
    : [];
  const gateway = gatewayParam ||
    (typeof file?.gateway === "string" && file.gateway !== "" ? file.gateway : undefined);
  if (fromParams.length > 0) {
    return {
      instances: fromParams,
      gateway,
      source: "?instances= in the address",
    };
  }
  if (fileInstances.length > 0) {
    return { instances: fileInstances, gateway, source: "/config.json" };
  }
  throw new Error(
    `No instance list: /config.json ${
      fileError ? `could not be read (${fileError})` : "has no instances"
    } and the address has no ?instances=host:port,host:port parameter`,
  );
}
