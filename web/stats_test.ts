import assert from "node:assert/strict";
import {
  fleetDelta,
  histogram,
  niceStep,
  quantile,
  rates,
  resolveConfig,
  summarize,
  toCounters,
} from "./stats.ts";

const c = (requests: number, queries: number, coalesced = 0) => ({
  requests,
  queries,
  coalesced,
  errors: 0,
  rejected: 0,
});

Deno.test("quantile uses the nearest rank", () => {
  const sorted = Array.from({ length: 100 }, (_, i) => i + 1);
  assert.equal(quantile(sorted, 0.5), 50);
  assert.equal(quantile(sorted, 0.9), 90);
  assert.equal(quantile(sorted, 0.99), 99);
  assert.equal(quantile(sorted, 1), 100);
  assert.equal(quantile([7], 0.5), 7);
  assert.ok(Number.isNaN(quantile([], 0.5)));
});

Deno.test("summarize sorts a copy and reports p50/p90/p99/max", () => {
  const samples = [5, 1, 4, 2, 3];
  const s = summarize(samples);
  assert.deepEqual(samples, [5, 1, 4, 2, 3]);
  assert.equal(s.count, 5);
  assert.equal(s.min, 1);
  assert.equal(s.p50, 3);
  assert.equal(s.p90, 5);
  assert.equal(s.max, 5);
  assert.equal(s.mean, 3);
});

Deno.test("histogram counts every sample once in nice-width bins", () => {
  const samples = [0, 0.4, 1, 9.99, 10, 19.9, 20];
  const { edges, counts } = histogram(samples, 10);
  assert.equal(edges[1] - edges[0], 2);
  assert.equal(counts.reduce((a, b) => a + b, 0), samples.length);
  assert.equal(edges[edges.length - 1], 20);
  assert.equal(counts[counts.length - 1], 2, "the max lands in the last bin");
  assert.deepEqual(histogram([], 5).counts, [0]);
  assert.deepEqual(histogram([0, 0], 5).counts, [2]);
});

Deno.test("niceStep rounds up to 1, 2 or 5 times a power of ten", () => {
  assert.equal(niceStep(0.3), 0.5);
  assert.equal(niceStep(1), 1);
  assert.equal(niceStep(1.1), 2);
  assert.equal(niceStep(3), 5);
  assert.equal(niceStep(7), 10);
  assert.equal(niceStep(120), 200);
});

Deno.test("fleetDelta sums instances read twice and skips unreachable or restarted ones", () => {
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
  assert.deepEqual(d.total, c(500, 4, 493));
  assert.deepEqual([...d.perInstance.keys()], ["a", "b"]);
  assert.deepEqual(d.skipped, [
    { id: "c", reason: "cannot reach instance c" },
    { id: "d", reason: "restarted during the run" },
  ]);
});

Deno.test("toCounters converts the bigints of GetStats", () => {
  assert.deepEqual(
    toCounters({
      requests: 3n,
      queries: 2n,
      coalesced: 1n,
      errors: 0n,
      rejected: 0n,
    }),
    c(3, 2, 1),
  );
});

Deno.test("rates are per second; saved is the coalesced share of requests", () => {
  assert.deepEqual(rates(c(50, 10, 40), 500), {
    requests: 100,
    queries: 20,
    saved: 0.8,
  });
  assert.deepEqual(rates(c(0, 0), 1000), {
    requests: 0,
    queries: 0,
    saved: null,
  });
});

Deno.test("resolveConfig: the address overrides /config.json", () => {
  const file = {
    instances: ["127.0.0.1:50051", "127.0.0.1:50052"],
    gateway: "http://g:8080",
  };
  assert.deepEqual(resolveConfig(file, ""), {
    instances: file.instances,
    gateway: "http://g:8080",
    source: "/config.json",
  });
  assert.deepEqual(
    resolveConfig(file, "?instances=a:1,b:2&gateway=http://x:1"),
    {
      instances: ["a:1", "b:2"],
      gateway: "http://x:1",
      source: "?instances= in the address",
    },
  );
  assert.deepEqual(
    resolveConfig(undefined, "?instances=a:1", "HTTP 404").instances,
    ["a:1"],
  );
  assert.throws(
    () => resolveConfig(undefined, "", "HTTP 404"),
    /could not be read \(HTTP 404\).*\?instances=/,
  );
  assert.throws(() => resolveConfig({ instances: [] }, ""), /has no instances/);
});
