/**
 * What `deno task bench:coalesce` compares: its scenarios, the figures of a
 * run, medians over repeats, the ratios between scenarios, and the two
 * targets they are held to.
 *
 * @module
 */
import { median } from "../lib/stats.ts";
import type { LoadReport } from "./report.ts";

/** The scenarios, in run order. */
export const SCENARIOS = [
  { name: "on", label: "coalescing on, jump, hot", pair: "on", routing: "jump", cold: false },
  { name: "off", label: "coalescing off, jump, hot", pair: "off", routing: "jump", cold: false },
  {
    name: "round-robin",
    label: "coalescing on, round-robin, hot",
    pair: "on",
    routing: "round-robin",
    cold: false,
  },
  { name: "cold", label: "coalescing on, jump, cold", pair: "on", routing: "jump", cold: true },
] as const;
export type ScenarioName = typeof SCENARIOS[number]["name"];

/** The figures of one run that the bench compares. */
export interface RunFigures {
  readonly requests: number;
  readonly queries: number;
  readonly queriesPerRequest: number;
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Failed requests other than NOT_FOUND. */
  readonly errors: number;
  /** NOT_FOUND answers: channels without the asked row (the cold run of GetMessage). */
  readonly notFound: number;
  readonly totalTimeMs: number;
}

/** The figures of a report. */
export function figuresOf(r: LoadReport): RunFigures {
  return {
    requests: r.totalRequests,
    queries: r.totalQueries,
    queriesPerRequest: r.averageQueriesPerRequest,
    requestsPerSecond: r.client.requestsPerSecond,
    p50Ms: r.latencyMs?.p50 ?? NaN,
    p99Ms: r.latencyMs?.p99 ?? NaN,
    errors: r.client.failed - (r.client.errors.not_found ?? 0),
    notFound: r.client.errors.not_found ?? 0,
    totalTimeMs: r.totalTimeMs,
  };
}

/** Field-wise medians of several runs (NaN for a field of no runs). */
export function medianFigures(runs: readonly RunFigures[]): RunFigures {
  const keys = Object.keys(runs[0]) as (keyof RunFigures)[];
  return Object.fromEntries(
    keys.map((k) => [k, median(runs.map((r) => r[k])) ?? NaN]),
  ) as unknown as RunFigures;
}

/** `a / b`, or null when it is meaningless (b is 0 or either is NaN). */
export function ratio(a: number, b: number): number | null {
  return b === 0 || !Number.isFinite(a) || !Number.isFinite(b) ? null : a / b;
}

/** The comparisons the bench exists for. */
export interface Ratios {
  /** Queries without coalescing per query with it (how many times more). */
  readonly offVsOnQueries: number | null;
  readonly offVsOnRequestsPerSecond: number | null;
  readonly offVsOnP99: number | null;
  /** Queries with jump routing relative to round-robin (see {@linkcode TARGETS}). */
  readonly jumpVsRoundRobinQueries: number | null;
  readonly jumpVsRoundRobinP99: number | null;
  /** Queries with cold keys relative to hot keys. */
  readonly coldVsHotQueries: number | null;
  readonly coldVsHotRequestsPerSecond: number | null;
}

/** Ratios of the medians. */
export function ratios(m: Record<ScenarioName, RunFigures>): Ratios {
  return {
    offVsOnQueries: ratio(m.off.queries, m.on.queries),
    offVsOnRequestsPerSecond: ratio(m.off.requestsPerSecond, m.on.requestsPerSecond),
    offVsOnP99: ratio(m.off.p99Ms, m.on.p99Ms),
    jumpVsRoundRobinQueries: ratio(m.on.queries, m["round-robin"].queries),
    jumpVsRoundRobinP99: ratio(m.on.p99Ms, m["round-robin"].p99Ms),
    coldVsHotQueries: ratio(m.cold.queries, m.on.queries),
    coldVsHotRequestsPerSecond: ratio(m.cold.requestsPerSecond, m.on.requestsPerSecond),
  };
}

/**
 * The bench's two targets (upper bounds): queries per request with
 * coalescing on and hot keys (the original measured 0.0184), and jump
 * routing's queries relative to round-robin on two instances.
 */
export const TARGETS = { queriesPerRequest: 0.004, jumpVsRoundRobinQueries: 0.55 } as const;

/** A figure held to a target. */
export interface TargetCheck<T extends number> {
  readonly value: number | null;
  readonly target: T;
  readonly met: boolean;
}

/** Both targets, checked. */
export interface TargetChecks {
  readonly queriesPerRequest: TargetCheck<typeof TARGETS.queriesPerRequest>;
  readonly jumpVsRoundRobinQueries: TargetCheck<typeof TARGETS.jumpVsRoundRobinQueries>;
}

/** Holds the medians and ratios to {@linkcode TARGETS}. */
export function checkTargets(m: Record<ScenarioName, RunFigures>, r: Ratios): TargetChecks {
  const check = <T extends number>(value: number | null, target: T): TargetCheck<T> => ({
    value,
    target,
    met: value !== null && value <= target,
  });
  return {
    queriesPerRequest: check(m.on.queriesPerRequest, TARGETS.queriesPerRequest),
    jumpVsRoundRobinQueries: check(r.jumpVsRoundRobinQueries, TARGETS.jumpVsRoundRobinQueries),
  };
}
