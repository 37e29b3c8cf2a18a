import assert from "node:assert/strict";
import { closedLoop } from "./bench_commitlog.ts";

Deno.test("closedLoop: every call once, never more than `concurrency` at a time, errors counted", async () => {
  let inFlight = 0;
  let peak = 0;
  const seen: number[] = [];
  const gates: (() => void)[] = [];
  const run = closedLoop(10, 3, async (i) => {
    inFlight++;
    peak = Math.max(peak, inFlight);
    seen.push(i);
    await new Promise<void>((r) => gates.push(r));
    inFlight--;
    if (i % 4 === 0) throw new Error("boom");
  });
  // release calls one by one as they arrive
  while (seen.length < 10 || gates.length) {
    await Promise.resolve();
    gates.shift()?.();
  }
  const r = await run;
  assert.deepEqual(seen, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.equal(peak, 3);
  assert.equal(r.errors, 3); // 0, 4, 8
  assert.equal(r.latencies.length, 7);
});
