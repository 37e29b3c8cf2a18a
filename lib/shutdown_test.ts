import assert from "node:assert/strict";
import { onShutdown, type ShutdownHost } from "./shutdown.ts";

/** A host that records listeners and exits, and can raise a signal. */
function fakeHost() {
  const listeners = new Map<string, Set<() => void>>();
  const exits: number[] = [];
  let next = Promise.withResolvers<number>();
  const host: ShutdownHost = {
    addSignalListener: (s, fn) => listeners.set(s, (listeners.get(s) ?? new Set()).add(fn)),
    removeSignalListener: (s, fn) => listeners.get(s)?.delete(fn),
    exit: (code) => {
      exits.push(code);
      next.resolve(code);
      next = Promise.withResolvers<number>();
    },
  };
  const raise = (s: Deno.Signal) => {
    for (const fn of listeners.get(s) ?? []) fn();
  };
  /** The code of the next exit. */
  const exited = () => next.promise;
  return { host, raise, exits, exited, listeners };
}

Deno.test("first signal drains, then exits with its code; a second exits at once with 130", async () => {
  const { host, raise, exits, exited } = fakeHost();
  const drain = Promise.withResolvers<number>();
  const seen: string[] = [];
  const s = onShutdown({
    host,
    onFirst: (signal) => {
      seen.push(`first ${signal}`);
      return drain.promise;
    },
    onSecond: (signal) => seen.push(`second ${signal}`),
  });
  raise("SIGTERM");
  assert.equal(s.signalled, true);
  raise("SIGINT");
  assert.deepEqual(seen, ["first SIGTERM", "second SIGINT"]);
  assert.deepEqual(exits, [130], "the second signal does not wait for the drain");
  const after = exited();
  drain.resolve(0);
  assert.equal(await after, 0);
  assert.deepEqual(exits, [130, 0]);
});

Deno.test("a drain that returns nothing exits 0; one that throws exits 1", async () => {
  const a = fakeHost();
  onShutdown({ host: a.host, onFirst: () => {} });
  const codeA = a.exited();
  a.raise("SIGINT");
  assert.equal(await codeA, 0);
  const b = fakeHost();
  onShutdown({ host: b.host, onFirst: () => Promise.reject(new Error("close failed")) });
  const codeB = b.exited();
  b.raise("SIGTERM");
  assert.equal(await codeB, 1);
});

Deno.test("exitWhenDone false: the caller exits by itself; dispose removes the listeners", async () => {
  const { host, raise, exits, listeners } = fakeHost();
  let drained = 0;
  const s = onShutdown({
    host,
    signals: ["SIGINT"],
    exitWhenDone: false,
    onFirst: () => void drained++,
  });
  raise("SIGTERM");
  assert.equal(s.signalled, false, "only the signals asked for");
  raise("SIGINT");
  await Promise.resolve();
  await Promise.resolve();
  assert.equal(drained, 1);
  assert.deepEqual(exits, []);
  s.dispose();
  assert.equal(listeners.get("SIGINT")?.size, 0);
});
