import assert from "node:assert/strict";
import {
  codesDelta,
  errorCodesOf,
  fastPortOf,
  parseStatsJson,
  readStats,
  waitQuiet,
  withTimeout,
} from "./bench_rpc_instance.ts";

Deno.test("parseStatsJson reads int64 strings and takes missing (zero) counters as 0", () => {
  // What an instance answered to GetStats after one call (proto3 JSON drops zeros).
  const s = parseStatsJson({
    instance: "127.0.0.1:52002#902",
    startedAt: "2026-12-01T04:37:58.396Z",
    requests: "1",
    queries: "1",
  });
  assert.deepEqual(s, {
    requests: 1,
    queries: 1,
    coalesced: 0,
    errors: 0,
    rejected: 0,
    inFlightQueries: 0,
    inFlightWaiters: 0,
    startedAt: "2026-12-01T04:37:58.396Z",
  });
  assert.throws(() => parseStatsJson({ errors: "x" }), /errors is not an integer/);
  assert.throws(() => parseStatsJson(null), /not a JSON object/);
});

Deno.test("errorCodesOf sums failed calls by code from /metrics; codesDelta names what moved", () => {
  const before = errorCodesOf([
    "# HELP dataservices_requests_total Data RPCs received, by method and final code.",
    "# TYPE dataservices_requests_total counter",
    'dataservices_requests_total{method="GetMessage",code="ok"} 9000',
    'dataservices_requests_total{method="GetMessage",code="canceled"} 3',
    'dataservices_requests_total{method="getMessage",code="canceled"} 1',
    'dataservices_requests_total_other{method="GetMessage",code="x"} 5',
  ].join("\n"));
  assert.deepEqual(before, { canceled: 4 });
  const after = { canceled: 104, deadline_exceeded: 2 };
  assert.equal(codesDelta(before, after), "canceled 100, deadline_exceeded 2");
  assert.equal(codesDelta(after, after), "");
});

Deno.test("fastPortOf reads a valid fastPort from /healthz only", () => {
  assert.equal(fastPortOf({ status: "ok", fastPort: 50151 }), 50151);
  assert.equal(fastPortOf({ status: "ok" }), undefined);
  assert.equal(fastPortOf({ fastPort: "50151" }), undefined);
  assert.equal(fastPortOf({ fastPort: 0 }), undefined);
  assert.equal(fastPortOf(null), undefined);
});

Deno.test("withTimeout passes a value through and rejects with the message on time out", async () => {
  assert.equal(await withTimeout(Promise.resolve(3), 1000, "never"), 3);
  await assert.rejects(
    withTimeout(new Promise(() => {}), 5, "floor did not listen"),
    /floor did not listen/,
  );
});

/** A GetStats endpoint whose counters the test moves by hand. */
function fakeStats(state: { requests: number; waiters: number; onRead?: () => void }) {
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    assert.equal(new URL(req.url).pathname, "/dataservices.v1.MessagesService/GetStats");
    assert.equal(await req.text(), "{}");
    state.onRead?.();
    return Response.json({
      requests: String(state.requests),
      ...(state.waiters ? { inFlightWaiters: String(state.waiters) } : {}),
    });
  });
}

Deno.test("waitQuiet returns once nothing is in flight and requests stop moving", async () => {
  let reads = 0;
  const busyReads = Promise.withResolvers<void>();
  const state = {
    requests: 10,
    waiters: 2,
    onRead: () => ++reads === 6 && busyReads.resolve(),
  };
  const server = fakeStats(state);
  const base = `http://127.0.0.1:${server.addr.port}`;
  try {
    assert.equal((await readStats(base)).inFlightWaiters, 2);
    let returned = false;
    const quiet = waitQuiet(base, { timeoutMs: 5000, intervalMs: 1 }).then((s) => {
      returned = true;
      return s;
    });
    // Five reads of a busy instance: still polling. Settle it; then it returns the settled figures.
    await busyReads.promise;
    assert.equal(returned, false);
    state.requests = 15;
    state.waiters = 0;
    const s = await quiet;
    assert.equal(s.requests, 15);
    assert.equal(s.inFlightWaiters, 0);
  } finally {
    await server.shutdown();
  }
});

Deno.test("waitQuiet names the instance and its figures when it never settles", async () => {
  const state = { requests: 1, waiters: 1 };
  const server = fakeStats(state);
  const base = `http://127.0.0.1:${server.addr.port}`;
  try {
    await assert.rejects(
      waitQuiet(base, { timeoutMs: 30, intervalMs: 5 }),
      new RegExp(
        `${base} did not come to rest within 30 ms \\(requests 1, waiters 1, queries 0\\)`,
      ),
    );
  } finally {
    await server.shutdown();
  }
});
