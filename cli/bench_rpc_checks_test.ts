import assert from "node:assert/strict";
import { checkRun } from "./bench_rpc_checks.ts";
import type { H2loadSummary } from "./bench_rpc_h2load.ts";

function summary(
  total: number,
  o: Partial<{ ok: number; dataBytes: number; errored: number }> = {},
) {
  const ok = o.ok ?? total;
  return {
    finishedMs: 100,
    requestsPerSecond: 1,
    requests: {
      total,
      started: total,
      done: total,
      succeeded: ok,
      failed: total - ok,
      errored: o.errored ?? 0,
      timeout: 0,
    },
    status: { "2xx": ok, "3xx": 0, "4xx": 0, "5xx": 0 },
    traffic: { totalBytes: 0, headerBytes: 0, dataBytes: o.dataBytes ?? ok * 66 },
  } satisfies H2loadSummary;
}

Deno.test("checkRun passes a clean run", () => {
  const r = checkRun({
    total: 1000,
    summary: summary(1000),
    bodyBytes: 66,
    window: true,
    mid: { requests: 950, errors: 0 },
    after: { requests: 1000, errors: 0 },
  });
  assert.deepEqual(r, { problems: [], failed: 0, lost: 0 });
});

Deno.test("checkRun catches gRPC errors that h2load counts as 2xx successes", () => {
  // Every call answered HTTP 200, but 3 of them carried an error status and no message.
  const r = checkRun({
    total: 1000,
    summary: summary(1000, { dataBytes: 997 * 71 }),
    bodyBytes: 71,
    window: true,
    mid: { requests: 1000, errors: 3 },
  });
  assert.equal(r.failed, 3);
  assert.deepEqual(r.problems, [
    "response bodies: 70787 bytes, want 71000 (x 71): some calls did not return the message",
    "GetStats: errors +3 during the run",
  ]);
});

Deno.test("checkRun counts h2load failures, missing windows and short counts", () => {
  const r = checkRun({
    total: 100,
    summary: summary(100, { ok: 90, errored: 10 }),
    bodyBytes: 66,
    window: false,
    mid: { requests: 80, errors: 0 },
    after: { requests: 90, errors: 0 },
  });
  assert.equal(r.failed, 10);
  assert.deepEqual(r.problems, [
    "h2load: 10 failed, 10 errored, 0 timeout",
    "h2load: 90 of 100 succeeded",
    "HTTP status: 90 2xx of 100 (0 3xx/4xx/5xx)",
    "response bodies: 5940 bytes, want 6600 (x 66): some calls did not return the message",
    "no progress line at 20% or 90%: the window was not measured",
    "GetStats: requests +80 at the pause, want 90..100",
    "GetStats: requests +90 after the run, want 100",
  ]);
});

Deno.test("checkRun allows calls after the pause to be lost when the server died, no more", () => {
  // Captured: 7150 calls, the pause's GetStats counted 6975 (all fine), then the server died.
  const base = {
    total: 7150,
    bodyBytes: 66,
    window: true,
    mid: { requests: 6975, errors: 0 },
    lostAllowed: 175,
  };
  const lost = checkRun({ ...base, summary: summary(7150, { ok: 6975, errored: 175 }) });
  assert.deepEqual(lost, { problems: [], failed: 175, lost: 175 });
  // One more loss than calls after the pause: the case fails.
  const tooMany = checkRun({
    ...base,
    summary: summary(7150, { ok: 6974, errored: 176, dataBytes: 6974 * 66 }),
  });
  assert.equal(tooMany.lost, 0);
  assert.deepEqual(tooMany.problems.slice(0, 2), [
    "h2load: 176 failed, 176 errored, 0 timeout",
    "h2load: 6974 of 7150 succeeded",
  ]);
  assert.match(tooMany.problems.at(-1)!, /response bodies: 460284 bytes, want 471900 \(x 66\)/);
  // Lost calls, and an answered call without its message (a gRPC error): still caught.
  const short = checkRun({
    ...base,
    summary: summary(7150, { ok: 6975, errored: 175, dataBytes: 6974 * 66 }),
  });
  assert.deepEqual(short.problems, [
    "response bodies: 460284 bytes, want 460350 (x 66): some calls did not return the message",
  ]);
});
