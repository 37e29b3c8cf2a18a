/**
 * The load report: server counters as `GetStats` deltas, client-side
 * outcomes, latency percentiles and a histogram, as text (first the
 * original client's lines) or as one JSON object.
 *
 * The original printed four log lines (six figures):
 *
 * ```
 * Unique requests: 20, Total requests: 10000, Total queries executed: 184
 * Average queries per request: 0.0184
 * Saved queries by coalescing: 9816
 * Total time taken: 816.727364ms
 * ```
 *
 * {@linkcode formatText} starts with exactly those four lines (without the Go
 * logger's timestamp), with the same arithmetic: average = queries / requests,
 * saved = requests - queries, time in Go's `time.Duration` notation.
 *
 * @module
 */

/** One instance's cumulative counters, read with `GetStats` (never reset). */
export interface StatsSnapshot {
  /** The id the load tool knows it by (`host:port` or URL). */
  readonly id: string;
  /** What the instance calls itself (`host:port#worker`). */
  readonly instance: string;
  /** Process start, Unix ms: a change means it restarted and its counters began again. */
  readonly startedAtMs: number;
  readonly requests: number;
  readonly queries: number;
  readonly coalesced: number;
  readonly errors: number;
  readonly rejected: number;
}

/** What one instance did during the run: after minus before. */
export interface InstanceDelta {
  readonly id: string;
  readonly instance: string;
  readonly requests: number;
  readonly queries: number;
  readonly coalesced: number;
  readonly errors: number;
  readonly rejected: number;
  /** The instance restarted during the run: the figures are its counters since then. */
  readonly restarted: boolean;
}

const COUNTERS = ["requests", "queries", "coalesced", "errors", "rejected"] as const;

/**
 * Per-instance deltas of two snapshots taken before and after a run, in the
 * order of `after`. An instance that restarted (its start time changed or a
 * counter went down) reports its counters since the restart.
 *
 * @throws {Error} if an instance of `after` has no snapshot in `before`.
 */
export function statsDelta(
  before: readonly StatsSnapshot[],
  after: readonly StatsSnapshot[],
): InstanceDelta[] {
  const byId = new Map(before.map((s) => [s.id, s]));
  return after.map((a) => {
    const b = byId.get(a.id);
    if (b === undefined) throw new Error(`No "before" snapshot of instance ${a.id}`);
    const restarted = a.startedAtMs !== b.startedAtMs || COUNTERS.some((k) => a[k] < b[k]);
    const d = (k: typeof COUNTERS[number]) => restarted ? a[k] : a[k] - b[k];
    return {
      id: a.id,
      instance: a.instance,
      requests: d("requests"),
      queries: d("queries"),
      coalesced: d("coalesced"),
      errors: d("errors"),
      rejected: d("rejected"),
      restarted,
    };
  });
}

/** The original's figures, computed from summed deltas. */
export interface OriginalFigures {
  /** Distinct requests the client sent ("Unique requests": the channel count). */
  readonly unique: number;
  /** Requests the servers counted. */
  readonly totalRequests: number;
  /** Cassandra queries the servers ran. */
  readonly totalQueries: number;
  /** totalQueries / totalRequests (0 when no request was counted). */
  readonly averageQueriesPerRequest: number;
  /** totalRequests - totalQueries: the queries coalescing saved. */
  readonly savedQueries: number;
}

/**
 * The original client's arithmetic over the sum of every instance's deltas.
 *
 * @example
 * ```ts
 * originalFigures(20, [{ requests: 10000, queries: 184 }]);
 * // { unique: 20, totalRequests: 10000, totalQueries: 184,
 * //   averageQueriesPerRequest: 0.0184, savedQueries: 9816 }
 * ```
 */
export function originalFigures(
  unique: number,
  deltas: readonly Pick<InstanceDelta, "requests" | "queries">[],
): OriginalFigures {
  const totalRequests = deltas.reduce((s, d) => s + d.requests, 0);
  const totalQueries = deltas.reduce((s, d) => s + d.queries, 0);
  return {
    unique,
    totalRequests,
    totalQueries,
    averageQueriesPerRequest: totalRequests === 0 ? 0 : totalQueries / totalRequests,
    savedQueries: totalRequests - totalQueries,
  };
}

