/**
 * The text `deno task bench:coalesce` prints: a table of medians per
 * scenario, the ratios, and the targets.
 *
 * @module
 */
import {
  checkTargets,
  type Ratios,
  type RunFigures,
  type ScenarioName,
  SCENARIOS,
} from "./bench_figures.ts";
import type { BenchOptions } from "./bench_flags.ts";

const METHOD_LABEL = {
  history: "GetMessages",
  message: "GetMessage",
  compat: "messages.MessagesService/getMessage",
} as const;

const fmtRatio = (x: number | null, digits = 2) => (x === null ? "n/a" : `${x.toFixed(digits)}x`);
const met = (ok: boolean) => (ok ? "met" : "not met");

/** Right-aligned columns after a left-aligned first one. */
function table(head: string[], rows: string[][]): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (row: string[]) =>
    row.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  return [line(head), ...rows.map(line)];
}

/** The table and the ratios as text. */
export function formatBench(
  o: BenchOptions,
  m: Record<ScenarioName, RunFigures>,
  r: Ratios,
): string {
  const rows = SCENARIOS.map((s) => {
    const f = m[s.name];
    return [
      s.label,
      String(s.cold ? o.coldChannels : o.hotChannels),
      String(Math.round(f.requests)),
      String(Math.round(f.queries)),
      f.queriesPerRequest.toFixed(4),
      f.requestsPerSecond.toFixed(0),
      f.p50Ms.toFixed(0),
      f.p99Ms.toFixed(0),
      String(Math.round(f.notFound)),
      String(Math.round(f.errors)),
    ];
  });
  const head = ["scenario", "channels", "requests", "queries", "q/req", "req/s"];
  head.push("p50 ms", "p99 ms", "not found", "errors");
  const t = checkTargets(m, r);
  return [
    `Medians of ${o.repeat} run(s) per scenario, ${o.requests} requests each, ` +
    `${o.concurrency === undefined ? "all at once" : `at most ${o.concurrency} in flight`}, ` +
    `${METHOD_LABEL[o.method]} over ${o.protocol}, two instances per pair:`,
    "",
    ...table(head, rows),
    "",
    "Ratios:",
    `  coalescing off / on:  queries ${fmtRatio(r.offVsOnQueries, 1)}, requests/s ${
      fmtRatio(r.offVsOnRequestsPerSecond)
    }, p99 ${fmtRatio(r.offVsOnP99)}`,
    `  jump / round-robin:   queries ${
      fmtRatio(r.jumpVsRoundRobinQueries)
    } (target <= ${t.jumpVsRoundRobinQueries.target}x: ${
      met(t.jumpVsRoundRobinQueries.met)
    }), p99 ${fmtRatio(r.jumpVsRoundRobinP99)}`,
    `  cold / hot keys:      queries ${fmtRatio(r.coldVsHotQueries, 1)}, requests/s ${
      fmtRatio(r.coldVsHotRequestsPerSecond)
    }`,
    `  queries per request, coalescing on, hot: ${
      m.on.queriesPerRequest.toFixed(4)
    } (target <= ${t.queriesPerRequest.target}: ${
      met(t.queriesPerRequest.met)
    }; the original measured 0.0184)`,
    "",
    "Counts are GetStats deltas of fresh instances that no other client uses. Channels 1..20 hold",
    "the demo rows (deno task start); colder channels have none, so GetMessage answers NOT_FOUND",
    "there (one query each all the same) and GetMessages an empty page: compare queries across",
    "hot and cold, not requests/s. Client, 4 instances and Cassandra share this machine.",
  ].join("\n");
}
