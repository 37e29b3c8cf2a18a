/**
 * Durations as people type them: `500ms`, `1.5s`, `2m`, `1h`, or a bare
 * number in a unit the caller chooses (a flag's meaning before units
 * existed), and back to the shortest such text.
 *
 * Browser-safe: no imports.
 *
 * @module
 */

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

/**
 * Milliseconds of `text` (`500ms`, `1.5s`, `2m`, `1h`; a bare number is in
 * `bare` units), or undefined when it is not a duration.
 *
 * @example
 * ```ts
 * durationMs("2m", "s"); // 120000
 * durationMs("30", "s"); // 30000
 * durationMs("30", "ms"); // 30
 * ```
 */
export function durationMs(text: string, bare: "ms" | "s"): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(text);
  return m ? Number(m[1]) * UNIT_MS[(m[2] ?? bare) as keyof typeof UNIT_MS] : undefined;
}

/** Milliseconds in the largest whole unit: `500ms`, `1.5s`, `90s`, `2m`, `1h`. */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0ms";
  for (const unit of ["h", "m", "s"] as const) {
    const v = ms / UNIT_MS[unit];
    if (Number.isInteger(v)) return `${v}${unit}`;
  }
  return ms >= 1000 ? `${+(ms / 1000).toFixed(3)}s` : `${+ms.toFixed(3)}ms`;
}
