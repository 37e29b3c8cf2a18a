import assert from "node:assert/strict";
import type { ChildService } from "./child.ts";
import { supervise } from "./supervisor.ts";

/** A child whose exit the test decides. */
function fakeChild(name: string) {
  const exit = Promise.withResolvers<number>();
  let stops = 0;
  const child: ChildService = {
    name,
    pid: 0,
    listening: Promise.resolve("http://x"),
    exited: exit.promise,
    tail: () => [],
    ready: () => Promise.resolve("http://x"),
    stop() {
      stops++;
      exit.resolve(0);
      return exit.promise;
    },
  };
  return { child, crash: (code: number) => exit.resolve(code), stops: () => stops };
}

/** A manual clock: timers run when the test advances time. */
function manualClock() {
  let t = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  let id = 0;
  return {
    now: () => t,
    setTimeout: (fn: () => void, ms: number) => {
      timers.set(++id, { at: t + ms, fn });
      return id;
    },
    clearTimeout: (i: unknown) => void timers.delete(i as number),
    advance(ms: number) {
      t += ms;
      for (const [i, timer] of [...timers]) {
        if (timer.at <= t) {
          timers.delete(i);
          timer.fn();
        }
      }
    },
    pending: () => timers.size,
  };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

Deno.test("a child that crashes after a long run is restarted at once", async () => {
  const clock = manualClock();
  const made: ReturnType<typeof fakeChild>[] = [];
  const exits: number[] = [];
  const s = supervise(() => {
    const f = fakeChild("svc");
    made.push(f);
    return f.child;
  }, { ...clock, onExit: (e) => exits.push(e.restartInMs) });
  clock.advance(60_000); // ran a minute
  made[0].crash(134);
  await tick();
  assert.deepEqual(exits, [0]);
  clock.advance(0);
  assert.equal(made.length, 2, "a new child was spawned");
  assert.equal(s.current, made[1].child);
  assert.equal(s.restarts, 1);
  await s.stop();
  assert.equal(made[1].stops(), 1);
});

Deno.test("a crash loop backs off, doubling the pause up to the maximum", async () => {
  const clock = manualClock();
  const made: ReturnType<typeof fakeChild>[] = [];
  const pauses: number[] = [];
  const s = supervise(() => {
    const f = fakeChild("svc");
    made.push(f);
    return f.child;
  }, { ...clock, firstPauseMs: 100, maxPauseMs: 400, onExit: (e) => pauses.push(e.restartInMs) });
  for (let i = 0; i < 5; i++) {
    made[made.length - 1].crash(1); // dies young
    await tick();
    clock.advance(pauses[pauses.length - 1]);
  }
  assert.deepEqual(pauses, [100, 200, 400, 400, 400]);
  assert.equal(made.length, 6);
  await s.stop();
});

Deno.test("stop() ends supervision: a pending restart never happens", async () => {
  const clock = manualClock();
  const made: ReturnType<typeof fakeChild>[] = [];
  const s = supervise(() => {
    const f = fakeChild("svc");
    made.push(f);
    return f.child;
  }, { ...clock, firstPauseMs: 1000 });
  made[0].crash(1);
  await tick();
  assert.equal(clock.pending(), 1, "a restart is scheduled");
  await s.stop();
  assert.equal(clock.pending(), 0, "and cancelled");
  clock.advance(5000);
  assert.equal(made.length, 1);
});
