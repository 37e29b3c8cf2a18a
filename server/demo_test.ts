import assert from "node:assert/strict";
import { demoMessages, originalRow } from "./demo.ts";
import { bucketOf, timestampOf } from "./snowflake.ts";

Deno.test("demo data holds the original rows and spans several buckets", () => {
  const now = Date.UTC(2026, 10, 26);
  const all = demoMessages({ channels: 3, perChannel: 100, buckets: 4, now });
  assert.equal(all.length, 3 * 101);
  assert.deepEqual(all[0], originalRow(1));
  assert.equal(originalRow(20).messageId, 20000n);
  assert.equal(originalRow(20).authorId, 24000n);
  const history = all.filter((m) => m.messageId > 1_000_000n);
  const ids = new Set(history.map((m) => `${m.channelId}:${m.messageId}`));
  assert.equal(ids.size, history.length, "ids are unique per channel");
  const buckets = new Set(history.map((m) => bucketOf(m.messageId)));
  assert.ok(buckets.size >= 4, `spans ${buckets.size} buckets`);
  assert.ok(history.every((m) => timestampOf(m.messageId) <= now));
  assert.deepEqual(demoMessages({ channels: 3, perChannel: 100, buckets: 4, now }), all);
});
