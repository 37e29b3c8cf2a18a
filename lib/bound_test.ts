import assert from "node:assert/strict";
// @ts-types="npm:@types/sinonjs__fake-timers@15.0.1"
import FakeTimers from "@sinonjs/fake-timers";
import { boundBy } from "./bound.ts";
import { coarseTimer } from "./coarse_timer.ts";

Deno.test("boundBy passes results and errors through and leaves no timer", async () => {
  const at = performance.now() + 60_000;
  assert.equal(await boundBy(Promise.resolve(1), at, () => new Error("late")), 1);
  await assert.rejects(
    boundBy(Promise.reject(new Error("boom")), at, () => new Error("late")),
    /boom/,
  );
  assert.equal(coarseTimer.pending, 0);
});

Deno.test("boundBy rejects at the deadline; the late outcome is observed", async () => {
  const clock = FakeTimers.install({ toFake: ["setTimeout", "clearTimeout", "performance"] });
  try {
    const work = Promise.withResolvers<number>();
    const bounded = boundBy(work.promise, performance.now() + 500, () => new Error("took 500 ms"));
    let settled = false;
    const outcome = bounded.then(() => "resolved", (e: Error) => e.message).finally(() =>
      settled = true
    );
    await clock.tickAsync(499);
    assert.equal(settled, false, "not before the deadline");
    await clock.tickAsync(20);
    assert.equal(await outcome, "took 500 ms");
    // The work failing later is no unhandled rejection (the sanitizer would report it).
    work.reject(new Error("driver gave up"));
    await clock.tickAsync(1);
  } finally {
    clock.uninstall();
  }
});
