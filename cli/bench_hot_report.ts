/**
 * Figures of `deno task bench:hot` and their table: per configuration
 * (protections on, off) the Cassandra queries, latency of the normal
 * channels, the storm and the writes, errors by code, admission counters,
 * and what the hot-key view named hottest.
 *
 * @module
 */
import { percentile, sortedCopy } from "../lib/stats.ts";
import type { HotLoadResult } from "./bench_hot_load.ts";

/** What the instances of one configuration reported (GetStats deltas, GetHotKeys). */
export interface ServerFigures {
  /** Cassandra queries (reads and writes) during the run, every instance. */
  readonly queries: number;
  readonly shed: number;
  readonly dropped: number;
  readonly throttled: number;
  /** Query limit of each instance at the end. */
  readonly queryLimits: readonly number[];
  /** The merged hot-key view's first channel and its requests; first coalescing key. */
  readonly hottestChannel: string;
  readonly hottestRequests: number;
  readonly hottestKey: string;
}

/** One configuration's figures. */
export interface HotFigures extends ServerFigures {
  readonly normal: KindFigures;
  readonly storm: KindFigures;
  readonly write: KindFigures;
  /** Every call's outcome by code, all kinds. */
  readonly codes: Readonly<Record<string, number>>;
  /** Whether the hot-key view named the storm channel first. */
  readonly namedStorm: boolean;
}

/** Calls of one kind. */
export interface KindFigures {
  readonly calls: number;
  readonly ok: number;
  /** Of successful calls (ms); undefined without any. */
  readonly p50Ms: number | undefined;
  readonly p99Ms: number | undefined;
}

function kind(r: HotLoadResult[keyof HotLoadResult]): KindFigures {
  const sorted = sortedCopy(r.okMs);
  const calls = Object.values(r.codes).reduce((a, b) => a + b, 0);
  return {
    calls,
    ok: r.okMs.length,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
  };
}

/** The figures of one configuration. */
export function hotFigures(
  load: HotLoadResult,
  server: ServerFigures,
  stormChannel: bigint,
): HotFigures {
  const codes: Record<string, number> = {};
  for (const r of Object.values(load)) {
    for (const [c, n] of Object.entries(r.codes)) codes[c] = (codes[c] ?? 0) + n;
  }
  return {
    ...server,
    normal: kind(load.normal),
    storm: kind(load.storm),
    write: kind(load.write),
    codes,
    namedStorm: server.hottestChannel === String(stormChannel),
  };
}

const ms = (v: number | undefined) => (v === undefined ? "–" : `${v.toFixed(1)} ms`);
const n = (v: number) => v.toLocaleString("en-US");

/** The table: one row per figure, one column per configuration. */
export function formatHot(figures: { off: HotFigures; on: HotFigures }): string {
  const rows: [string, (f: HotFigures) => string][] = [
    ["Cassandra queries", (f) => n(f.queries)],
    ["normal reads: calls (ok)", (f) => `${n(f.normal.calls)} (${n(f.normal.ok)})`],
    ["normal reads: p50", (f) => ms(f.normal.p50Ms)],
    ["normal reads: p99", (f) => ms(f.normal.p99Ms)],
    ["storm reads: calls (ok)", (f) => `${n(f.storm.calls)} (${n(f.storm.ok)})`],
    ["storm reads: p99", (f) => ms(f.storm.p99Ms)],
    ["writes: calls (ok)", (f) => `${n(f.write.calls)} (${n(f.write.ok)})`],
    ["writes: p99", (f) => ms(f.write.p99Ms)],
    [
      "codes",
      (f) =>
        Object.entries(f.codes).sort(([a], [b]) => a.localeCompare(b)).map(([c, k]) =>
          `${c} ${n(k)}`
        ).join(", "),
    ],
    ["shed / dropped / throttled", (f) => `${n(f.shed)} / ${n(f.dropped)} / ${n(f.throttled)}`],
    ["query limit at the end", (f) => f.queryLimits.join(", ")],
    [
      "hottest channel (requests)",
      (f) => `${f.hottestChannel} (${n(f.hottestRequests)})${f.namedStorm ? " = storm" : ""}`,
    ],
    ["hottest coalescing key", (f) => f.hottestKey],
  ];
  const head = ["", "protections off", "protections on"];
  const body = rows.map(([label, get]) => [label, get(figures.off), get(figures.on)]);
  const widths = head.map((_, i) => Math.max(...[head, ...body].map((r) => r[i].length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
  return [line(head), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...body.map(line)]
    .join("\n");
}
