import assert from "node:assert/strict";
import { Prng } from "./prng.ts";

Deno.test("Prng: one seed gives one sequence; cases are independent of each other", () => {
  const a = Prng.forCase(42, 7);
  const b = Prng.forCase(42, 7);
  const seqA = Array.from({ length: 5 }, () => a.next());
  assert.deepEqual(seqA, Array.from({ length: 5 }, () => b.next()));
  assert.notDeepEqual(seqA, Array.from({ length: 5 }, () => Prng.forCase(42, 8).next()));
  assert.notDeepEqual(seqA, Array.from({ length: 5 }, () => Prng.forCase(43, 7).next()));
});

Deno.test("Prng: ranges stay in bounds and cover them", () => {
  const r = new Prng(1);
  const seen = new Set<number>();
  for (let i = 0; i < 2000; i++) {
    const v = r.range(3, 9);
    assert.ok(v >= 3 && v <= 9, String(v));
    seen.add(v);
  }
  assert.equal(seen.size, 7);
  assert.equal(r.bytes(13).length, 13);
});
