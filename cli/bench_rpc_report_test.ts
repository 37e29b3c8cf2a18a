import assert from "node:assert/strict";
import { applyFloor, type BenchRpcResult, formatReport, targetRatio } from "./bench_rpc_report.ts";
import type { CaseResult } from "./bench_rpc_measure.ts";
import { planRun } from "./bench_rpc_cases.ts";

function kase(name: string, us: number | null, o: Partial<CaseResult> = {}): CaseResult {
  const [protocol, http, port] = name.split("/") as [
    CaseResult["protocol"],
    CaseResult["http"],
    CaseResult["port"],
  ];
  return {
    name,
    protocol,
    http,
    port,
    ok: true,
    problems: [],
    failed: 0,
    lostAfterWindow: 0,
    callsPerSecond: us === null ? null : 1e6 / us,
    serverUsPerCall: us,
    serverUsPerCallFromTicks: us,
    ratioToFloor: null,
    plan: planRun(1000),
    windowMs: 1,
    serverCpuMs: 1,
    bodyBytes: 66,
    h2load: null,
    stats: null,
    crashedAtClose: false,
    attempts: 1,
    command: "h2load ...",
    notes: [],
    ...o,
  };
}

Deno.test("targetRatio: issue 9's targets per protocol", () => {
  assert.equal(targetRatio("connect-proto"), 4);
  assert.equal(targetRatio("grpc-web"), 4);
  assert.equal(targetRatio("grpc"), 8);
  assert.equal(targetRatio("connect-json"), undefined);
});

Deno.test("applyFloor divides by the floor's µs per call, only when the floor passed", () => {
  const cases = [
    kase("grpc/h2c/floor", 12),
    kase("grpc/h2c/main", 348),
    kase("connect-get/h1/main", null),
  ];
  assert.equal(applyFloor(cases), 12);
  assert.deepEqual(cases.map((c) => c.ratioToFloor), [1, 29, null]);
  const failedFloor = [kase("grpc/h2c/floor", 12, { ok: false }), kase("grpc/h2c/main", 348)];
  assert.equal(applyFloor(failedFloor), null);
  assert.equal(failedFloor[1].ratioToFloor, null);
});

Deno.test("formatReport prints cases with ratios and targets, failures, burst, clients, headline", () => {
  const cases = [
    kase("grpc/h2c/floor", 12),
    kase("connect-proto/h2c/main", 40, { crashedAtClose: true, failed: 175, lostAfterWindow: 175 }),
    kase("grpc-web/h1/main", 100, {
      ok: false,
      failed: 3,
      problems: ["GetStats: errors +3 during the run"],
    }),
  ];
  applyFloor(cases);
  const r: BenchRpcResult = {
    timestamp: "t",
    elapsedMs: 1,
    machine: {
      nproc: 2,
      cpuModel: "cpu",
      kernel: "6.1",
      deno: "2.9.6",
      go: "go1.26.8 linux/amd64",
      h2load: "h2load nghttp2/1.52.0",
      loadavgBefore: "0.1 0.1 0.1",
      loadavgAfter: "0.5 0.2 0.1",
    },
    settings: {
      requests: 1000,
      h2c: { clients: 4, streams: 100 },
      h1: { clients: 16 },
      serverCpus: "0",
      clientCpus: "1",
      window: "20%..90%",
      burstCalls: 5000,
    },
    commands: {},
    fastPort: false,
    floorUsPerCall: 12,
    cases,
    burst: {
      name: "coalesce-5000-streams/grpc/h2c/main",
      ok: true,
      problems: [],
      calls: 5000,
      requests: 5000,
      queries: 20,
      coalesced: 4980,
      errors: 0,
      rejected: 0,
      queriesPerRequest: 0.004,
      h2load: null,
      crashedAtClose: true,
      command: "",
    },
    clients: {
      startupCpuMs: 300,
      runs: [{
        protocol: "connect",
        command: "deno task load ...",
        ok: true,
        problems: [],
        requests: 10000,
        failed: 0,
        errors: {},
        queries: 25,
        queriesPerRequest: 0.0025,
        totalTimeMs: 4400,
        processWallMs: 5000,
        cpuMs: 6000,
        usPerCall: 600,
        usPerCallNetOfStartup: 570,
        maxRssMb: 512,
      }],
    },
    load: {
      command: "deno task load --channels 20 --requests 10000",
      totalTimeMs: 4400,
      processWallMs: 5000,
      queriesPerRequest: 0.0025,
      failed: 0,
    },
    profile: null,
    ok: false,
  };
  const text = formatReport(r);
  const lines = text.split("\n");
  const row = (name: string) => lines.find((l) => l.startsWith(name + " "))!;
  assert.match(
    row("grpc/h2c/floor"),
    /^grpc\/h2c\/floor\s+83,333\s+12\.0\s+1\.00\s+<=8x met\s+0\s+ok$/,
  );
  assert.match(
    row("connect-proto/h2c/main"),
    /40\.0\s+3\.33\s+<=4x met\s+175\s+ok, server died after the window \(175 lost\)$/,
  );
  assert.match(row("grpc-web/h1/main"), /100\.0\s+8\.33\s+<=4x not met\s+3\s+FAILED$/);
  assert.ok(lines.includes("  grpc-web/h1/main FAILED: GetStats: errors +3 during the run"));
  assert.match(text, /window 20%\.\.90% of -n 1430 \(1001 calls measured\)/);
  assert.match(text, /5000 requests, 20 queries, 0\.0040 queries\/request, 4980 coalesced/);
  assert.match(
    text,
    /^connect\s+4,400\s+5,000\s+6,000\s+600\s+570\s+512\s+25\s+0\.0025\s+0\s+ok$/m,
  );
  assert.match(
    text,
    /Headline: deno task load --channels 20 --requests 10000: 4\.40 s \(target <= 1\.5 s: not met; process 5\.00 s\), 0\.0025 queries\/request \(target <= 0\.004: met\), 0 failed/,
  );
  assert.match(text, /load average 0\.1 0\.1 0\.1 before, 0\.5 0\.2 0\.1 after/);
  assert.match(
    text,
    /The instance died 2 time\(s\) and was started again: 2 after a window, 0 inside one/,
  );
  assert.match(text, /Some checks FAILED/);
});
