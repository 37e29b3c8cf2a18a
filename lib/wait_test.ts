import assert from "node:assert/strict";
// @ts-types="npm:@types/sinonjs__fake-timers@15.0.1"
import FakeTimers from "@sinonjs/fake-timers";
import { waitReady, WaitTimeoutError, waitUntil, withTimeout } from "./wait.ts";

/** Fake setTimeout/clearTimeout/Date for the body of `fn`. */
async function withFakeTime(fn: (clock: FakeTimers.InstalledClock) => Promise<void>) {
  const clock = FakeTimers.install({ toFake: ["setTimeout", "clearTimeout", "Date"] });
  try {
    await fn(clock);
  } finally {
    clock.uninstall();
  }
}

Deno.test("withTimeout: settles as the promise does, and leaves no timer", async () => {
  await withFakeTime(async (clock) => {
    assert.equal(await withTimeout(Promise.resolve(7), 1000, "seven"), 7);
    await assert.rejects(withTimeout(Promise.reject(new Error("no")), 1000, "x"), /^Error: no$/);
    assert.equal(clock.countTimers(), 0);
  });
});

Deno.test("withTimeout: names what did not happen when the deadline passes", async () => {
  await withFakeTime(async (clock) => {
    const never = new Promise<never>(() => {});
    const waiting = assert.rejects(withTimeout(never, 5000, "instance ready"), (err) => {
      assert.ok(err instanceof WaitTimeoutError);
      assert.equal(err.message, "timed out after 5000 ms waiting for instance ready");
      return true;
    });
    await clock.tickAsync(4999);
    assert.equal(clock.countTimers(), 1, "still waiting at 4999 ms");
    await clock.tickAsync(1);
    await waiting;
  });
});

Deno.test("waitUntil: checks until true, a throw counts as not yet", async () => {
  await withFakeTime(async (clock) => {
    let calls = 0;
    const done = waitUntil(() => {
      calls++;
      if (calls === 1) throw new Error("refused");
      return calls >= 3;
    }, { what: "x", timeoutMs: 10_000, intervalMs: 100 });
    await clock.tickAsync(200);
    await done;
    assert.equal(calls, 3);
    assert.equal(clock.countTimers(), 0);
  });
});

Deno.test("waitUntil: the deadline names what did not come up", async () => {
  await withFakeTime(async (clock) => {
    const done = assert.rejects(
      waitUntil(() => false, { what: "gateway ready", timeoutMs: 1000, intervalMs: 100 }),
      (err) => err instanceof WaitTimeoutError && /waiting for gateway ready$/.test(err.message),
    );
    await clock.tickAsync(1000);
    await done;
    assert.equal(clock.countTimers(), 0);
  });
});

Deno.test("waitUntil: `stop` ends the wait at once with its text", async () => {
  const exited = Promise.withResolvers<string>();
  const done = waitUntil(() => false, {
    what: "x",
    timeoutMs: 60_000,
    intervalMs: 60_000,
    stop: exited.promise,
  });
  exited.resolve("instance exited with code 1");
  await assert.rejects(done, /^Error: instance exited with code 1$/);
});

Deno.test("waitReady: polls until the server answers 2xx; a check that hangs is cut at the deadline", async () => {
  let hits = 0;
  const hang = Promise.withResolvers<Response>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    if (new URL(req.url).pathname === "/hang") return hang.promise;
    return new Response(null, { status: ++hits < 3 ? 503 : 200 });
  });
  const url = `http://127.0.0.1:${server.addr.port}`;
  try {
    assert.equal(await waitReady(url, { intervalMs: 1, timeoutMs: 10_000 }), url);
    assert.equal(hits, 3);
    await assert.rejects(
      waitReady(url, { path: "/hang", timeoutMs: 50, what: "the hanging server" }),
      /timed out after 50 ms waiting for the hanging server/,
    );
  } finally {
    hang.resolve(new Response(null));
    await server.shutdown();
  }
});