/** Latency summary in milliseconds. */
export interface LatencySummary {
  readonly count: number;
  readonly min: number;
  readonly mean: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

/**
 * The nearest-rank percentile of ascending `sorted` values: the smallest
 * value with at least `p`% of the values at or below it. NaN when empty.
 *
 * @example
 * ```ts
 * percentile([1, 2, 3, 4], 50); // 2
 * percentile([1, 2, 3, 4], 90); // 4
 * ```
 */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  if (p <= 0) return sorted[0];
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, rank) - 1];
}

/** Sorts a copy of `latencies` ascending (numeric). */
export function sortLatencies(latencies: ArrayLike<number>): Float64Array {
  return Float64Array.from(latencies).sort();
}

/** min/mean/p50/p90/p99/max of ascending values, or undefined when there are none. */
export function summarize(sorted: ArrayLike<number>): LatencySummary | undefined {
  const n = sorted.length;
  if (n === 0) return undefined;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i];
  return {
    count: n,
    min: sorted[0],
    mean: sum / n,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted[n - 1],
  };
}

/** One bar of the histogram: values in `[fromMs, toMs)` (the last bar includes `toMs`). */
export interface HistogramBucket {
  readonly fromMs: number;
  readonly toMs: number;
  readonly count: number;
}

/**
 * `buckets` equal-width bars from the smallest to the largest value (like
 * ghz). One bar when every value is the same; none when empty.
 */
export function histogram(sorted: ArrayLike<number>, buckets = 10): HistogramBucket[] {
  const n = sorted.length;
  if (n === 0) return [];
  const min = sorted[0];
  const max = sorted[n - 1];
  if (max === min || buckets <= 1) return [{ fromMs: min, toMs: max, count: n }];
  const width = (max - min) / buckets;
  const counts = new Array<number>(buckets).fill(0);
  for (let i = 0; i < n; i++) {
    counts[Math.min(buckets - 1, Math.floor((sorted[i] - min) / width))]++;
  }
  return counts.map((count, i) => ({
    fromMs: min + i * width,
    toMs: i === buckets - 1 ? max : min + (i + 1) * width,
    count,
  }));
}

/**
 * Formats a duration like Go's `time.Duration.String()`, which the original
 * printed: `816.727364ms`, `1.5s`, `2m3.000000001s`, `950µs`, `0s`.
 * Rounds to whole nanoseconds.
 */
export function formatGoDuration(ms: number): string {
  let ns = Math.round(ms * 1e6);
  if (ns === 0) return "0s";
  const sign = ns < 0 ? "-" : "";
  ns = Math.abs(ns);
  const frac = (value: number, digits: number, unit: string) => {
    const whole = Math.floor(value / 10 ** digits);
    const rest = String(value % 10 ** digits).padStart(digits, "0").replace(/0+$/, "");
    return `${whole}${rest ? "." + rest : ""}${unit}`;
  };
  if (ns < 1_000) return `${sign}${ns}ns`;
  if (ns < 1_000_000) return sign + frac(ns, 3, "µs");
  if (ns < 1_000_000_000) return sign + frac(ns, 6, "ms");
  const totalSeconds = Math.floor(ns / 1e9);
  const h = Math.floor(totalSeconds / 3600);
  const m = Math.floor((totalSeconds % 3600) / 60);
  const s = frac((totalSeconds % 60) * 1e9 + (ns % 1e9), 9, "s");
  return sign + (h ? `${h}h${m}m${s}` : m ? `${m}m${s}` : s);
}

/** What the run was (echoed in the report). */
export interface RunConfig {
  readonly method: string;
  readonly protocol: string;
  readonly routing: string;
  readonly targets: readonly string[];
  readonly gateway?: string;
  readonly channels: number;
  readonly requests?: number;
  readonly concurrency?: number;
  readonly rps?: number;
  readonly durationMs?: number;
  readonly timeoutMs?: number;
  readonly warmup: number;
}

/** What the client saw. */
export interface ClientOutcome {
  /** Requests sent (measured; warmup excluded). */
  readonly sent: number;
  readonly succeeded: number;
  readonly failed: number;
  /** Failed requests by Connect code in snake case, e.g. `{ unavailable: 2 }`. */
  readonly errors: Readonly<Record<string, number>>;
  /** A few distinct error messages, for diagnosis. */
  readonly errorSamples: readonly string[];
  /** Completed requests per second of `totalTimeMs`. */
  readonly requestsPerSecond: number;
  /** Warmup requests sent before measuring, and how many of them failed. */
  readonly warmup: { readonly sent: number; readonly failed: number };
  /** The run was interrupted (Ctrl-C) before every request was sent. */
  readonly interrupted: boolean;
}

