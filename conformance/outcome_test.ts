import assert from "node:assert/strict";
import { parseSummary } from "./outcome.ts";

Deno.test("parseSummary reads the runner's totals, tests not run and expected failures", () => {
  assert.deepEqual(parseSummary("FAILED: x:\n\tboom\n\nTotal cases: 12\n10 passed, 2 failed\n"), {
    complete: true,
    passed: 10,
    failed: 2,
    expected: 0,
    notRun: 0,
  });
  const wedgedClient = "Total cases: 346\n341 passed, 5 failed\n" +
    "Another 180 could not be run due to client timing out or exiting prematurely.\n" +
    "(Another 4 failed as expected due to being known failures/flakes.)\n";
  assert.deepEqual(parseSummary(wedgedClient), {
    complete: true,
    passed: 341,
    failed: 185,
    expected: 4,
    notRun: 180,
  });
  assert.equal(
    parseSummary("known failing: unmatched and possibly invalid patterns:\nx\n").complete,
    false,
  );
});
