import assert from "node:assert/strict";
// @ts-types="npm:@types/sinonjs__fake-timers@15.0.1"
import FakeTimers from "@sinonjs/fake-timers";
import { type Clock, type Completion, pacingMode, plannedRequests, runPaced } from "./pacing.ts";

/** A fake clock the pacer reads, and a way to make "responses" take a fixed time. */
function setup() {
  const fake = FakeTimers.createClock(0);
  // `stall(ms)` makes time jump without running any timer, like a blocked event loop.
  let lag = 0;
  const stall = (ms: number) => (lag += ms);
  const clock: Clock = {
    now: () => fake.now + lag,
    setTimeout: (fn, ms) => fake.setTimeout(fn, ms),
    clearTimeout: (id) => (fake.clearTimeout as (id: unknown) => void)(id),
  };
  const sentAt: number[] = [];
  const completions: Completion[] = [];
  /** A request that answers after `ms` (fake time), or fails when `fail(i)`. */
  const slow = (ms: number, fail: (i: number) => boolean = () => false) => (i: number) => {
    sentAt[i] = clock.now();
    return new Promise<void>((resolve, reject) =>
      fake.setTimeout(() => (fail(i) ? reject(new Error(`boom ${i}`)) : resolve()), ms)
    );
  };
  const onComplete = (c: Completion) => completions.push(c);
  return { fake, clock, sentAt, completions, slow, onComplete, stall };
}

Deno.test("open loop sends on schedule even when every response takes far longer", async () => {
  const { fake, clock, sentAt, completions, slow, onComplete } = setup();
  // 10 requests/s, but each takes 1 s: a closed loop would send one per second.
  const run = runPaced({ total: 5, rps: 10, clock }, slow(1000), onComplete);
  await fake.runAllAsync();
  const result = await run;
  assert.deepEqual(sentAt, [0, 100, 200, 300, 400]);
  assert.equal(result.sent, 5);
  assert.equal(result.startMs, 0);
  assert.equal(result.endMs, 1400);
  assert.deepEqual(completions.map((c) => c.latencyMs), [1000, 1000, 1000, 1000, 1000]);
  assert.ok(completions.every((c) => c.ok));
});

Deno.test("open loop behind schedule sends every overdue request at once; latency counts from the intended time", async () => {
  const { fake, clock, sentAt, completions, slow, onComplete, stall } = setup();
  const run = runPaced({ total: 5, rps: 10, clock }, slow(50), onComplete);
  // Request 0 goes out at t=0. Then the event loop stalls: the timer due at 100 runs at 350.
  stall(250);
  await fake.runAllAsync();
  await run;
  // 1, 2 and 3 (due at 100, 200, 300) go out together as soon as the pacer runs again.
  assert.deepEqual(sentAt, [0, 350, 350, 350, 400]);
  const byIndex = completions.toSorted((a, b) => a.index - b.index);
  assert.deepEqual(byIndex.map((c) => c.intendedMs), [0, 100, 200, 300, 400]);
  // Every response takes 50 ms, and a coordinated-omission tool would report 50 ms for all;
  // here the stall shows (request 0's response, due at 50, is also only seen at 300).
  assert.deepEqual(byIndex.map((c) => c.latencyMs), [300, 300, 200, 100, 50]);
});

Deno.test("open loop with a concurrency cap: due requests wait for a slot and the wait counts", async () => {
  const { fake, clock, sentAt, completions, slow, onComplete } = setup();
  const run = runPaced({ total: 4, rps: 10, concurrency: 1, clock }, slow(300), onComplete);
  await fake.runAllAsync();
  await run;
  assert.deepEqual(sentAt, [0, 300, 600, 900]);
  const byIndex = completions.toSorted((a, b) => a.index - b.index);
  assert.deepEqual(byIndex.map((c) => c.latencyMs), [300, 500, 700, 900]);
});

