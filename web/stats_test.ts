import assert from "node:assert/strict";
import { Code } from "@connectrpc/connect";
import {
  describeError,
  fleetDelta,
  instanceState,
  LiveSeries,
  parseChannelId,
  rateBetween,
  rates,
  routeLine,
  stormFigures,
  toCounters,
} from "./stats.ts";

const c = (requests: number, queries: number, coalesced = 0) => ({
  requests,
  queries,
  coalesced,
  errors: 0,
  rejected: 0,
});

Deno.test("fleetDelta sums instances read twice; a restarted one counts from its restart", () => {
  const before = [
    { id: "a", counters: c(10, 5, 3), startedAtMs: 1 },
    { id: "b", counters: c(100, 50), startedAtMs: 1 },
    { id: "c", error: "cannot reach instance c" },
    { id: "d", counters: c(7, 7), startedAtMs: 1 },
  ];
  const after = [
    { id: "a", counters: c(510, 9, 496), startedAtMs: 1 },
    { id: "b", counters: c(100, 50), startedAtMs: 1 },
    { id: "c", error: "cannot reach instance c" },
    { id: "d", counters: c(2, 2), startedAtMs: 2 },
  ];
  const d = fleetDelta(before, after);
  assert.deepEqual(d.total, c(502, 6, 493));
  assert.deepEqual([...d.perInstance.keys()], ["a", "b", "d"]);
  assert.deepEqual(d.perInstance.get("d"), c(2, 2));
  assert.deepEqual(d.restarted, ["d"]);
  assert.deepEqual(d.skipped, [{ id: "c", reason: "cannot reach instance c" }]);
});

Deno.test("toCounters converts the bigints of GetStats", () => {
  assert.deepEqual(
    toCounters({ requests: 3n, queries: 2n, coalesced: 1n, errors: 0n, rejected: 0n }),
    c(3, 2, 1),
  );
});

Deno.test("rates are per second; saved is the coalesced share of requests", () => {
  assert.deepEqual(rates(c(50, 10, 40), 500), { requests: 100, queries: 20, saved: 0.8 });
  assert.deepEqual(rates(c(0, 0), 1000), { requests: 0, queries: 0, saved: null });
});

Deno.test("rateBetween: none without a previous reading; over a restart, counts since it", () => {
  const snap = (requests: number, startedAtMs = 1) => ({
    id: "a",
    counters: c(requests, 1),
    startedAtMs,
  });
  assert.equal(rateBetween(undefined, snap(10), 1000), undefined);
  assert.equal(
    rateBetween({ snapshot: { id: "a", error: "x" }, at: 0 }, snap(10), 1000),
    undefined,
  );
  assert.equal(rateBetween({ snapshot: snap(100), at: 0 }, snap(300), 2000)?.requests, 100);
  assert.equal(rateBetween({ snapshot: snap(100), at: 0 }, snap(30, 2), 1000)?.requests, 30);
});

Deno.test("LiveSeries keeps the last N polls, gaps as null, saved in percent", () => {
  const s = new LiveSeries(2, 2);
  s.push(1, [{ requests: 10, queries: 1, saved: 0.9 }, undefined]);
  s.push(2, [{ requests: 20, queries: 2, saved: null }, { requests: 5, queries: 5, saved: 0 }]);
  s.push(3, [undefined, { requests: 6, queries: 6, saved: 0 }]);
  assert.deepEqual(s.xs, [2, 3]);
  assert.deepEqual(s.requests, [[20, null], [5, 6]]);
  assert.deepEqual(s.saved, [[null, null], [0, 0]]);
});

Deno.test("instanceState: down, not serving, up, and busy-but-up during a storm", () => {
  const ok = { counters: c(1, 1) };
  assert.deepEqual(instanceState(ok, true, false), { state: "up", note: "" });
  assert.deepEqual(instanceState(ok, false, false), { state: "not-serving", note: "" });
  assert.deepEqual(instanceState({ error: "refused" }, false, false), {
    state: "down",
    note: "refused",
  });
  const late = { code: Code.DeadlineExceeded, error: "timed out" };
  assert.equal(instanceState(late, true, true).state, "up");
  assert.match(instanceState(late, true, true).note, /busy/);
  assert.equal(instanceState(late, true, false).state, "down");
});

Deno.test("stormFigures: servers' counts, client's rate and latency, notes", () => {
  const delta = fleetDelta(
    [{ id: "a", counters: c(0, 0), startedAtMs: 1 }, { id: "b", error: "down" }],
    [{ id: "a", counters: c(500, 3, 497), startedAtMs: 1 }, { id: "b", error: "down" }],
  );
  const f = stormFigures({
    sent: 500,
    ok: 498,
    wallMs: 250,
    latencies: [4, 1, 3, 2],
    delta,
    failures: new Map([["Unavailable", 2]]),
  });
  assert.equal(f.failed, 2);
  assert.equal(f.requests, 500);
  assert.equal(f.saved, 497);
  assert.equal(f.queriesPerRequest, 0.006);
  assert.equal(f.requestsPerSecond, 2000);
  assert.equal(f.latency?.p50, 2);
  assert.deepEqual(f.notes, [
    "a: 500 requests, 3 queries",
    "b not counted (down)",
    "2 failed with Unavailable",
  ]);
  const none = stormFigures({
    sent: 1,
    ok: 0,
    wallMs: 0,
    latencies: [],
    delta: fleetDelta([], []),
    failures: new Map(),
  });
  assert.equal(none.queriesPerRequest, undefined);
  assert.equal(none.latency, undefined);
});

Deno.test("parseChannelId accepts 1..2^63-1 and explains the rest", () => {
  assert.equal(parseChannelId(" 42 "), 42n);
  assert.equal(parseChannelId("9223372036854775807"), 2n ** 63n - 1n);
  assert.throws(() => parseChannelId("abc"), /"abc" is not a channel id/);
  assert.throws(() => parseChannelId(""), /is not a channel id/);
  assert.throws(() => parseChannelId("0"), /must be 1\.\.2\^63-1, got 0/);
  assert.throws(() => parseChannelId("9223372036854775808"), /must be 1\.\.2\^63-1/);
});

Deno.test("routeLine names the owner, a fallback, or the gateway", () => {
  const base = { channel: 7n, owner: "a:1", target: "a:1", instances: 2 };
  assert.deepEqual(routeLine({ ...base, viaGateway: false }), {
    text: "channel 7 → a:1 (owner by jump hash over 2 instances)",
    value: "a:1",
  });
  assert.deepEqual(routeLine({ ...base, target: "b:2", viaGateway: false }), {
    text: "channel 7 → b:2 (fallback: owner a:1 is down)",
    value: "b:2",
  });
  assert.equal(routeLine({ ...base, viaGateway: true }).value, "gateway");
});

Deno.test("describeError words each code", () => {
  assert.equal(
    describeError(Code.Unavailable, "Cassandra: no host"),
    "Cassandra unavailable: Cassandra: no host",
  );
  assert.equal(describeError(Code.Unavailable, "draining"), "service unavailable: draining");
  assert.match(describeError(Code.ResourceExhausted, "cap"), /^server busy/);
  assert.equal(describeError(Code.NotFound, "gone"), "NotFound: gone");
});
