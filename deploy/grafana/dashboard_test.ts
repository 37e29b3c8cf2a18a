// Structural checks of the Grafana dashboard (no Grafana runs here): layout,
// queries, and that every metric it queries is one the services export.
import assert from "node:assert/strict";
import { ServiceMetrics } from "../../server/metrics.ts";

const FILE = new URL("./dashboards/data-services.json", import.meta.url);

/**
 * The metric names the dashboard may query: go-grpc-prometheus' server
 * metrics, the domain metrics and prom-client's default process metrics.
 */
const CONTRACT = new Set([
  "grpc_server_started_total",
  "grpc_server_handled_total",
  "grpc_server_handling_seconds",
  "dataservices_queries_total",
  "dataservices_query_duration_seconds",
  "dataservices_coalesced_total",
  "dataservices_rejected_total",
  "dataservices_flights_in_progress",
  "dataservices_waiters_in_progress",
  "process_cpu_seconds_total",
  "process_resident_memory_bytes",
]);

/** What the issue asks the dashboard to show, as metrics it must query. */
const REQUIRED = [
  "grpc_server_started_total", // requests
  "grpc_server_handled_total", // codes
  "grpc_server_handling_seconds", // latency percentiles
  "dataservices_queries_total", // queries
  "dataservices_coalesced_total", // coalescing ratio
  "dataservices_flights_in_progress", // flights
  "dataservices_waiters_in_progress", // waiters
];

interface Target {
  refId?: string;
  expr?: string;
  datasource?: { type?: string; uid?: string };
}
interface Panel {
  id?: number;
  type?: string;
  title?: string;
  gridPos?: { x: number; y: number; w: number; h: number };
  targets?: Target[];
  datasource?: { type?: string; uid?: string };
}
interface Dashboard {
  uid?: string;
  title?: string;
  schemaVersion?: number;
  panels?: Panel[];
  templating?: { list?: { name: string; type: string; query?: unknown }[] };
}

const dashboard: Dashboard = JSON.parse(await Deno.readTextFile(FILE));
const panels = dashboard.panels ?? [];
const queries = panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p, target: t })));

/** Metric names in a PromQL expression, histogram suffixes removed. */
function metricsIn(expr: string): string[] {
  const names = expr.match(/\b(?:grpc_server|dataservices|process|nodejs)_[a-z_]+/g) ?? [];
  return names.map((n) => n.replace(/_(bucket|sum|count)$/, ""));
}

Deno.test("dashboard: identity and schema", () => {
  assert.equal(dashboard.uid, "deno-data-services");
  assert.ok(dashboard.title);
  assert.ok(Number.isInteger(dashboard.schemaVersion) && dashboard.schemaVersion! >= 36);
  assert.ok(panels.length >= 10, `${panels.length} panels`);
  const vars = (dashboard.templating?.list ?? []).map((v) => `${v.name}:${v.type}`);
  assert.deepEqual(vars, ["datasource:datasource", "job:query", "instance:query"]);
});

Deno.test("dashboard: unique panel ids, panels on the 24-column grid without overlap", () => {
  const ids = panels.map((p) => p.id);
  assert.equal(new Set(ids).size, ids.length, "duplicate panel id");
  const taken = new Map<string, string>();
  for (const p of panels) {
    const g = p.gridPos;
    assert.ok(g, `${p.title}: no gridPos`);
    assert.ok(g.x >= 0 && g.w > 0 && g.x + g.w <= 24, `${p.title}: outside 24 columns`);
    assert.ok(g.y >= 0 && g.h > 0, `${p.title}: bad height`);
    for (let x = g.x; x < g.x + g.w; x++) {
      for (let y = g.y; y < g.y + g.h; y++) {
        const other = taken.get(`${x},${y}`);
        assert.equal(other, undefined, `${p.title} overlaps ${other}`);
        taken.set(`${x},${y}`, p.title ?? "");
      }
    }
  }
});

Deno.test("dashboard: every query has a refId, the datasource variable and known metrics", () => {
  assert.ok(queries.length > 0);
  for (const p of panels) {
    if (p.type === "row") continue;
    assert.ok((p.targets ?? []).length > 0, `${p.title}: no query`);
    const refs = p.targets!.map((t) => t.refId);
    assert.equal(new Set(refs).size, refs.length, `${p.title}: duplicate refId`);
    assert.equal(p.datasource?.uid, "${datasource}", `${p.title}: panel datasource`);
  }
  for (const { panel, target } of queries) {
    assert.equal(target.datasource?.uid, "${datasource}", `${panel.title}: target datasource`);
    assert.ok(target.expr, `${panel.title} ${target.refId}: empty expr`);
    const names = metricsIn(target.expr);
    assert.ok(names.length > 0, `${panel.title}: queries no metric of ours`);
    for (const n of names) assert.ok(CONTRACT.has(n), `${panel.title}: unknown metric ${n}`);
    // Balanced parentheses and braces: the commonest hand-editing mistake.
    for (const [open, close] of [["(", ")"], ["{", "}"], ["[", "]"]]) {
      const count = (c: string) => target.expr!.split(c).length - 1;
      assert.equal(count(open), count(close), `${panel.title}: unbalanced ${open}${close}`);
    }
    assert.match(target.expr, /instance=~"\$instance"/, `${panel.title}: ignores $instance`);
  }
});

Deno.test("dashboard: shows requests, codes, latency, queries, coalescing, flights, per instance", () => {
  const used = new Set(queries.flatMap(({ target }) => metricsIn(target.expr ?? "")));
  for (const m of REQUIRED) assert.ok(used.has(m), `no panel queries ${m}`);
  const exprs = queries.map(({ target }) => target.expr ?? "");
  assert.ok(exprs.some((e) => /sum by \(grpc_code\)/.test(e)), "no breakdown by code");
  assert.ok(exprs.some((e) => /histogram_quantile\(0\.99,/.test(e)), "no p99");
  assert.ok(exprs.some((e) => /histogram_quantile\(0\.5,/.test(e)), "no p50");
  assert.ok(
    exprs.some((e) => /coalesced_total.*\/.*queries_total/s.test(e)),
    "no coalescing ratio",
  );
  assert.ok(exprs.filter((e) => /by \(instance\)/.test(e)).length >= 3, "too few per-instance");
});

// Once the server exports the go-grpc-prometheus names, every metric the
// dashboard queries must exist in an instance's registry (not only in the
// list above). Until then this is skipped, and says so.
const registry = new ServiceMetrics(() => ({ flights: 0, waiters: 0 })).registry;
const exported = new Set(registry.getMetricsAsArray().map((m) => m.name));
Deno.test({
  name: "dashboard: every metric it queries is in a data-service instance's registry",
  ignore: !exported.has("grpc_server_handled_total"),
  fn() {
    const used = new Set(queries.flatMap(({ target }) => metricsIn(target.expr ?? "")));
    const defaults = [...used].filter((n) => n.startsWith("process_"));
    for (const n of used) {
      if (defaults.includes(n)) continue; // prom-client collectDefaultMetrics
      assert.ok(exported.has(n), `the dashboard queries ${n}, which the server does not export`);
    }
  },
});
