// deno bench server/hotkeys/hot_keys_bench.ts: what hot-key telemetry adds to a call.
// A read records `read` (two sketch updates) and then either `queried` or `joined` (map lookups);
// the figures are per call, on Zipf-distributed channels (the keys a real load repeats).
import { seededRandom, zipf } from "../../lib/zipf.ts";
import { HotKeys } from "./hot_keys.ts";
import { SpaceSaving } from "./space_saving.ts";

const N = 100_000;
const next = zipf(10_000, 1.1, seededRandom(1));
const channels = Array.from({ length: N }, () => BigInt(next()));
// Keys as the service builds them (made per call there too; not counted here).
const keys = channels.map((c) => `hist:${c}:0:0:50`);
const distinct = Array.from({ length: N }, (_, i) => BigInt(1_000_000 + i));
const distinctKeys = distinct.map((c) => `hist:${c}:0:0:50`);

const hot = new HotKeys();
let i = 0;
Deno.bench(
  "read + joined (a coalesced read), Zipf channels",
  { group: "per call", baseline: true },
  () => {
    const j = i++ % N;
    hot.read(channels[j], keys[j]);
    hot.joined(keys[j]);
  },
);
Deno.bench("read + queried (a read that queries), Zipf channels", { group: "per call" }, () => {
  const j = i++ % N;
  hot.read(channels[j], keys[j]);
  hot.queried(channels[j], keys[j]);
});
Deno.bench(
  "read + queried, every channel new (worst case: take-overs)",
  { group: "per call" },
  () => {
    const j = i++ % N;
    hot.read(distinct[j], distinctKeys[j]);
    hot.queried(distinct[j], distinctKeys[j]);
  },
);
Deno.bench("write + queried", { group: "per call" }, () => {
  const j = i++ % N;
  hot.write(channels[j]);
  hot.queried(channels[j]);
});

const sketch = new SpaceSaving<bigint>(64);
Deno.bench("SpaceSaving.add alone, Zipf", { group: "sketch" }, () => {
  sketch.add(channels[i++ % N]);
});

const full = new HotKeys();
for (let k = 0; k < 50_000; k++) {
  full.read(channels[k % N], keys[k % N]);
  if (k % 5000 === 0) full.rotate();
}
Deno.bench("view: short window, top 10 (GetHotKeys)", { group: "read" }, () => {
  full.view("short", 10);
});
Deno.bench("view: long window, top 10 (GetHotKeys)", { group: "read" }, () => {
  full.view("long", 10);
});
