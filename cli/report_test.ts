import assert from "node:assert/strict";
import {
  buildReport,
  originalFigures,
  type RunConfig,
  statsDelta,
  type StatsSnapshot,
} from "./report.ts";
import { formatText } from "./report_text.ts";

const snap = (
  id: string,
  requests: number,
  queries: number,
  more: Partial<StatsSnapshot> = {},
) => ({
  id,
  instance: `${id}#1`,
  startedAtMs: 1000,
  requests,
  queries,
  coalesced: 0,
  errors: 0,
  rejected: 0,
  ...more,
});

const config: RunConfig = {
  method: "message",
  protocol: "grpc",
  routing: "jump",
  targets: ["a:1", "b:2"],
  channels: 20,
  requests: 10000,
  warmup: 0,
};

Deno.test("originalFigures reproduces the original's example: 20/10000/184 -> 0.0184, 9816", () => {
  const f = originalFigures(20, [{ requests: 10000, queries: 184 }]);
  assert.deepEqual(f, {
    unique: 20,
    totalRequests: 10000,
    totalQueries: 184,
    averageQueriesPerRequest: 0.0184,
    savedQueries: 9816,
  });
  // The same totals split over two instances give the same figures.
  assert.deepEqual(
    originalFigures(20, [{ requests: 4000, queries: 90 }, { requests: 6000, queries: 94 }]),
    f,
  );
});

Deno.test("originalFigures: no request counted gives an average of 0, not NaN", () => {
  assert.equal(originalFigures(20, []).averageQueriesPerRequest, 0);
});

Deno.test("statsDelta subtracts per instance and never mixes instances", () => {
  const before = [snap("a", 100, 40, { coalesced: 60 }), snap("b", 7, 7)];
  const after = [snap("b", 5007, 99), snap("a", 5100, 132, { coalesced: 4968, errors: 2 })];
  const d = statsDelta(before, after);
  assert.deepEqual(d.map((x) => [x.id, x.requests, x.queries, x.coalesced, x.errors]), [
    ["b", 5000, 92, 0, 0],
    ["a", 5000, 92, 4908, 2],
  ]);
  assert.ok(d.every((x) => !x.restarted));
});

Deno.test("statsDelta: a restarted instance (new start time or smaller counter) counts from zero", () => {
  const d = statsDelta(
    [snap("a", 500, 50), snap("b", 500, 50)],
    [snap("a", 30, 3, { startedAtMs: 9000 }), snap("b", 20, 60)],
  );
  assert.deepEqual(d.map((x) => [x.requests, x.queries, x.restarted]), [[30, 3, true], [
    20,
    60,
    true,
  ]]);
});

Deno.test("statsDelta throws when an instance has no 'before' snapshot", () => {
  assert.throws(() => statsDelta([], [snap("a", 1, 1)]), /No "before" snapshot of instance a/);
});

Deno.test("formatText starts with the original's four lines, exactly", () => {
  const report = buildReport({
    config,
    before: [snap("a:1", 0, 0), snap("b:2", 10, 10)],
    after: [
      snap("a:1", 5000, 92, { coalesced: 4908 }),
      snap("b:2", 5010, 102, { coalesced: 4908 }),
    ],
    totalTimeMs: 816.727364,
    latencies: [1, 2, 3, 4],
    failed: 0,
    errors: {},
    sent: 10000,
  });
  const lines = formatText(report).split("\n");
  assert.deepEqual(lines.slice(0, 4), [
    "Unique requests: 20, Total requests: 10000, Total queries executed: 184",
    "Average queries per request: 0.0184",
    "Saved queries by coalescing: 9816",
    "Total time taken: 816.727364ms",
  ]);
  const text = lines.join("\n");
  assert.match(text, /Errors by code: none/);
  assert.match(text, /Latency \(ms\): min 1\.00, p50 2\.00, p90 4\.00, p99 4\.00, max 4\.00/);
  assert.match(text, /a:1 +5000 +92 +4908/);
  assert.match(text, /total +10000 +184 +9816/);
  assert.match(text, /include any other client's traffic/);
});

Deno.test("buildReport: client counts, rate, error codes and a note when servers saw other traffic", () => {
  const report = buildReport({
    config,
    before: [snap("a:1", 0, 0)],
    after: [snap("a:1", 130, 10)],
    totalTimeMs: 2000,
    latencies: [5, 1, 3, 2],
    failed: 2,
    errors: { unavailable: 1, deadline_exceeded: 1 },
    sent: 100,
    unique: 20,
  });
  assert.equal(report.client.succeeded, 2);
  assert.equal(report.client.failed, 2);
  assert.equal(report.client.requestsPerSecond, 2);
  assert.equal(report.latencyMs?.min, 1);
  assert.equal(report.latencyMs?.max, 5);
  assert.ok(report.notes.some((n) => n.includes("counted 130 requests; this client sent 100")));
  const text = formatText(report);
  assert.match(text, /Errors by code: unavailable 1, deadline_exceeded 1/);
  // JSON carries the same figures.
  const json = JSON.parse(JSON.stringify(report));
  assert.equal(json.totalRequests, 130);
  assert.equal(json.savedQueries, 120);
  assert.equal(json.instances[0].queries, 10);
});

Deno.test("buildReport notes health changes and instances missing after the run", () => {
  const report = buildReport({
    config,
    before: [snap("a:1", 0, 0), snap("b:2", 0, 0)],
    after: [snap("a:1", 100, 5)],
    totalTimeMs: 100,
    latencies: [1],
    failed: 0,
    errors: {},
    sent: 100,
    healthChanges: [
      "b:2 down (probe: [deadline_exceeded] the operation timed out)",
      "b:2 up (probe)",
    ],
    missing: ["Cannot read GetStats from instance b:2 (http://b:2): [unavailable] gone."],
  });
  assert.deepEqual(report.instances.map((d) => d.id), ["a:1"]);
  assert.ok(report.notes.some((n) => /changed instance health 2 time\(s\).*b:2 down/.test(n)));
  assert.ok(report.notes.includes(
    "Missing from the counts: Cannot read GetStats from instance b:2 (http://b:2): [unavailable] gone.",
  ));
});
