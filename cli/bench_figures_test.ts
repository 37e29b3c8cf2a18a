import assert from "node:assert/strict";
import {
  checkTargets,
  medianFigures,
  ratio,
  ratios,
  type RunFigures,
  type ScenarioName,
} from "./bench_figures.ts";
import { parseBenchArgs } from "./bench_flags.ts";
import { formatBench } from "./bench_format.ts";

const fig = (queries: number, more: Partial<RunFigures> = {}): RunFigures => ({
  requests: 10000,
  queries,
  queriesPerRequest: queries / 10000,
  requestsPerSecond: 2000,
  p50Ms: 100,
  p99Ms: 200,
  errors: 0,
  notFound: 0,
  totalTimeMs: 5000,
  ...more,
});

Deno.test("medianFigures takes each field's median on its own", () => {
  const m = medianFigures([
    fig(40, { p99Ms: 900 }),
    fig(30, { p99Ms: 100 }),
    fig(50, { p99Ms: 300 }),
  ]);
  assert.equal(m.queries, 40);
  assert.equal(m.p99Ms, 300);
});

Deno.test("ratios compare off/on, jump/round-robin and cold/hot; targets are checked once", () => {
  const m: Record<ScenarioName, RunFigures> = {
    on: fig(40, { p99Ms: 100 }),
    off: fig(10000, { requestsPerSecond: 1000, p99Ms: 400 }),
    "round-robin": fig(80, { p99Ms: 200 }),
    cold: fig(10000, { requestsPerSecond: 3000 }),
  };
  const r = ratios(m);
  assert.equal(r.offVsOnQueries, 250);
  assert.equal(r.offVsOnRequestsPerSecond, 0.5);
  assert.equal(r.offVsOnP99, 4);
  assert.equal(r.jumpVsRoundRobinQueries, 0.5);
  assert.equal(r.coldVsHotQueries, 250);
  assert.equal(r.coldVsHotRequestsPerSecond, 1.5);
  assert.equal(ratio(1, 0), null);
  assert.deepEqual(checkTargets(m, r), {
    queriesPerRequest: { value: 0.004, target: 0.004, met: true },
    jumpVsRoundRobinQueries: { value: 0.5, target: 0.55, met: true },
  });
  const worse = { ...m, on: fig(41) };
  assert.equal(checkTargets(worse, ratios(worse)).queriesPerRequest.met, false);
  const text = formatBench({ ...parseBenchArgs([]), repeat: 3 }, m, r);
  assert.match(text, /coalescing off \/ on: +queries 250\.0x, requests\/s 0\.50x, p99 4\.00x/);
  assert.match(text, /jump \/ round-robin: +queries 0\.50x \(target <= 0\.55x: met\)/);
  assert.match(text, /queries per request, coalescing on, hot: 0\.0040 \(target <= 0\.004: met/);
  assert.match(text, /coalescing on, jump, cold +10000 +10000 +10000 +1\.0000/);
});
