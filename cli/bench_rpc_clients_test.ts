import assert from "node:assert/strict";
import { clientFigures, type LoadCliRun, parseTimeOutput } from "./bench_rpc_clients.ts";
import type { LoadReport } from "./report.ts";

Deno.test("parseTimeOutput reads GNU time's figures, after an exit-status line too", () => {
  assert.deepEqual(parseTimeOutput("4.41 5.02 0.71 612344\n"), {
    wallMs: 4410,
    userMs: 5020,
    systemMs: 710,
    maxRssKb: 612344,
  });
  assert.equal(
    parseTimeOutput("Command exited with non-zero status 1\n0.30 0.25 0.04 90000\n").userMs,
    250,
  );
  assert.throws(() => parseTimeOutput("Command terminated by signal 9\n"), /no figures/);
});

const report = (failed: number) =>
  ({
    totalRequests: 10000,
    totalQueries: 25,
    averageQueriesPerRequest: 0.0025,
    totalTimeMs: 4400,
    client: { sent: 10000, failed, errors: failed ? { unavailable: failed } : {} },
  }) as unknown as LoadReport;

const run = (o: Partial<LoadCliRun>): LoadCliRun => ({
  command: "deno task load --protocol connect",
  code: 0,
  time: { wallMs: 5000, userMs: 5000, systemMs: 1000, maxRssKb: 512 * 1024 },
  stderrTail: "",
  ...o,
});

Deno.test("clientFigures: CPU per call with and without start-up", () => {
  const f = clientFigures("connect", run({ report: report(0) }), 400);
  assert.equal(f.ok, true);
  assert.equal(f.cpuMs, 6000);
  assert.equal(f.usPerCall, 600);
  assert.equal(f.usPerCallNetOfStartup, 560);
  assert.equal(f.maxRssMb, 512);
  assert.equal(f.queriesPerRequest, 0.0025);
  assert.equal(f.totalTimeMs, 4400);
});

Deno.test("clientFigures fails a run with failed requests or without a report", () => {
  const bad = clientFigures("grpc", run({ report: report(3), code: 1 }), 0);
  assert.equal(bad.ok, false);
  assert.deepEqual(bad.problems, ['3 requests failed: {"unavailable":3}', "exit code 1"]);
  const none = clientFigures("grpc", run({ code: 1, stderrTail: "error: boom" }), 0);
  assert.deepEqual(none.problems, ["no JSON report (exit 1): error: boom", "exit code 1"]);
  assert.equal(none.usPerCall, 0);
});
