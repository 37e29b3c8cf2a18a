// The recorder: what each event counts, for channels and coalescing keys, and the GetHotKeys
// answer built from it.
import assert from "node:assert/strict";
import { HotKeysWindow } from "../../gen/dataservices/v1/messages_pb.ts";
import { channelOfKey, HotKeys } from "./hot_keys.ts";
import { hotKeysResponse, savedRatio, windowOf } from "./response.ts";

Deno.test("reads, joins, queries, errors and writes land on their channel and key", () => {
  const hot = new HotKeys({ now: () => 0 });
  const key = "hist:7:0:0:50";
  for (let i = 0; i < 10; i++) hot.read(7n, key);
  hot.queried(7n, key); // the one query
  for (let i = 0; i < 8; i++) hot.joined(key); // 8 joined it
  hot.failed(7n, key); // one was refused
  hot.read(8n, "msg:8:1");
  hot.write(9n);
  hot.queried(9n); // the write reached Cassandra
  hot.write(9n);
  hot.failed(9n); // the second was throttled
  const v = hot.view("short", 10);
  const ch = new Map(v.channels.top.map((t) => [t.key, t]));
  const c7 = ch.get(7n)!;
  assert.deepEqual([c7.count, c7.queries, c7.coalesced, c7.errors, c7.writes], [10, 1, 8, 1, 0]);
  const c9 = ch.get(9n)!;
  assert.deepEqual([c9.count, c9.queries, c9.coalesced, c9.errors, c9.writes], [2, 1, 0, 1, 1]);
  assert.equal(v.channels.top[0].key, 7n);
  const k = v.keys.top[0];
  assert.deepEqual([k.key, k.tag, k.count, k.queries, k.coalesced], [key, 7n, 10, 1, 8]);
  assert.deepEqual(v.channels.totals, {
    events: 13,
    queries: 2,
    coalesced: 8,
    errors: 2,
    writes: 1,
  });
  assert.equal(v.keys.totals.events, 11);
});

Deno.test("a join whose key is not tracked still counts for its channel (parsed from the key)", () => {
  const hot = new HotKeys({ capacity: 1, now: () => 0 });
  hot.read(5n, "msg:5:1");
  hot.read(6n, "msg:6:1"); // takes over the only key counter
  hot.joined("msg:5:1");
  assert.equal(hot.view("short", 5).channels.totals.coalesced, 1);
  assert.equal(channelOfKey("hist:123:0:0:50"), 123n);
  assert.equal(channelOfKey("msg:9"), 9n);
  assert.equal(channelOfKey("nokey"), undefined);
  assert.equal(channelOfKey("x:notanumber:1"), undefined);
});

Deno.test("the GetHotKeys answer: ranks, bounds, saved ratio, window", () => {
  const clock = { t: 0 };
  const hot = new HotKeys({ sliceMs: 2000, now: () => clock.t });
  for (let i = 0; i < 100; i++) hot.read(1n, "hist:1:0:0:50");
  hot.queried(1n, "hist:1:0:0:50");
  for (let i = 0; i < 99; i++) hot.joined("hist:1:0:0:50");
  hot.read(2n, "msg:2:2");
  hot.queried(2n, "msg:2:2");
  clock.t = 1500;
  const r = hotKeysResponse(hot.view(windowOf(HotKeysWindow.UNSPECIFIED), 1), {
    instance: "i#1",
    capacity: 64,
  });
  assert.equal(r.window, HotKeysWindow.SHORT);
  assert.equal(r.spanMs, 1500n);
  assert.equal(r.channels.length, 1, "limit");
  assert.equal(r.channels[0].channelId, 1n);
  assert.equal(r.channels[0].stats!.requests, 100n);
  assert.equal(r.channels[0].stats!.savedRatio, 0.99);
  assert.equal(r.keys[0].channelId, 1n);
  assert.equal(r.totals!.requests, 101n);
  assert.equal(r.keyRequests, 101n);
  assert.equal(hot.windowsMs.short, 10_000);
  assert.equal(hot.windowsMs.long, 300_000);
  assert.equal(windowOf(HotKeysWindow.LONG), "long");
  assert.equal(savedRatio(0, 5, 5), 0, "writes only: no reads");
});
