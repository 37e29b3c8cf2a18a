/**
 * The end of a `deno task conformance` run: a table of every invocation and
 * the totals (a wedged invocation counts as at least one failure).
 *
 * @module
 */
import type { Outcome } from "./outcome.ts";

/** The totals over every invocation. */
export function totals(
  outcomes: readonly Outcome[],
): { passed: number; failed: number; known: number } {
  const passed = outcomes.reduce((n, o) => n + o.passed, 0);
  // A wedged invocation counts as at least one failure (its count is unknown).
  const failed = outcomes.reduce((n, o) => n + Math.max(o.failed, o.wedged ? 1 : 0), 0);
  const known = outcomes.reduce((n, o) => n + o.expected, 0);
  return { passed, failed, known };
}

/** One row per invocation: counts, seconds and status. */
export function summaryTable(outcomes: readonly Outcome[]): string {
  const head = ["mode", "combination", "passed", "known", "failed", "not run", "seconds", "status"];
  const rows = outcomes.map((o) => [
    o.mode,
    o.combination,
    String(o.passed),
    String(o.expected),
    String(o.failed),
    String(o.notRun),
    o.seconds.toFixed(1),
    o.wedged ? "WEDGED (killed)" : o.failed > 0 ? "FAIL" : "ok",
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const fmt = (r: string[]) =>
    r.map((v, i) => i < 2 ? v.padEnd(widths[i]) : v.padStart(widths[i])).join("  ");
  return [fmt(head), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(fmt)].join("\n");
}
