/**
 * The statistics of a load run, shared by the CLI report (`cli/report.ts`)
 * and the dashboard (`web/`): latency percentiles and summaries, a histogram,
 * medians, and the rule for counters of an instance that restarted between
 * two readings.
 *
 * One convention throughout: percentiles are given in 0..100, and a
 * statistic of no values is `undefined` (never NaN, never 0).
 *
 * Browser-safe: no imports.
 *
 * @module
 */

/**
 * The nearest-rank percentile of ascending `sorted` values: the smallest
 * value with at least `p`% (0..100) of the values at or below it; `p` 0 is
 * the minimum. Undefined when there are no values.
 *
 * @example
 * ```ts
 * percentile([1, 2, 3, 4], 50); // 2
 * percentile([1, 2, 3, 4], 90); // 4
 * ```
 */
export function percentile(sorted: ArrayLike<number>, p: number): number | undefined {
  const n = sorted.length;
  if (n === 0) return undefined;
  const rank = Math.max(1, Math.ceil((p / 100) * n));
  return sorted[Math.min(n, rank) - 1];
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

/** A sorted (ascending, numeric) copy of `values`. */
export function sortedCopy(values: ArrayLike<number>): Float64Array {
  return Float64Array.from(values).sort();
}

/**
 * count/min/mean/p50/p90/p99/max of `samples` (any order; not modified), or
 * undefined when there are none.
 */
export function summarize(samples: ArrayLike<number>): LatencySummary | undefined {
  const sorted = sortedCopy(samples);
  const n = sorted.length;
  if (n === 0) return undefined;
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    count: n,
    min: sorted[0],
    mean: sum / n,
    p50: percentile(sorted, 50)!,
    p90: percentile(sorted, 90)!,
    p99: percentile(sorted, 99)!,
    max: sorted[n - 1],
  };
}

/** The median (mean of the two middle values for an even count); undefined when empty. */
export function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** One bar of a histogram: values in `[fromMs, toMs)`; the last bar includes `toMs`. */
export interface HistogramBucket {
  readonly fromMs: number;
  readonly toMs: number;
  readonly count: number;
}

/**
 * Counts `samples` (any order) in bars of one "nice" width (1, 2 or 5 times a
 * power of ten, the smallest that needs at most `bins` bars) from a multiple
 * of the width at or below the smallest value to the largest value. One bar
 * when every value is the same; none when there are no values.
 */
export function histogram(samples: ArrayLike<number>, bins = 10): HistogramBucket[] {
  const n = samples.length;
  if (n === 0) return [];
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    min = Math.min(min, samples[i]);
    max = Math.max(max, samples[i]);
  }
  if (max === min) return [{ fromMs: min, toMs: max, count: n }];
  const width = niceStep((max - min) / Math.max(1, bins));
  const start = Math.floor(min / width) * width;
  const k = Math.max(1, Math.ceil((max - start) / width - 1e-9));
  const counts = new Array<number>(k).fill(0);
  for (let i = 0; i < n; i++) {
    counts[Math.min(k - 1, Math.floor((samples[i] - start) / width))]++;
  }
  const edge = (i: number) => +(start + i * width).toPrecision(12);
  return counts.map((count, i) => ({
    fromMs: edge(i),
    toMs: i === k - 1 ? Math.max(max, edge(k)) : edge(i + 1),
    count,
  }));
}

/** The smallest of 1, 2, 5 times a power of ten that is >= `x` (> 0). */
export function niceStep(x: number): number {
  const p = 10 ** Math.floor(Math.log10(x));
  for (const m of [1, 2, 5, 10]) if (m * p >= x * (1 - 1e-12)) return m * p;
  return 10 * p;
}

// ---------------------------------------------------------------------------
// Counters of GetStats, and instances that restart

/** The cumulative counters of an instance's `GetStats`, as plain numbers. */
export interface Counters {
  readonly requests: number;
  readonly queries: number;
  readonly coalesced: number;
  readonly errors: number;
  readonly rejected: number;
}

/** The names of {@linkcode Counters}, in display order. */
export const COUNTER_NAMES = ["requests", "queries", "coalesced", "errors", "rejected"] as const;

/** One reading of an instance's counters. */
export interface CounterReading extends Counters {
  /** The instance's start time (Unix ms), if it reports one. */
  readonly startedAtMs?: number;
}

/** What an instance did between two readings. */
export interface CounterDelta {
  readonly counters: Counters;
  /** It restarted in between: `counters` are its counts since the restart. */
  readonly restarted: boolean;
}

/**
 * The restart rule: an instance restarted between two readings when its start
 * time changed or any counter went down (counters never reset otherwise).
 */
export function restartedBetween(before: CounterReading, after: CounterReading): boolean {
  return before.startedAtMs !== after.startedAtMs ||
    COUNTER_NAMES.some((k) => after[k] < before[k]);
}

/**
 * `after - before` per counter; for an instance that restarted in between
 * (see {@linkcode restartedBetween}), its counts since the restart (`after`).
 */
export function counterDelta(before: CounterReading, after: CounterReading): CounterDelta {
  const restarted = restartedBetween(before, after);
  const d = (k: typeof COUNTER_NAMES[number]) => (restarted ? after[k] : after[k] - before[k]);
  return {
    counters: {
      requests: d("requests"),
      queries: d("queries"),
      coalesced: d("coalesced"),
      errors: d("errors"),
      rejected: d("rejected"),
    },
    restarted,
  };
}
