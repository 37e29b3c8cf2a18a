import assert from "node:assert/strict";
// @ts-types="npm:@types/sinonjs__fake-timers@15.0.1"
import FakeTimers from "@sinonjs/fake-timers";
import { CoarseTimer, type Expiring, SLOT_MS } from "./coarse_timer.ts";

/** Runs `body` with fake setTimeout/clearTimeout and performance.now(), starting at `start` ms. */
function withClock(body: (clock: FakeTimers.InstalledClock) => void, start = 1_000) {
  const clock = FakeTimers.install({ toFake: ["setTimeout", "clearTimeout", "performance"] });
  try {
    clock.tick(start);
    body(clock);
  } finally {
    clock.uninstall();
  }
}

/** An entry that records the performance.now() of each expiry. */
function entry(): Expiring & { fired: number[] } {
  const fired: number[] = [];
  return { fired, expire: () => fired.push(performance.now()) };
}

Deno.test("CoarseTimer: deadlines in the same slot share one timer", () => {
  withClock((clock) => {
    const t = new CoarseTimer();
    const now = performance.now(); // a multiple of SLOT_MS
    const a = entry(), b = entry(), c = entry(), d = entry();
    const ha = t.schedule(a, now + 1);
    const hb = t.schedule(b, now + SLOT_MS / 2);
    const hc = t.schedule(c, now + SLOT_MS);
    assert.equal(ha, hb);
    assert.equal(hb, hc);
    assert.equal(t.pending, 1);
    assert.equal(clock.countTimers(), 1);
    t.schedule(d, now + SLOT_MS + 1); // the next slot
    assert.equal(t.pending, 2);
    assert.equal(clock.countTimers(), 2);
    clock.tick(SLOT_MS);
    assert.equal(a.fired.length + b.fired.length + c.fired.length, 3);
    assert.deepEqual(d.fired, []);
    assert.equal(t.pending, 1);
    clock.tick(SLOT_MS);
    assert.equal(d.fired.length, 1);
    assert.equal(t.pending, 0);
    assert.equal(clock.countTimers(), 0);
  });
});

Deno.test("CoarseTimer: fires at or after the deadline, within one slot, never early", () => {
  for (const offset of [0, 0.25, 3, 7.5]) {
    withClock((clock) => {
      const t = new CoarseTimer();
      const base = performance.now();
      const deadlines = [0.5, 1, SLOT_MS - 1, SLOT_MS, SLOT_MS + 0.001, 2 * SLOT_MS - 0.5, 37]
        .map((d) => base + d);
      const entries = deadlines.map((at) => {
        const e = entry();
        t.schedule(e, at);
        return e;
      });
      for (let i = 0; i < 6 * SLOT_MS; i++) clock.tick(1);
      for (const [i, at] of deadlines.entries()) {
        assert.equal(entries[i].fired.length, 1, `deadline ${at} fired once`);
        const firedAt = entries[i].fired[0];
        assert.ok(firedAt >= at, `deadline ${at} fired early, at ${firedAt}`);
        assert.ok(
          firedAt <= at + SLOT_MS,
          `deadline ${at} fired more than a slot late: ${firedAt}`,
        );
      }
    }, 1_000 + offset);
  }
});

Deno.test("CoarseTimer: a deadline already passed fires on the next turn", () => {
  withClock((clock) => {
    const t = new CoarseTimer();
    const e = entry();
    t.schedule(e, performance.now() - 50);
    assert.deepEqual(e.fired, []);
    clock.tick(0);
    assert.equal(e.fired.length, 1);
    assert.equal(t.pending, 0);
  });
});

Deno.test("CoarseTimer: a cancelled entry does not fire; the others of its slot do", () => {
  withClock((clock) => {
    const t = new CoarseTimer();
    const a = entry(), b = entry();
    const at = performance.now() + 5;
    const ha = t.schedule(a, at);
    t.schedule(b, at);
    t.cancel(a, ha);
    assert.equal(t.pending, 1, "b still needs the slot's timer");
    assert.equal(clock.countTimers(), 1);
    clock.tick(SLOT_MS);
    assert.deepEqual(a.fired, []);
    assert.equal(b.fired.length, 1);
  });
});

Deno.test("CoarseTimer: the last cancel of a slot clears its timer", () => {
  withClock((clock) => {
    const t = new CoarseTimer();
    const a = entry(), b = entry();
    const at = performance.now() + 5;
    const ha = t.schedule(a, at);
    const hb = t.schedule(b, at);
    t.cancel(a, ha);
    t.cancel(b, hb);
    assert.equal(t.pending, 0);
    assert.equal(clock.countTimers(), 0, "the slot's setTimeout was cleared");
    // Scheduling in the same slot again makes a new timer that works.
    const c = entry();
    t.schedule(c, at);
    assert.equal(t.pending, 1);
    clock.tick(SLOT_MS);
    assert.equal(c.fired.length, 1);
    assert.deepEqual(a.fired, []);
  });
});

Deno.test("CoarseTimer: cancel of an unknown or fired entry changes nothing", () => {
  withClock((clock) => {
    const t = new CoarseTimer();
    const a = entry(), b = entry(), stranger = entry();
    const at = performance.now() + 5;
    const ha = t.schedule(a, at);
    t.cancel(stranger, ha); // not in the slot
    t.cancel(a, ha + 1); // no such slot
    assert.equal(t.pending, 1);
    clock.tick(SLOT_MS);
    assert.equal(a.fired.length, 1);
    t.cancel(a, ha); // fired already
    const hb = t.schedule(b, performance.now() + 5);
    t.cancel(a, hb); // a is not in b's slot
    assert.equal(t.pending, 1);
    clock.tick(SLOT_MS);
    assert.equal(b.fired.length, 1);
    assert.equal(a.fired.length, 1);
  });
});

Deno.test("CoarseTimer: an entry scheduled twice in one slot fires once", () => {
  withClock((clock) => {
    const t = new CoarseTimer();
    const a = entry();
    const at = performance.now() + 5;
    t.schedule(a, at);
    t.schedule(a, at + 1);
    clock.tick(SLOT_MS);
    assert.equal(a.fired.length, 1);
  });
});
