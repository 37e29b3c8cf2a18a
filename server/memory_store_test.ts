import assert from "node:assert/strict";
// @ts-types="npm:@types/sinonjs__fake-timers@15.0.1"
import FakeTimers from "@sinonjs/fake-timers";
import { Code, ConnectError } from "@connectrpc/connect";
import { MemoryStore } from "./memory_store.ts";
import type { StoredMessage } from "./store.ts";

const msg = (channelId: bigint, messageId: bigint, content = `m${messageId}`): StoredMessage => ({
  channelId,
  messageId,
  authorId: 7n,
  content,
});
const page = (channelId: bigint, before = 0n, after = 0n, limit = 100) => ({
  channelId,
  before,
  after,
  limit,
});
const ids = (ms: StoredMessage[]) => ms.map((m) => m.messageId);

Deno.test("history: newest first, paged by before, windowed by after, at most limit", async () => {
  const store = new MemoryStore();
  for (const id of [5n, 1n, 9n, 3n, 7n, 2n]) await store.createMessage(msg(1n, id));
  await store.createMessage(msg(2n, 4n)); // another channel never shows
  assert.deepEqual(ids(await store.getMessages(page(1n))), [9n, 7n, 5n, 3n, 2n, 1n]);
  assert.deepEqual(ids(await store.getMessages(page(1n, 0n, 0n, 2))), [9n, 7n]);
  assert.deepEqual(ids(await store.getMessages(page(1n, 7n, 0n, 2))), [5n, 3n], "before excludes");
  assert.deepEqual(ids(await store.getMessages(page(1n, 9n, 2n))), [7n, 5n, 3n], "(after, before)");
  assert.deepEqual(ids(await store.getMessages(page(1n, 0n, 5n))), [9n, 7n]);
  assert.deepEqual(await store.getMessages(page(3n)), [], "an empty channel");
  // Walking pages with the last id as `before` visits every message once.
  const seen: bigint[] = [];
  for (let before = 0n;;) {
    const p = await store.getMessages(page(1n, before, 0n, 4));
    if (p.length === 0) break;
    seen.push(...ids(p));
    before = p.at(-1)!.messageId;
  }
  assert.deepEqual(seen, [9n, 7n, 5n, 3n, 2n, 1n]);
});

Deno.test("a missing message is undefined; writing an id again replaces it", async () => {
  const store = new MemoryStore({ messages: [msg(1n, 10n, "first")] });
  assert.equal(await store.getMessage(1n, 11n), undefined);
  assert.equal(await store.getMessage(2n, 10n), undefined, "ids are per channel");
  assert.equal((await store.getMessage(1n, 10n))?.content, "first");
  await store.createMessage(msg(1n, 10n, "second"));
  assert.equal((await store.getMessage(1n, 10n))?.content, "second");
  assert.equal(store.size, 1);
});

Deno.test("callers get copies: changing a result changes nothing stored", async () => {
  const store = new MemoryStore({ messages: [msg(1n, 1n, "kept")] });
  (await store.getMessage(1n, 1n))!.content = "changed";
  (await store.getMessages(page(1n)))[0].content = "changed";
  assert.equal((await store.getMessage(1n, 1n))?.content, "kept");
});

Deno.test("a gate holds calls until opened, and tells when they arrived", async () => {
  const store = new MemoryStore({ messages: [msg(1n, 1n)] });
  const gate = store.hold("getMessage");
  const first = store.getMessage(1n, 1n);
  const second = store.getMessage(1n, 2n);
  await gate.arrived(2);
  assert.equal(gate.waiting, 2);
  assert.equal(store.calls.getMessage, 2);
  let settled = false;
  first.then(() => (settled = true));
  await Promise.resolve();
  assert.equal(settled, false, "held");
  gate.open();
  assert.equal((await first)?.messageId, 1n);
  assert.equal(await second, undefined);
  assert.equal(await store.getMessage(1n, 1n).then((m) => m?.messageId), 1n, "open stays open");
  assert.equal(store.calls.getMessages, 0, "other operations are not held");
});

Deno.test("a gate can fail the calls it holds", async () => {
  const store = new MemoryStore();
  const gate = store.hold("createMessage");
  const write = store.createMessage(msg(1n, 1n));
  await gate.arrived();
  gate.fail(new ConnectError("write timeout", Code.Unavailable));
  await assert.rejects(write, (e) => e instanceof ConnectError && e.code === Code.Unavailable);
  assert.equal(store.size, 0, "a failed write stores nothing");
});

Deno.test("failWith fails every call or the ones a rule picks, until heal", async () => {
  const store = new MemoryStore({ messages: [msg(13n, 1n), msg(14n, 1n)] });
  store.failWith("ping", new Error("schema missing"));
  await assert.rejects(store.ping(), /schema missing/);
  store.failWith(
    "getMessage",
    (call: { channelId?: bigint }) =>
      call.channelId === 13n ? new Error("disk on fire") : undefined,
  );
  await assert.rejects(store.getMessage(13n, 1n), /disk on fire/);
  assert.equal((await store.getMessage(14n, 1n))?.channelId, 14n);
  store.heal();
  await store.ping();
  assert.equal((await store.getMessage(13n, 1n))?.channelId, 13n);
});

Deno.test("latency: calls answer after latencyMs", async () => {
  const clock = FakeTimers.install({ toFake: ["setTimeout", "clearTimeout"] });
  try {
    const store = new MemoryStore({ latencyMs: 50 });
    let done = false;
    const p = store.ping().then(() => (done = true));
    await clock.tickAsync(49);
    assert.equal(done, false);
    await clock.tickAsync(1);
    await p;
    assert.equal(done, true);
  } finally {
    clock.uninstall();
  }
});

Deno.test("after close every call fails UNAVAILABLE, held ones too; closes are counted", async () => {
  const store = new MemoryStore();
  const gate = store.hold("getMessages");
  const held = store.getMessages(page(1n));
  await gate.arrived();
  await store.close();
  const unavailable = (e: unknown) => e instanceof ConnectError && e.code === Code.Unavailable;
  await assert.rejects(held, unavailable);
  await assert.rejects(store.ping(), unavailable);
  assert.equal(store.closes, 1);
});

Deno.test("a held ping fails once its timeout has passed", async () => {
  const clock = FakeTimers.install({ toFake: ["setTimeout", "clearTimeout"] });
  const store = new MemoryStore();
  const gate = store.hold("ping");
  try {
    const ping = store.ping(750).then(() => "answered", (e: ConnectError) => Code[e.code]);
    await clock.tickAsync(750);
    assert.equal(await ping, "DeadlineExceeded");
  } finally {
    gate.open();
    clock.uninstall();
  }
});
