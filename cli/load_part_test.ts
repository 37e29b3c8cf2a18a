import assert from "node:assert/strict";
import {
  mergeParts,
  partPacing,
  type PartResult,
  sendPart,
  usableParts,
  WHOLE,
} from "./load_part.ts";

Deno.test("partPacing: counts and caps shared out to the last request, rates divided", () => {
  const whole = { total: 10, rps: 90, concurrency: 5 };
  const parts = [0, 1, 2].map((index) => partPacing(whole, { index, of: 3 }));
  assert.deepEqual(parts.map((p) => p.total), [4, 3, 3]);
  assert.deepEqual(parts.map((p) => p.concurrency), [2, 2, 1]);
  assert.deepEqual(parts.map((p) => p.rps), [30, 30, 30]);
  assert.equal(partPacing(whole, WHOLE), whole);
  assert.equal(
    partPacing({ durationMs: 100, concurrency: 4 }, { index: 1, of: 2 }).total,
    undefined,
  );
});

Deno.test("usableParts: never more senders than requests or than requests in flight", () => {
  assert.equal(usableParts(4, { total: 10_000 }), 4);
  assert.equal(usableParts(4, { total: 3 }), 3);
  assert.equal(usableParts(4, { total: 100, concurrency: 2 }), 2);
  assert.equal(usableParts(4, { durationMs: 1000, concurrency: 8 }), 4);
  assert.equal(usableParts(0, { total: 10 }), 1);
});

Deno.test("sendPart: part k of n sends global indices k, k+n, ...; progress and errors counted", async () => {
  const seen: number[] = [];
  const progress = new Int32Array(2);
  const r = await sendPart(
    (i) => {
      seen.push(i);
      return i === 4 ? Promise.reject(new Error("boom")) : Promise.resolve();
    },
    { total: 10 },
    { index: 1, of: 3 },
    progress,
  );
  assert.deepEqual(seen, [1, 4, 7]);
  assert.equal(r.sent, 3);
  assert.equal(r.latencies.length, 3);
  assert.equal(r.failed, 1);
  assert.deepEqual(r.errors, { unknown: 1 });
  assert.deepEqual(r.samples, ["unknown: boom"]);
  assert.deepEqual([...progress], [3, 1]);
  assert.ok(r.endEpochMs >= r.startEpochMs && r.startEpochMs > 1e12, "epoch milliseconds");
});

Deno.test("mergeParts: latencies joined, counts summed, first start to last end", () => {
  const part = (over: Partial<PartResult>): PartResult => ({
    latencies: new Float64Array([1]),
    failed: 0,
    errors: {},
    samples: [],
    sent: 1,
    startEpochMs: 100,
    endEpochMs: 200,
    interrupted: false,
    ...over,
  });
  const m = mergeParts([
    part({
      latencies: new Float64Array([1, 2]),
      sent: 2,
      failed: 1,
      errors: { internal: 1 },
      samples: ["internal: a"],
    }),
    part({
      startEpochMs: 90,
      endEpochMs: 150,
      failed: 2,
      errors: { internal: 1, unavailable: 1 },
      samples: ["internal: a", "unavailable: b"],
    }),
    part({ endEpochMs: 300, interrupted: true }),
  ]);
  assert.deepEqual([...m.latencies], [1, 2, 1, 1]);
  assert.equal(m.sent, 4);
  assert.equal(m.failed, 3);
  assert.deepEqual(m.errors, { internal: 2, unavailable: 1 });
  assert.deepEqual(m.samples, ["internal: a", "unavailable: b"]);
  assert.equal(m.startEpochMs, 90);
  assert.equal(m.endEpochMs, 300);
  assert.equal(m.interrupted, true);
});
