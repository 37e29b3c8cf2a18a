import assert from "node:assert/strict";
import { createProgressLine, progressText } from "./load_progress.ts";

Deno.test("progressText shows done/total, rate and errors", () => {
  assert.equal(
    progressText({ done: 5000, total: 10000, errors: 2, elapsedMs: 1250 }),
    "load: 5000/10000 (50%)  4000 req/s  errors 2  1.3s",
  );
  assert.equal(
    progressText({ done: 10, total: Infinity, errors: 0, elapsedMs: 0 }),
    "load: 10  0 req/s  errors 0  0.0s",
  );
});

Deno.test("no progress line when stderr is not a terminal", () => {
  const line = createProgressLine(10, false);
  let reads = 0;
  line.start(() => {
    reads++;
    return { done: 0, total: 1, errors: 0, elapsedMs: 0 };
  });
  line.stop();
  assert.equal(reads, 0);
});