/** Everything `deno task load` reports; `--format json` prints this object. */
export interface LoadReport extends OriginalFigures {
  /** From the first measured send to the last response. */
  readonly totalTimeMs: number;
  readonly client: ClientOutcome;
  /** Latency of every completed request (ok or not), from its intended send time. */
  readonly latencyMs: LatencySummary | null;
  readonly histogram: readonly HistogramBucket[];
  readonly instances: readonly InstanceDelta[];
  readonly config: RunConfig;
  /** Caveats, printed as the footer. */
  readonly notes: readonly string[];
}

/** Inputs of {@linkcode buildReport}. */
export interface ReportInput {
  readonly config: RunConfig;
  readonly before: readonly StatsSnapshot[];
  readonly after: readonly StatsSnapshot[];
  readonly totalTimeMs: number;
  /** Latencies of completed requests, any order. */
  readonly latencies: ArrayLike<number>;
  readonly failed: number;
  readonly errors: Readonly<Record<string, number>>;
  readonly errorSamples?: readonly string[];
  readonly sent: number;
  readonly warmup?: { readonly sent: number; readonly failed: number };
  readonly interrupted?: boolean;
  /** Instances the router marked down or up during the run, e.g. `"a:1 down (probe: ...)"`. */
  readonly healthChanges?: readonly string[];
  /** Why instances are missing from `after` (they did not answer GetStats after the run). */
  readonly missing?: readonly string[];
  /** "Unique requests": distinct requests sent (default: the channel count). */
  readonly unique?: number;
  /** Bars of the histogram (default 10). */
  readonly histogramBuckets?: number;
}

/** Combines snapshots and client measurements into a {@linkcode LoadReport}. */
export function buildReport(input: ReportInput): LoadReport {
  const instances = statsDelta(input.before, input.after);
  const figures = originalFigures(input.unique ?? input.config.channels, instances);
  const sorted = sortLatencies(input.latencies);
  const completed = sorted.length;
  const seconds = input.totalTimeMs / 1000;
  const notes = [
    "Counts are GetStats deltas (before/after the run, never reset) summed over every instance: " +
    "they include any other client's traffic to these instances during the run.",
  ];
  if (figures.totalRequests !== input.sent) {
    notes.push(
      `The instances counted ${figures.totalRequests} requests; this client sent ${input.sent} ` +
        "(the difference is other clients' traffic, calls the router retried on another " +
        "instance after UNAVAILABLE, or requests the servers never received).",
    );
  }
  const changes = input.healthChanges ?? [];
  if (changes.length > 0) {
    notes.push(
      `The router changed instance health ${changes.length} time(s) during the run, moving ` +
        `channels between instances (each move splits their coalescing): ${
          changes.slice(0, 5).join("; ")
        }${changes.length > 5 ? "; ..." : ""}.`,
    );
  }
  for (const m of input.missing ?? []) {
    notes.push(`Missing from the counts: ${m}`);
  }
  for (const d of instances.filter((d) => d.restarted)) {
    notes.push(`Instance ${d.id} restarted during the run: its figures count from the restart.`);
  }
  if (input.config.gateway !== undefined) {
    notes.push(
      `Requests went through the gateway ${input.config.gateway}; counts come from ` +
        `${input.config.targets.join(", ")}.`,
    );
  }
  if (input.interrupted) notes.push("Interrupted: not every planned request was sent.");
  return {
    ...figures,
    totalTimeMs: input.totalTimeMs,
    client: {
      sent: input.sent,
      succeeded: completed - input.failed,
      failed: input.failed,
      errors: { ...input.errors },
      errorSamples: [...(input.errorSamples ?? [])],
      requestsPerSecond: seconds > 0 ? completed / seconds : 0,
      warmup: input.warmup ?? { sent: 0, failed: 0 },
      interrupted: input.interrupted ?? false,
    },
    latencyMs: summarize(sorted) ?? null,
    histogram: histogram(sorted, input.histogramBuckets ?? 10),
    instances,
    config: input.config,
    notes,
  };
}

/** A latency in ms with 3 significant decimals at most (`0.412`, `12.3`, `1204`). */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return "-";
  if (ms >= 100) return ms.toFixed(0);
  if (ms >= 10) return ms.toFixed(1);
  if (ms >= 1) return ms.toFixed(2);
  return ms.toFixed(3);
}

