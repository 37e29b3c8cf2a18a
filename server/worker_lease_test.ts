import assert from "node:assert/strict";
// @ts-types="npm:@types/sinonjs__fake-timers@15.0.1"
import FakeTimers from "@sinonjs/fake-timers";
import { Code, ConnectError } from "@connectrpc/connect";
import { MemoryLeaseStore } from "./memory_lease_store.ts";
import { timestampOf } from "./snowflake.ts";
import type { LeaseStore } from "./lease_contract.ts";
import { WorkerIdConflictError, WorkerLease, type WorkerLeaseOptions } from "./worker_lease.ts";

const TTL_MS = 30_000;
const unavailable = new ConnectError("no Cassandra host answered", Code.Unavailable);

/** Fake timers (timers, Date, performance) for the body; leases made with `lease()` are closed. */
async function withClock(
  body: (t: {
    clock: FakeTimers.InstalledClock;
    lease: (o: Partial<WorkerLeaseOptions> & { store: LeaseStore }) => WorkerLease;
  }) => Promise<void>,
): Promise<void> {
  const clock = FakeTimers.install({
    now: Date.UTC(2026, 0, 1),
    toFake: ["setTimeout", "clearTimeout", "Date", "performance"],
  });
  const leases: WorkerLease[] = [];
  try {
    await body({
      clock,
      lease: (o) => {
        const l = new WorkerLease({ ttlMs: TTL_MS, ...o });
        leases.push(l);
        return l;
      },
    });
  } finally {
    const closing = Promise.all(leases.map((l) => l.close()));
    await clock.runAllAsync();
    await closing;
    clock.uninstall();
  }
}

/** The worker id inside a Snowflake id. */
const workerOf = (id: bigint) => Number((id >> 12n) & 1023n);

/** What `fn` throws, as a Connect code name ("OK" when it does not). */
function codeOf(fn: () => unknown): string {
  try {
    fn();
    return "OK";
  } catch (err) {
    return Code[ConnectError.from(err).code];
  }
}

Deno.test("takes a free id, mints ids that carry it, renews every third of the TTL", async () => {
  await withClock(async ({ clock, lease }) => {
    const store = new MemoryLeaseStore();
    const l = lease({ store, holder: "a" });
    assert.equal(codeOf(() => l.next()), "Unavailable", "no id before the lease");
    assert.match(l.reason, /not taken yet/);
    l.start();
    await clock.tickAsync(0);
    assert.equal(l.valid, true);
    const id = l.workerId!;
    assert.equal(store.row(id).holder, "a");
    assert.equal(workerOf(l.next()), id);
    assert.equal(store.calls.renew, 0);
    await clock.tickAsync(TTL_MS / 3);
    assert.equal(store.calls.renew, 1);
    await clock.tickAsync(10 * TTL_MS);
    assert.equal(store.calls.renew, 31);
    assert.equal(l.valid, true);
    assert.equal(store.row(id).holder, "a");
  });
});

Deno.test("fifty instances starting together on one store all get different ids", async () => {
  await withClock(async ({ clock, lease }) => {
    const store = new MemoryLeaseStore();
    // The same "random" choice for all: every one goes for the same ids first.
    const leases = Array.from(
      { length: 50 },
      (_, i) => lease({ store, holder: `i${i}`, random: () => 0 }),
    );
    for (const l of leases) l.start();
    await clock.tickAsync(5000);
    const ids = leases.map((l) => l.workerId);
    assert.ok(leases.every((l) => l.valid), "every one holds a lease");
    assert.equal(new Set(ids).size, 50);
    const minted = new Set(leases.map((l) => workerOf(l.next())));
    assert.equal(minted.size, 50);
  });
});

Deno.test("minting stops before the lease could have expired, even with the database's clock ahead", async () => {
  await withClock(async ({ clock, lease }) => {
    // Cassandra's clock 9 s ahead of ours: it expires the lease 9 s (and up to 1 s) early.
    const store = new MemoryLeaseStore({ now: () => Date.now() + 9_000 });
    const l = lease({ store, holder: "a" });
    l.start();
    await clock.tickAsync(0);
    const id = l.workerId!;
    store.failWith("renew", unavailable);
    store.failWith("claim", unavailable);
    store.failWith("scan", unavailable);
    let stoppedAt: number | undefined;
    for (let t = 0; t <= TTL_MS; t += 100) {
      // Whenever ids may be minted, the database still has us as the holder.
      if (l.valid) assert.equal(store.row(id).holder, "a", `at ${t} ms`);
      else stoppedAt ??= t;
      await clock.tickAsync(100);
    }
    assert.equal(stoppedAt, Math.ceil((TTL_MS * 2 / 3) / 100) * 100, "at 2/3 of the TTL");
    assert.equal(codeOf(() => l.next()), "Unavailable");
    assert.match(l.reason, /not renewed in time: lease store failed: no Cassandra host answered/);
  });
});

