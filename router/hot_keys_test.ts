import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { GetHotKeysResponseSchema, HotKeysWindow } from "../gen/dataservices/v1/messages_pb.ts";
import { mergeHotKeys } from "./hot_keys.ts";

const stats = (requests: number, queries = 0, coalesced = 0) => ({
  requests: BigInt(requests),
  requestsError: 1n,
  queries: BigInt(queries),
  coalesced: BigInt(coalesced),
});

const a = create(GetHotKeysResponseSchema, {
  instance: "a:1#1",
  window: HotKeysWindow.SHORT,
  spanMs: 10_500n,
  capacity: 64,
  totals: stats(1000, 100, 800),
  channels: [
    { channelId: 1n, stats: stats(500, 1, 499) },
    { channelId: 2n, stats: stats(100, 50, 50) },
  ],
  channelsMaxError: 3n,
  keys: [{ key: "hist:1:0:0:50", channelId: 1n, stats: stats(500, 1, 499) }],
  keysMaxError: 2n,
  keyRequests: 900n,
});
const b = create(GetHotKeysResponseSchema, {
  instance: "b:2#2",
  window: HotKeysWindow.SHORT,
  spanMs: 11_000n,
  capacity: 64,
  totals: stats(700, 300, 300),
  channels: [
    { channelId: 3n, stats: stats(300, 10, 290) },
    { channelId: 2n, stats: stats(250, 150, 100) }, // moved here during a failover
  ],
  channelsMaxError: 4n,
  keys: [{ key: "msg:3:1", channelId: 3n, stats: stats(300, 10, 290) }],
  keysMaxError: 1n,
  keyRequests: 700n,
});

Deno.test("mergeHotKeys: the fleet's hottest first, summed figures, instances named", () => {
  const m = mergeHotKeys([a, b], 3);
  assert.equal(m.instance, "merged: 2 instances");
  assert.deepEqual(m.channels.map((c) => [c.channelId, c.stats!.requests, c.instance]), [
    [1n, 500n, "a:1#1"],
    [2n, 350n, "a:1#1, b:2#2"],
    [3n, 300n, "b:2#2"],
  ]);
  const two = m.channels[1].stats!;
  assert.deepEqual([two.queries, two.coalesced, two.requestsError], [200n, 150n, 2n]);
  assert.equal(two.savedRatio, 150 / 350);
  assert.deepEqual(m.keys.map((k) => k.key), ["hist:1:0:0:50", "msg:3:1"]);
  assert.deepEqual(
    [m.totals!.requests, m.channelsMaxError, m.keysMaxError, m.keyRequests, m.spanMs],
    [1700n, 7n, 3n, 1600n, 11_000n],
  );
  assert.equal(m.window, HotKeysWindow.SHORT);
});

Deno.test("mergeHotKeys: one answer keeps its instance; the limit cuts; nothing merges to empty", () => {
  assert.equal(mergeHotKeys([a]).instance, "a:1#1");
  assert.equal(mergeHotKeys([a, b], 1).channels.length, 1);
  const none = mergeHotKeys([]);
  assert.deepEqual([none.channels.length, none.totals!.requests], [0, 0n]);
});
