/**
 * The load report: server counters as `GetStats` deltas, client-side
 * outcomes, latency percentiles and a histogram (`lib/stats.ts`), as one
 * JSON object; `report_text.ts` writes it as text.
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
 * `formatText` starts with exactly those four lines (without the Go
 * logger's timestamp), with the same arithmetic: average = queries / requests,
 * saved = requests - queries, time in Go's `time.Duration` notation.
 *
 * @module
 */
import {
  counterDelta,
  histogram,
  type HistogramBucket,
  type LatencySummary,
  summarize,
} from "../lib/stats.ts";

export type { HistogramBucket, LatencySummary };

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

/**
 * Per-instance deltas of two snapshots taken before and after a run, in the
 * order of `after`. An instance that restarted (the rule of `lib/stats.ts`:
 * its start time changed or a counter went down) reports its counters since
 * the restart.
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
    const { counters, restarted } = counterDelta(b, a);
    return { id: a.id, instance: a.instance, ...counters, restarted };
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
  /** Threads that sent (Deno workers; 1 = the main thread). Default 1. */
  readonly workers?: number;
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
  /**
   * CPU this process used during the measured run (user + system, every
   * thread), per request sent, in microseconds; undefined when not measured.
   */
  readonly cpuMicrosPerRequest?: number;
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
  /** CPU microseconds this process used during the measured run. */
  readonly cpuMicros?: number;
}

/** Combines snapshots and client measurements into a {@linkcode LoadReport}. */
export function buildReport(input: ReportInput): LoadReport {
  const instances = statsDelta(input.before, input.after);
  const figures = originalFigures(input.unique ?? input.config.channels, instances);
  const completed = input.latencies.length;
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
      cpuMicrosPerRequest: input.cpuMicros !== undefined && input.sent > 0
        ? input.cpuMicros / input.sent
        : undefined,
      warmup: input.warmup ?? { sent: 0, failed: 0 },
      interrupted: input.interrupted ?? false,
    },
    latencyMs: summarize(input.latencies) ?? null,
    histogram: histogram(input.latencies, input.histogramBuckets ?? 10),
    instances,
    config: input.config,
    notes,
  };
}

/** The report as one line of JSON. */
export function formatJson(r: LoadReport): string {
  return JSON.stringify(r);
}
