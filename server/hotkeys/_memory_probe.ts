// Run by space_saving_test.ts with --v8-flags=--expose-gc: the heap of a sketch (and of the
// windows of the recorder) after 10,000 and after 1,000,000 distinct keys, after a full GC.
import { HotKeys } from "./hot_keys.ts";

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error("run with --v8-flags=--expose-gc");
const hot = new HotKeys({ capacity: 64 });
let next = 0;
const feed = (n: number) => {
  for (let i = 0; i < n; i++, next++) {
    hot.read(BigInt(next), `hist:${next}:0:0:50`);
    if (next % 50_000 === 0) hot.rotate(); // fill every slice of both windows
  }
};
const heap = () => {
  gc();
  gc();
  return Deno.memoryUsage().heapUsed;
};
feed(10_000);
for (let i = 0; i < 200; i++) hot.rotate(); // every slice full of 64 tallies
const after10k = heap();
feed(990_000);
for (let i = 0; i < 200; i++) {
  hot.read(BigInt(next), `hist:${next++}:0:0:50`);
  hot.rotate();
}
const after1M = heap();
console.log(
  JSON.stringify({
    after10k,
    after1M,
    size: hot.channels.current.size,
    retained: hot.channels.retained,
  }),
);
