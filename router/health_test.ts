import assert from "node:assert/strict";
// @ts-types="npm:@types/sinonjs__fake-timers@15.0.1"
import FakeTimers from "@sinonjs/fake-timers";
import { Code } from "@connectrpc/connect";
import { HealthCheckResponse_ServingStatus as Serving } from "../gen/grpc/health/v1/health_pb.ts";
import { probeHealth, ProbeLoop } from "./health.ts";
import { FakeInstance } from "./_fake.ts";

Deno.test("probeHealth: SERVING and UNIMPLEMENTED are up; anything else is down", async () => {
  const fake = new FakeInstance("h:1");
  const cases = [
    ["serving", true, undefined],
    ["unimplemented", true, Code.Unimplemented],
    ["not-serving", false, undefined],
    ["unavailable", false, Code.Unavailable],
  ] as const;
  for (const [mode, up, code] of cases) {
    fake.health = mode;
    const result = await probeHealth(fake.transport);
    assert.equal(result.up, up, mode);
    assert.equal(result.error?.code, code, mode);
  }
  fake.health = "not-serving";
  assert.equal((await probeHealth(fake.transport)).status, Serving.NOT_SERVING);
});

Deno.test("probeHealth: a hung check is down after its timeout; an aborted one at once", async () => {
  const clock = FakeTimers.install({ toFake: ["setTimeout", "clearTimeout", "Date"] });
  try {
    const fake = new FakeInstance("h:1");
    fake.health = "hang";
    let settled = false;
    const probe = probeHealth(fake.transport, { timeoutMs: 300 }).finally(() => settled = true);
    await clock.tickAsync(299);
    assert.equal(settled, false);
    await clock.tickAsync(1);
    const result = await probe;
    assert.equal(result.up, false);
    assert.equal(result.error?.code, Code.DeadlineExceeded);

    const abort = new AbortController();
    const aborted = probeHealth(fake.transport, { timeoutMs: 60_000, signal: abort.signal });
    abort.abort();
    assert.equal((await aborted).up, false);
  } finally {
    clock.uninstall();
  }
});

Deno.test("ProbeLoop: rounds never overlap; the next starts an interval after the last ends", async () => {
  const clock = FakeTimers.install({ toFake: ["setTimeout", "clearTimeout"] });
  try {
    const started: number[] = [];
    let release = Promise.withResolvers<void>();
    const loop = new ProbeLoop(1000, async () => {
      started.push(clock.now);
      await release.promise;
    });
    loop.start();
    loop.start(); // no second schedule
    await clock.tickAsync(0);
    assert.deepEqual(started, [0]);
    await clock.tickAsync(5000); // the first round is still running
    assert.deepEqual(started, [0]);
    release.resolve();
    release = Promise.withResolvers<void>();
    await clock.tickAsync(999);
    assert.deepEqual(started, [0]);
    await clock.tickAsync(1);
    assert.deepEqual(started, [0, 6000]);
    release.resolve();
    await loop.stop();
    await clock.tickAsync(10_000);
    assert.deepEqual(started, [0, 6000]);
    assert.equal(clock.countTimers(), 0);
  } finally {
    clock.uninstall();
  }
});

Deno.test("ProbeLoop: stop aborts the running round and waits for it", async () => {
  const clock = FakeTimers.install({ toFake: ["setTimeout", "clearTimeout"] });
  try {
    let sawAbort = false;
    const loop = new ProbeLoop(1000, (signal) =>
      new Promise<void>((resolve) => {
        signal.addEventListener("abort", () => {
          sawAbort = true;
          resolve();
        });
      }));
    loop.start();
    await clock.tickAsync(0);
    await loop.stop();
    assert.equal(sawAbort, true);
    await loop.runNow(); // a no-op after stop
  } finally {
    clock.uninstall();
  }
});

Deno.test("ProbeLoop: a failing round does not stop the loop; interval 0 is manual only", async () => {
  const clock = FakeTimers.install({ toFake: ["setTimeout", "clearTimeout"] });
  try {
    let rounds = 0;
    const loop = new ProbeLoop(100, () => {
      rounds++;
      return Promise.reject(new Error("probe bug"));
    });
    loop.start();
    await clock.tickAsync(250);
    assert.equal(rounds, 3);
    await loop.stop();

    let manual = 0;
    const off = new ProbeLoop(0, () => Promise.resolve(void manual++));
    assert.equal(off.periodic, false);
    off.start();
    await clock.tickAsync(10_000);
    assert.equal(manual, 0);
    await off.runNow();
    await off.runNow();
    assert.equal(manual, 2);
    await off.stop();
    assert.throws(() => new ProbeLoop(-1, () => Promise.resolve()), RangeError);
    assert.throws(() => new ProbeLoop(Number.NaN, () => Promise.resolve()), RangeError);
  } finally {
    clock.uninstall();
  }
});