/** The text report: the original's four lines, then everything else. */
export function formatText(r: LoadReport): string {
  const lines = [
    `Unique requests: ${r.unique}, Total requests: ${r.totalRequests}, ` +
    `Total queries executed: ${r.totalQueries}`,
    `Average queries per request: ${r.averageQueriesPerRequest}`,
    `Saved queries by coalescing: ${r.savedQueries}`,
    `Total time taken: ${formatGoDuration(r.totalTimeMs)}`,
    "",
  ];
  const c = r.client;
  lines.push(
    `Requests: ${c.sent} sent, ${c.succeeded} ok, ${c.failed} failed` +
      (c.warmup.sent ? ` (after ${c.warmup.sent} warmup, ${c.warmup.failed} failed)` : ""),
  );
  const codes = Object.entries(c.errors).sort((a, b) => b[1] - a[1]);
  lines.push(
    `Errors by code: ${codes.length ? codes.map(([k, v]) => `${k} ${v}`).join(", ") : "none"}`,
  );
  for (const sample of c.errorSamples) lines.push(`  e.g. ${sample}`);
  lines.push(`Requests/s: ${c.requestsPerSecond.toFixed(1)}`);
  const l = r.latencyMs;
  if (l) {
    lines.push(
      `Latency (ms): min ${formatMs(l.min)}, p50 ${formatMs(l.p50)}, p90 ${formatMs(l.p90)}, ` +
        `p99 ${formatMs(l.p99)}, max ${formatMs(l.max)}, mean ${formatMs(l.mean)}`,
    );
    lines.push(...histogramLines(r.histogram));
  }
  lines.push("", ...instanceTable(r.instances), "");
  lines.push(
    `Run: ${r.config.method} via ${r.config.protocol}, routing ${r.config.routing}, ` +
      `${r.config.channels} channels, ${pacingText(r.config)}`,
  );
  for (const note of r.notes) lines.push(`Note: ${note}`);
  return lines.join("\n");
}

function pacingText(c: RunConfig): string {
  const parts: string[] = [];
  if (c.rps !== undefined) parts.push(`${c.rps} requests/s open loop`);
  if (c.concurrency !== undefined) parts.push(`at most ${c.concurrency} in flight`);
  if (c.rps === undefined && c.concurrency === undefined) parts.push("all at once");
  if (c.durationMs !== undefined) parts.push(`for ${formatGoDuration(c.durationMs)}`);
  if (c.timeoutMs !== undefined) parts.push(`timeout ${formatGoDuration(c.timeoutMs)}`);
  return parts.join(", ");
}

/** The histogram as text bars, at most `width` characters long. */
export function histogramLines(buckets: readonly HistogramBucket[], width = 40): string[] {
  const most = Math.max(0, ...buckets.map((b) => b.count));
  const labels = buckets.map((b) => `${formatMs(b.fromMs)} - ${formatMs(b.toMs)}`);
  const labelWidth = Math.max(0, ...labels.map((s) => s.length));
  const countWidth = Math.max(0, ...buckets.map((b) => String(b.count).length));
  return buckets.map((b, i) => {
    const bar = most === 0 ? 0 : Math.round((b.count / most) * width);
    const mark = bar === 0 && b.count > 0 ? "▏" : "■".repeat(bar);
    return `  ${labels[i].padStart(labelWidth)} ms [${
      String(b.count).padStart(countWidth)
    }] ${mark}`
      .trimEnd();
  });
}

/** Per-instance deltas as an aligned table with a total row. */
export function instanceTable(instances: readonly InstanceDelta[]): string[] {
  const head = ["instance", "requests", "queries", "coalesced", "errors", "rejected"];
  const rows = instances.map((d) => [
    d.id + (d.restarted ? " (restarted)" : ""),
    ...[d.requests, d.queries, d.coalesced, d.errors, d.rejected].map(String),
  ]);
  const sum = (k: "requests" | "queries" | "coalesced" | "errors" | "rejected") =>
    String(instances.reduce((s, d) => s + d[k], 0));
  if (instances.length > 1) {
    rows.push([
      "total",
      sum("requests"),
      sum("queries"),
      sum("coalesced"),
      sum("errors"),
      sum("rejected"),
    ]);
  }
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const fmt = (r: string[]) =>
    r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join("  ");
  return ["Per instance (deltas):", "  " + fmt(head), ...rows.map((r) => "  " + fmt(r))];
}

/** The report as one line of JSON. */
export function formatJson(r: LoadReport): string {
  return JSON.stringify(r);
}
