/**
 * What one experiment reports, the arithmetic over its calls (counts by
 * code, time to recover), and the table the runner prints.
 *
 * @module
 */
import type { OpRecord } from "./load.ts";

/** A pass/fail criterion of issue 10's "done when", evaluated on a result. */
export interface Check {
  name: string;
  pass: boolean;
  /** The measured value, as text. */
  detail: string;
}

/** One row of the suite's table (and of its JSON). */
export interface ExperimentResult {
  experiment: string;
  /** How the load reached the instances: `router`, `gateway`, `direct` or `h2load`. */
  path: string;
  description: string;
  sent: number;
  ok: number;
  /** Failed calls by code name; empty when none failed. */
  failedByCode: Record<string, number>;
  ackedWrites: number;
  /** Acknowledged writes not found at LOCAL_QUORUM afterwards (null: not verified). */
  lostAcked: number | null;
  lostAfterRepair: number | null;
  /** From healing (or the end of an overload) to calls succeeding again; null: never within the run. */
  recoverMs: number | null;
  /** Largest RSS of an instance during the experiment, MB. */
  peakRssMb: number;
  /** RSS of that instance when the experiment started, MB (memory inherited from before). */
  startRssMb?: number;
  rssMbByProcess: Record<string, number>;
  maxLatencyMs: number;
  /** Injections and healings, ms from the experiment's start. */
  timeline: { atMs: number; event: string }[];
  /** Experiment-specific measures (first rejection, readiness flip, ...). */
  extra: Record<string, number | string | null>;
  checks: Check[];
  /** Set when the experiment could not run to its end (the error). */
  error?: string;
  durationMs: number;
}

/** Calls, successes and failures by code of `records`. */
export function countCodes(
  records: OpRecord[],
): { sent: number; ok: number; failedByCode: Record<string, number> } {
  const failedByCode: Record<string, number> = {};
  let ok = 0;
  for (const r of records) {
    if (r.code === "OK") ok++;
    else failedByCode[r.code] = (failedByCode[r.code] ?? 0) + 1;
  }
  return { sent: records.length, ok, failedByCode };
}

/**
 * The RSS figures of the instance (among `names`) that peaked highest, from a
 * {@link sampleRss}-style record (`name` peak, `name@start` first sample).
 */
export function instanceRss(
  peak: Record<string, number>,
  names: string[],
): { peakRssMb: number; startRssMb?: number } {
  let best: string | undefined;
  for (const n of names) {
    if (peak[n] !== undefined && (best === undefined || peak[n] > peak[best])) best = n;
  }
  return best === undefined
    ? { peakRssMb: 0 }
    : { peakRssMb: peak[best], startRssMb: peak[`${best}@start`] };
}

/** Adds `b`'s counts into `a`. */
export function addCounts(a: Record<string, number>, b: Record<string, number>): void {
  for (const [k, v] of Object.entries(b)) a[k] = (a[k] ?? 0) + v;
}

/**
 * Time from `healAt` until calls succeed again for good. Among the failed
 * calls that ended after `healAt`, take the one that started last; the
 * service is back at the end of the first successful call that started after
 * it. 0 when no call failed after `healAt` (and some succeeded); undefined
 * when no call succeeded after the last failure.
 */
export function recoveryMs(records: OpRecord[], healAt: number): number | undefined {
  let lastFailStart: number | undefined;
  for (const r of records) {
    if (
      r.code !== "OK" && r.end >= healAt && (lastFailStart === undefined || r.start > lastFailStart)
    ) {
      lastFailStart = r.start;
    }
  }
  if (lastFailStart === undefined) {
    return records.some((r) => r.code === "OK" && r.end >= healAt) ? 0 : undefined;
  }
  let back: number | undefined;
  for (const r of records) {
    if (r.code === "OK" && r.start > lastFailStart && (back === undefined || r.end < back)) {
      back = r.end;
    }
  }
  return back === undefined ? undefined : Math.max(0, Math.round(back - healAt));
}

/** p50 and p99 latency of `records`, ms (null when there are none). */
export function latencyPercentiles(
  records: OpRecord[],
): { p50Ms: number | null; p99Ms: number | null } {
  const sorted = records.map((r) => r.end - r.start).sort((a, b) => a - b);
  const at = (p: number) =>
    sorted.length
      ? Math.round(sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)])
      : null;
  return { p50Ms: at(0.5), p99Ms: at(0.99) };
}

/** Longest call of `records`, ms. */
export function maxLatency(records: OpRecord[]): number {
  let m = 0;
  for (const r of records) m = Math.max(m, r.end - r.start);
  return Math.round(m);
}

/** Milliseconds from `since` to the end of the first failed call that ended after it. */
export function firstFailureAfter(records: OpRecord[], since: number): number | undefined {
  let first: number | undefined;
  for (const r of records) {
    if (r.code !== "OK" && r.end >= since && (first === undefined || r.end < first)) first = r.end;
  }
  return first === undefined ? undefined : Math.round(first - since);
}

/** Milliseconds from `since` to the end of the last failed call. */
export function lastFailureAfter(records: OpRecord[], since: number): number | undefined {
  let last: number | undefined;
  for (const r of records) {
    if (r.code !== "OK" && r.end >= since && (last === undefined || r.end > last)) last = r.end;
  }
  return last === undefined ? undefined : Math.round(last - since);
}

/** `UNAVAILABLE 12, INTERNAL 3`, or `-`. */
export function formatCodes(byCode: Record<string, number>): string {
  const parts = Object.entries(byCode).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`);
  return parts.length ? parts.join(", ") : "-";
}

/** The suite's table, one row per experiment, Markdown. */
export function formatTable(results: ExperimentResult[]): string {
  const head = [
    "experiment",
    "path",
    "sent",
    "ok",
    "failed by code",
    "lost acked",
    "recover s",
    "RSS MB start→peak",
    "checks",
  ];
  const rows = results.map((r) => [
    r.experiment,
    r.path,
    String(r.sent),
    String(r.ok),
    formatCodes(r.failedByCode),
    r.lostAcked === null ? "-" : `${r.lostAcked}/${r.ackedWrites}`,
    r.recoverMs === null ? "never" : (r.recoverMs / 1000).toFixed(1),
    r.startRssMb !== undefined ? `${r.startRssMb}→${r.peakRssMb}` : String(r.peakRssMb),
    r.error ? `ERROR: ${r.error}` : `${r.checks.filter((c) => c.pass).length}/${r.checks.length}` +
      (r.checks.some((c) => !c.pass)
        ? ` (failed: ${r.checks.filter((c) => !c.pass).map((c) => c.name).join("; ")})`
        : ""),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const numeric = new Set([2, 3, 6, 7]);
  const line = (cells: string[]) =>
    `| ${
      cells.map((c, i) => numeric.has(i) ? c.padStart(widths[i]) : c.padEnd(widths[i])).join(" | ")
    } |`;
  const rule = `| ${
    widths.map((w, i) => "-".repeat(w - 1) + (numeric.has(i) ? ":" : "-")).join(" | ")
  } |`;
  return [line(head), rule, ...rows.map(line)].join("\n");
}
