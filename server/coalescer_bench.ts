// deno bench server/coalescer_bench.ts: the cost of coalescing itself (fn resolves at once).
import { Coalescer } from "./coalescer.ts";

const N = 10_000;
const value = Promise.resolve(1);
const fn = () => value;

for (const enabled of [true, false]) {
  const group = enabled ? "coalesced" : "disabled";
  Deno.bench(`${N} callers, one key`, { group, baseline: enabled }, async () => {
    const c = new Coalescer<number>({ enabled });
    await Promise.all(Array.from({ length: N }, () => c.do("hot", fn)));
  });
  Deno.bench(`${N} callers, one key each`, { group, baseline: enabled }, async () => {
    const c = new Coalescer<number>({ enabled });
    await Promise.all(Array.from({ length: N }, (_, i) => c.do(`k${i}`, fn)));
  });
  Deno.bench(`${N} callers, 20 keys, signals and limits`, { group }, async () => {
    const c = new Coalescer<number>({
      enabled,
      flightTimeoutMs: 1000,
      maxConcurrentCalls: 64,
      maxQueuedCalls: N,
    });
    // One signal per caller, as per-request deadlines are. (Thousands of waiters sharing one
    // signal are slow: adding and removing an EventTarget listener is O(listeners) in Deno.)
    await Promise.all(Array.from({ length: N }, (_, i) => {
      const { signal } = new AbortController();
      return c.do(`k${i % 20}`, fn, { signal });
    }));
  });
}