Deno.test("open loop with a duration sends rps * duration requests, failures reported", async () => {
  const { fake, clock, sentAt, completions, slow, onComplete } = setup();
  const run = runPaced(
    { rps: 20, durationMs: 500, clock },
    slow(10, (i) => i % 3 === 0),
    onComplete,
  );
  await fake.runAllAsync();
  const result = await run;
  assert.equal(result.sent, 10);
  assert.deepEqual(sentAt, [0, 50, 100, 150, 200, 250, 300, 350, 400, 450]);
  assert.equal(completions.filter((c) => !c.ok).length, 4); // 0, 3, 6, 9
  assert.match(String(completions.find((c) => !c.ok)?.error), /boom 0/);
});

Deno.test("all at once: everything is sent at the start and latency counts from it", async () => {
  const { fake, clock, sentAt, completions, onComplete } = setup();
  const run = runPaced(
    { total: 3, clock },
    (i) => {
      sentAt[i] = fake.now;
      return new Promise((r) => fake.setTimeout(r, 100 * (i + 1)));
    },
    onComplete,
  );
  await fake.runAllAsync();
  const result = await run;
  assert.deepEqual(sentAt, [0, 0, 0]);
  assert.deepEqual(completions.map((c) => c.latencyMs), [100, 200, 300]);
  assert.equal(result.endMs, 300);
});

Deno.test("closed loop: at most `concurrency` in flight, next request on each completion", async () => {
  const { fake, clock, sentAt, completions, slow, onComplete } = setup();
  const run = runPaced({ total: 5, concurrency: 2, clock }, slow(100), onComplete);
  await fake.runAllAsync();
  await run;
  assert.deepEqual(sentAt, [0, 0, 100, 100, 200]);
  assert.ok(completions.every((c) => c.latencyMs === 100));
});

Deno.test("closed loop with a duration stops sending when it ends", async () => {
  const { fake, clock, sentAt, slow, onComplete } = setup();
  const run = runPaced({ durationMs: 250, concurrency: 1, clock }, slow(100), onComplete);
  await fake.runAllAsync();
  const result = await run;
  assert.deepEqual(sentAt, [0, 100, 200]);
  assert.equal(result.interrupted, false);
});

Deno.test("an abort stops sending; requests in flight still complete", async () => {
  const { fake, clock, sentAt, completions, slow, onComplete } = setup();
  const abort = new AbortController();
  const run = runPaced({ total: 100, rps: 10, clock, signal: abort.signal }, slow(500), onComplete);
  await fake.tickAsync(250); // sent 0, 1, 2
  abort.abort();
  await fake.runAllAsync();
  const result = await run;
  assert.equal(result.sent, 3);
  assert.equal(result.interrupted, true);
  assert.equal(completions.length, 3);
  assert.deepEqual(sentAt, [0, 100, 200]);
});

Deno.test("a send that throws synchronously is a failed request, not a crash", async () => {
  const { fake, clock, completions, onComplete } = setup();
  const run = runPaced({ total: 2, clock }, () => {
    throw new Error("sync");
  }, onComplete);
  await fake.runAllAsync();
  await run;
  assert.deepEqual(completions.map((c) => c.ok), [false, false]);
});

Deno.test("modes and planned counts", () => {
  assert.equal(pacingMode({ total: 1 }), "all-at-once");
  assert.equal(pacingMode({ total: 1, rps: 5, concurrency: 2 }), "open-loop");
  assert.equal(pacingMode({ total: 1, concurrency: 2 }), "closed-loop");
  assert.equal(plannedRequests({ total: 7, rps: 1 }), 7);
  assert.equal(plannedRequests({ rps: 100, durationMs: 2500 }), 250);
  assert.equal(plannedRequests({ concurrency: 4, durationMs: 1000 }), Infinity);
  assert.throws(() => plannedRequests({}), RangeError);
  assert.throws(() => plannedRequests({ durationMs: 1000 }), /needs a rate/);
});
