/**
 * The load report as text: first the original client's four lines, exactly,
 * then requests and errors, latency and a histogram drawn in characters, the
 * per-instance table, the run and the notes.
 *
 * @module
 */
import type { HistogramBucket, InstanceDelta, LoadReport, RunConfig } from "./report.ts";

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
  lines.push(
    `Requests/s: ${c.requestsPerSecond.toFixed(1)}` +
      (c.cpuMicrosPerRequest !== undefined
        ? `; client CPU ${c.cpuMicrosPerRequest.toFixed(0)} µs/request`
        : "") +
      ((r.config.workers ?? 1) > 1 ? ` (${r.config.workers} worker threads)` : ""),
  );
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
