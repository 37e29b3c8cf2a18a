import assert from "node:assert/strict";
import { formatGoDuration, histogramLines } from "./report_text.ts";

Deno.test("histogramLines scales bars to the fullest bucket", () => {
  const lines = histogramLines([
    { fromMs: 1, toMs: 2, count: 10 },
    { fromMs: 2, toMs: 3, count: 5 },
    { fromMs: 3, toMs: 4, count: 0 },
  ], 10);
  assert.equal(lines[0], "  1.00 - 2.00 ms [10] ■■■■■■■■■■");
  assert.equal(lines[1], "  2.00 - 3.00 ms [ 5] ■■■■■");
  assert.equal(lines[2], "  3.00 - 4.00 ms [ 0]");
});

Deno.test("formatGoDuration matches Go's time.Duration.String()", () => {
  assert.equal(formatGoDuration(816.727364), "816.727364ms");
  assert.equal(formatGoDuration(1500), "1.5s");
  assert.equal(formatGoDuration(1000), "1s");
  assert.equal(formatGoDuration(0.95), "950µs");
  assert.equal(formatGoDuration(0.0005), "500ns");
  assert.equal(formatGoDuration(0), "0s");
  assert.equal(formatGoDuration(123_000.000001), "2m3.000000001s");
  assert.equal(formatGoDuration(3_723_000), "1h2m3s");
});