Deno.test("renewals that fail for a while: minting resumes with the same id when one succeeds", async () => {
  await withClock(async ({ clock, lease }) => {
    const store = new MemoryLeaseStore();
    const changes: boolean[] = [];
    const l = lease({ store, holder: "a" });
    l.onChange(() => changes.at(-1) !== l.valid && changes.push(l.valid));
    l.start();
    await clock.tickAsync(0);
    const id = l.workerId!;
    store.failWith("renew", unavailable);
    await clock.tickAsync(TTL_MS * 2 / 3);
    assert.equal(l.valid, false);
    store.heal();
    await clock.tickAsync(1000);
    assert.equal(l.valid, true);
    assert.equal(l.workerId, id);
    assert.deepEqual(changes, [true, false, true]);
  });
});

Deno.test("a lease lost to another instance after it expired: another id, never the lost one", async () => {
  await withClock(async ({ clock, lease }) => {
    const store = new MemoryLeaseStore();
    const l = lease({ store, holder: "a" });
    l.start();
    await clock.tickAsync(0);
    const id = l.workerId!;
    store.failWith("renew", unavailable);
    await clock.tickAsync(TTL_MS + 1000);
    assert.equal(store.row(id).holder, undefined, "expired");
    store.put(id, "b", 30);
    store.heal();
    await clock.tickAsync(1500); // the next renewal attempt (one a second), then a new id
    assert.equal(l.valid, true, l.reason);
    assert.notEqual(l.workerId, id);
    assert.equal(store.row(id).holder, "b");
    assert.notEqual(workerOf(l.next()), id);
  });
});

Deno.test("ids are never reissued: a restart after a clock step back starts above the mark", async () => {
  await withClock(async ({ clock, lease }) => {
    const store = new MemoryLeaseStore();
    const a = lease({ store, holder: "a", workerId: 5 });
    a.start();
    await clock.tickAsync(0);
    const before = Array.from({ length: 10_000 }, () => a.next());
    await a.close();
    assert.equal(store.row(5).holder, undefined, "released");
    assert.equal(store.row(5).highWaterMs, timestampOf(before.at(-1)!), "mark = last id's time");
    // The same instance restarts with its clock a minute behind.
    const b = lease({ store, holder: "b", workerId: 5, now: () => Date.now() - 60_000 });
    b.start();
    await clock.tickAsync(0);
    assert.equal(b.valid, true);
    const first = b.next();
    assert.ok(first > before.at(-1)!, "above every id minted before");
  });
});

Deno.test("a holder that crashed: its reservation is the floor of the next one", async () => {
  await withClock(async ({ clock, lease }) => {
    const store = new MemoryLeaseStore();
    let crashed = false;
    // A's view of the store: dead once it "crashed" (no renewal, no release).
    const view: LeaseStore = {
      scan: () => crashed ? Promise.reject(unavailable) : store.scan(),
      claim: (c) => crashed ? Promise.reject(unavailable) : store.claim(c),
      renew: (r) => crashed ? Promise.reject(unavailable) : store.renew(r),
      release: (r) => crashed ? Promise.reject(unavailable) : store.release(r),
    };
    const a = lease({ store: view, holder: "a", workerId: 9 });
    a.start();
    await clock.tickAsync(0);
    // A's clock runs 20 s ahead of B's: its ids carry later times than B's clock will show.
    const minted: bigint[] = [];
    await clock.tickAsync(5_000);
    minted.push(a.next());
    crashed = true;
    await a.close();
    const b = lease({ store, holder: "b", workerId: 9, now: () => Date.now() - 20_000 });
    b.start();
    await clock.tickAsync(TTL_MS + 3_000);
    assert.equal(b.valid, true, b.reason);
    const first = b.next();
    assert.ok(first > minted[0], "above the crashed holder's ids");
  });
});

