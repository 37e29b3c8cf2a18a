import assert from "node:assert/strict";
import { candidates, freeRows, type LeaseRow } from "./lease_contract.ts";
import { MAX_WORKER_ID } from "./snowflake.ts";

Deno.test("freeRows: every id not held by another, missing rows as free with no mark", () => {
  const scanned: LeaseRow[] = [
    { workerId: 0, holder: "other", highWaterMs: 10 },
    { workerId: 1, holder: "me", highWaterMs: 20 },
    { workerId: 2, holder: undefined, highWaterMs: 30 },
  ];
  const free = freeRows(scanned, "me");
  assert.equal(free.length, MAX_WORKER_ID, "all but id 0");
  assert.deepEqual(free.slice(0, 3), [
    { workerId: 1, holder: "me", highWaterMs: 20 },
    { workerId: 2, holder: undefined, highWaterMs: 30 },
    { workerId: 3, holder: undefined, highWaterMs: 0 },
  ]);
});

Deno.test("candidates: the id held last first, then random ones, at most count, taken out of free", () => {
  const free: LeaseRow[] = [5, 6, 7, 8].map((workerId) => ({
    workerId,
    holder: undefined,
    highWaterMs: 0,
  }));
  const picked = candidates(free, 7, 3, () => 0); // random 0: always the first left
  assert.deepEqual(picked.map((r) => r.workerId), [7, 5, 6]);
  assert.deepEqual(free.map((r) => r.workerId), [8]);
  assert.deepEqual(candidates(free, 99, 3, () => 0.99).map((r) => r.workerId), [8]);
  assert.equal(free.length, 0);
});
