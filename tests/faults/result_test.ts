import assert from "node:assert/strict";
import {
  countCodes,
  type ExperimentResult,
  firstFailureAfter,
  formatCodes,
  formatTable,
  instanceRss,
  lastFailureAfter,
  latencyPercentiles,
  maxLatency,
  recoveryMs,
} from "./result.ts";
import type { OpRecord } from "./load.ts";

const op = (start: number, end: number, code = "OK"): OpRecord => ({
  kind: "read",
  start,
  end,
  code,
});

Deno.test("countCodes and formatCodes: successes apart, failures by code, most first", () => {
  const c = countCodes([
    op(0, 1),
    op(0, 1, "UNAVAILABLE"),
    op(0, 1, "INTERNAL"),
    op(0, 1, "UNAVAILABLE"),
  ]);
  assert.deepEqual(c, { sent: 4, ok: 1, failedByCode: { UNAVAILABLE: 2, INTERNAL: 1 } });
  assert.equal(formatCodes(c.failedByCode), "UNAVAILABLE 2, INTERNAL 1");
  assert.equal(formatCodes({}), "-");
});

Deno.test("recoveryMs: nothing failed after healing is 0", () => {
  assert.equal(recoveryMs([op(0, 10, "UNAVAILABLE"), op(20, 30), op(120, 130)], 100), 0);
  assert.equal(recoveryMs([op(0, 10, "UNAVAILABLE")], 100), undefined);
});

Deno.test("recoveryMs: back at the end of the first success after the last failure started", () => {
  const records = [
    op(90, 150, "UNAVAILABLE"), // ends after healing at 100
    op(110, 400, "DEADLINE_EXCEEDED"), // the failure that started last
    op(105, 108), // succeeded, but before that failure started: not yet back
    op(300, 350), // first success after it started
    op(500, 510),
  ];
  assert.equal(recoveryMs(records, 100), 250);
  assert.equal(recoveryMs([op(110, 200, "UNAVAILABLE")], 100), undefined);
});

Deno.test("latencyPercentiles: nearest rank, none when empty", () => {
  const records = Array.from({ length: 100 }, (_, i) => op(0, i + 1));
  assert.deepEqual(latencyPercentiles(records), { p50Ms: 50, p99Ms: 99 });
  assert.deepEqual(latencyPercentiles([]), { p50Ms: null, p99Ms: null });
});

Deno.test("firstFailureAfter and maxLatency", () => {
  const records = [op(0, 5), op(10, 40, "UNAVAILABLE"), op(12, 20, "INTERNAL"), op(50, 60)];
  assert.equal(firstFailureAfter(records, 10), 10);
  assert.equal(firstFailureAfter(records, 45), undefined);
  assert.equal(lastFailureAfter(records, 10), 30);
  assert.equal(lastFailureAfter(records, 45), undefined);
  assert.equal(maxLatency(records), 30);
});

Deno.test("formatTable: one aligned row per experiment, failed checks named", () => {
  const r: ExperimentResult = {
    experiment: "node-kill",
    path: "router",
    description: "",
    sent: 1200,
    ok: 1190,
    failedByCode: { UNAVAILABLE: 10 },
    ackedWrites: 600,
    lostAcked: 0,
    lostAfterRepair: 0,
    recoverMs: 1500,
    peakRssMb: 140,
    rssMbByProcess: {},
    maxLatencyMs: 900,
    timeline: [],
    extra: {},
    checks: [{ name: "0 failed", pass: false, detail: "10" }, {
      name: "0 lost",
      pass: true,
      detail: "0",
    }],
    durationMs: 1,
  };
  const lines = formatTable([r, { ...r, experiment: "x", recoverMs: null, lostAcked: null }]).split(
    "\n",
  );
  assert.equal(lines.length, 4);
  assert.ok(lines.every((l) => l.length === lines[0].length), "rows are aligned");
  assert.match(
    lines[2],
    /\| node-kill +\| router +\| +1200 \| +1190 \| UNAVAILABLE 10 +\| 0\/600 +\| +1\.5 \|/,
  );
  assert.match(lines[2], /1\/2 \(failed: 0 failed\)/);
  assert.match(lines[3], /\| +never \|/);
});

Deno.test("instanceRss: the instance that peaked highest, with its starting RSS", () => {
  const peak = { "a": 200, "a@start": 150, "b": 900, "b@start": 880, "gateway": 5000 };
  assert.deepEqual(instanceRss(peak, ["a", "b"]), { peakRssMb: 900, startRssMb: 880 });
  assert.deepEqual(instanceRss({}, ["a"]), { peakRssMb: 0 });
});