Deno.test("--worker-id: waits for a crashed holder's lease to expire, then takes it", async () => {
  await withClock(async ({ clock, lease }) => {
    const store = new MemoryLeaseStore();
    store.put(7, "crashed", 30, Date.now());
    const conflicts: Error[] = [];
    const l = lease({ store, holder: "a", workerId: 7, onConflict: (e) => conflicts.push(e) });
    l.start();
    await clock.tickAsync(1000);
    assert.equal(l.valid, false);
    assert.match(l.reason, /worker id 7 is held by crashed; waiting up to 30 s/);
    await clock.tickAsync(TTL_MS);
    assert.equal(l.valid, true, l.reason);
    assert.equal(l.workerId, 7);
    assert.equal(workerOf(l.next()), 7);
    assert.deepEqual(conflicts, []);
  });
});

Deno.test("--worker-id held by a running instance: a start-up conflict, reported once", async () => {
  await withClock(async ({ clock, lease }) => {
    const store = new MemoryLeaseStore();
    const first = lease({ store, holder: "first", workerId: 7 });
    first.start();
    await clock.tickAsync(0);
    const conflicts: Error[] = [];
    const second = lease({
      store,
      holder: "second",
      workerId: 7,
      onConflict: (e) => conflicts.push(e),
    });
    second.start();
    await clock.tickAsync(3 * TTL_MS);
    assert.equal(first.valid, true);
    assert.equal(second.valid, false);
    assert.equal(conflicts.length, 1);
    assert.ok(conflicts[0] instanceof WorkerIdConflictError);
    assert.match(conflicts[0].message, /worker id 7 is held by another running instance \(first\)/);
    assert.match(second.reason, /another running instance/);
    assert.equal(codeOf(() => second.next()), "Unavailable");
  });
});

Deno.test("a claim whose answer was lost is found to be ours", async () => {
  await withClock(async ({ clock, lease }) => {
    const store = new MemoryLeaseStore();
    store.failWith("claim", unavailable, { afterApply: true });
    const conflicts: Error[] = [];
    const l = lease({ store, holder: "a", workerId: 3, onConflict: (e) => conflicts.push(e) });
    l.start();
    await clock.tickAsync(0);
    assert.equal(store.row(3).holder, "a", "the claim applied");
    assert.equal(l.valid, false, "but its answer was lost");
    store.heal();
    await clock.tickAsync(2000);
    assert.equal(l.valid, true, l.reason);
    assert.equal(l.workerId, 3);
    assert.deepEqual(conflicts, []);
  });
});

Deno.test("a wall clock that jumps past the reservation mints nothing until the next renewal", async () => {
  await withClock(async ({ clock, lease }) => {
    const store = new MemoryLeaseStore();
    let jump = 0;
    const l = lease({ store, holder: "a", now: () => Date.now() + jump });
    l.start();
    await clock.tickAsync(0);
    l.next();
    jump = 2 * TTL_MS;
    assert.equal(codeOf(() => l.next()), "Unavailable");
    await clock.tickAsync(TTL_MS / 3);
    assert.equal(codeOf(() => l.next()), "OK", "the renewal reserved time past the new clock");
  });
});

Deno.test("close() releases with the last id's time; nothing is minted after", async () => {
  await withClock(async ({ clock, lease }) => {
    const store = new MemoryLeaseStore();
    const l = lease({ store, holder: "a" });
    l.start();
    await clock.tickAsync(0);
    const id = l.workerId!;
    await clock.tickAsync(1234);
    const last = l.next();
    await l.close();
    assert.deepEqual(store.row(id), {
      workerId: id,
      holder: undefined,
      highWaterMs: timestampOf(last),
    });
    assert.equal(codeOf(() => l.next()), "Unavailable");
    assert.equal(store.calls.release, 1);
  });
});

Deno.test("lease options are validated", () => {
  const store = new MemoryLeaseStore();
  assert.throws(() => new WorkerLease({ store, ttlMs: 2000 }), RangeError);
  assert.throws(() => new WorkerLease({ store, ttlMs: 4500 }), RangeError);
  assert.throws(() => new WorkerLease({ store, ttlMs: TTL_MS, workerId: 1024 }), RangeError);
});
