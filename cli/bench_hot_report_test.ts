import assert from "node:assert/strict";
import { formatHot, hotFigures, type ServerFigures } from "./bench_hot_report.ts";
import type { HotLoadResult } from "./bench_hot_load.ts";

const load = (): HotLoadResult => ({
  normal: { okMs: [1, 2, 3, 100], codes: { ok: 3, not_found: 1, resource_exhausted: 2 } },
  storm: { okMs: [5, 6], codes: { ok: 2 } },
  write: { okMs: [4], codes: { ok: 1, resource_exhausted: 9 } },
});
const server = (hottest: string): ServerFigures => ({
  queries: 1234,
  shed: 2,
  dropped: 1,
  throttled: 9,
  queryLimits: [40],
  hottestChannel: hottest,
  hottestRequests: 4500,
  hottestKey: "hist:9:0:0:20",
});

Deno.test("hotFigures: percentiles of successful calls, codes summed, storm named", () => {
  const f = hotFigures(load(), server("9"), 9n);
  assert.deepEqual(f.normal, { calls: 6, ok: 4, p50Ms: 2, p99Ms: 100 });
  assert.deepEqual(f.codes, { ok: 6, not_found: 1, resource_exhausted: 11 });
  assert.equal(f.namedStorm, true);
  assert.equal(hotFigures(load(), server("8"), 9n).namedStorm, false);
});

Deno.test("formatHot: one row per figure, both configurations", () => {
  const text = formatHot({
    off: hotFigures(load(), server("8"), 9n),
    on: hotFigures(load(), server("9"), 9n),
  });
  assert.match(text, /\| Cassandra queries +\| 1,234 +\| 1,234 +\|/);
  assert.match(text, /hottest channel \(requests\) +\| 8 \(4,500\) +\| 9 \(4,500\) = storm/);
  assert.match(text, /normal reads: p99 +\| 100\.0 ms/);
});
