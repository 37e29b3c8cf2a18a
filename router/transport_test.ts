import assert from "node:assert/strict";
// @ts-types="npm:@types/sinonjs__fake-timers@15.0.1"
import FakeTimers from "@sinonjs/fake-timers";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { MessagesService } from "../gen/dataservices/v1/messages_pb.ts";
import { MessagesService as OriginalService } from "../gen/messages/messages_pb.ts";
import { Health } from "../gen/grpc/health/v1/health_pb.ts";
import { route, routeLive } from "./jump.ts";
import { fakeCluster } from "./_fake.ts";
import {
  createRoutingTransport,
  defaultKeyOf,
  type HealthChange,
  keyFromField,
  type RoutingTransportOptions,
} from "./transport.ts";
import type { ProbeResult } from "./health.ts";

const CHANNELS = Array.from({ length: 300 }, (_, i) => BigInt(i + 1));

/** A router over n fake instances; probing off unless asked for. */
function setup(n: number, options: Partial<RoutingTransportOptions> = {}) {
  const cluster = fakeCluster(n);
  const events: HealthChange[] = [];
  const router = createRoutingTransport({
    instances: cluster.ids,
    createTransport: cluster.factory,
    probeIntervalMs: 0,
    onHealthChange: (e) => events.push(e),
    ...options,
  });
  return {
    ...cluster,
    events,
    router,
    client: createClient(MessagesService, router),
    original: createClient(OriginalService, router),
    [Symbol.asyncDispose]: () => router.close(),
  };
}

/** The index of the fake that served each channel (asserting it is exactly one). */
function servedBy(fakes: { channels(m?: string): Map<bigint, number> }[], method?: string) {
  const out = new Map<bigint, number>();
  for (const [index, fake] of fakes.entries()) {
    for (const channel of fake.channels(method).keys()) {
      assert.ok(!out.has(channel), `channel ${channel} reached two instances`);
      out.set(channel, index);
    }
  }
  return out;
}

/** A channel whose owner among n instances is `index`. */
function channelOwnedBy(index: number, n: number, skip = 0): bigint {
  for (let ch = 1n;; ch++) if (route(ch, n) === index && skip-- === 0) return ch;
}

function clear(fakes: { received: unknown[] }[]) {
  for (const f of fakes) f.received.length = 0;
}

async function rejects(promise: Promise<unknown>, code: Code): Promise<ConnectError> {
  try {
    await promise;
  } catch (e) {
    assert.ok(e instanceof ConnectError, `expected a ConnectError, got ${e}`);
    assert.equal(e.code, code, `expected ${Code[code]}, got ${Code[e.code]}: ${e.message}`);
    return e;
  }
  assert.fail(`expected ${Code[code]}, got success`);
}

function fakeClock() {
  return FakeTimers.install({ toFake: ["setTimeout", "clearTimeout", "Date", "performance"] });
}

Deno.test("every request for a channel lands on one instance: the jump hash owner", async () => {
  await using t = setup(4);
  await Promise.all(CHANNELS.map(async (channelId) => {
    for (let rep = 0; rep < 3; rep++) {
      await t.client.getMessages({ channelId });
      await t.client.getMessage({ channelId, messageId: 7n });
      await t.client.createMessage({ channelId, authorId: 1n, content: "hi" });
      await t.original.getMessage({ channelId, messageId: 7n });
    }
  }));
  const served = servedBy(t.fakes);
  assert.equal(served.size, CHANNELS.length);
  for (const [channel, index] of served) {
    assert.equal(index, route(channel, 4));
    assert.equal(t.router.ownerOf(channel).index, index);
    assert.equal(t.router.instanceFor(channel).id, t.ids[index]);
    assert.equal(t.fakes[index].channels().get(channel), 12, "all 12 calls on the owner");
  }
  for (const fake of t.fakes) {
    assert.ok(fake.channels().size > 50, `${fake.id} got ${fake.channels().size} channels`);
  }
});

Deno.test("the response comes from the routed instance", async () => {
  await using t = setup(3);
  for (const channelId of CHANNELS.slice(0, 30)) {
    const res = await t.client.getMessage({ channelId, messageId: 1n });
    assert.equal(res.message?.content, t.ids[route(channelId, 3)]);
  }
});

Deno.test("keyless calls go to the first live instance; transportFor addresses one", async () => {
  await using t = setup(3);
  assert.equal((await t.client.getStats({})).instance, t.ids[0]);
  await t.original.getAndResetMetrics({});
  assert.equal(t.fakes[0].count("getAndResetMetrics"), 1);
  assert.equal(t.router.instanceFor(undefined).id, t.ids[0]);

  t.router.markDown(t.ids[0]);
  assert.equal((await t.client.getStats({})).instance, t.ids[1]);

  // GetStats on every instance, whatever its health.
  const stats = await Promise.all(
    t.router.instances.map((i) =>
      createClient(MessagesService, t.router.transportFor(i.id)).getStats({})
    ),
  );
  assert.deepEqual(stats.map((s) => s.instance), t.ids);
  assert.deepEqual(t.router.instances.map((i) => [i.id, i.index, i.up]), [
    [t.ids[0], 0, false],
    [t.ids[1], 1, true],
    [t.ids[2], 2, true],
  ]);
  assert.throws(() => t.router.transportFor("nope:1"), TypeError);
});

Deno.test("a transport from transportFor fails with UNAVAILABLE once its instance is removed", async () => {
  await using t = setup(3);
  const last = createClient(MessagesService, t.router.transportFor(t.ids[2]));
  assert.equal((await last.getStats({})).instance, t.ids[2]);
  t.router.setInstances(t.ids.slice(0, 2));
  await rejects(last.getStats({}), Code.Unavailable);
});

Deno.test("a custom keyOf routes by another field; keyFromField reads any scalar", async () => {
  const byAuthor = keyFromField("authorId");
  await using t = setup(5, {
    keyOf: (method, input) =>
      method.name === "CreateMessage" ? byAuthor(method, input) : defaultKeyOf(method, input),
  });
  for (const authorId of [3n, 17n, 99n, 12345n]) {
    const res = await t.client.createMessage({ channelId: 1n, authorId, content: "x" });
    assert.equal(res.message?.content, t.ids[route(authorId, 5)]);
  }
  // Reads still route by channel.
  const res = await t.client.getMessages({ channelId: 17n });
  assert.equal(res.messages[0].content, t.ids[route(17n, 5)]);
  // keyFromField on a method without the field: keyless.
  assert.equal(byAuthor(MessagesService.method.getStats, {}), undefined);
  assert.equal(defaultKeyOf(MessagesService.method.getMessages, {}), 0n, "unset means 0");
  assert.equal(defaultKeyOf(MessagesService.method.getMessages, { channelId: "42" }), 42n);
  assert.equal(defaultKeyOf(MessagesService.method.getMessages, undefined), undefined);
});

Deno.test("failover: a down instance's channels move, each to a deterministic live fallback; others stay", async () => {
  await using t = setup(5);
  await using other = setup(5);
  const dead = 2;
  t.router.markDown(t.ids[dead]);
  other.router.markDown(other.ids[dead]);
  assert.deepEqual(t.events.map((e) => [e.instance.id, e.up, e.reason]), [
    [t.ids[dead], false, "manual"],
  ]);
  const channels = Array.from({ length: 1000 }, (_, i) => BigInt(i + 1));
  for (const channelId of channels) await t.client.getMessages({ channelId });
  const served = servedBy(t.fakes);
  const moved = new Array<number>(5).fill(0);
  for (const channel of channels) {
    const owner = route(channel, 5);
    const index = served.get(channel)!;
    if (owner !== dead) {
      assert.equal(index, owner, `channel ${channel} of a live owner moved`);
    } else {
      assert.equal(index, routeLive(channel, 5, (i) => i !== dead));
      // Another router with the same view picks the same fallback.
      assert.equal(other.router.instanceFor(channel).index, index);
      moved[index]++;
    }
  }
  assert.equal(t.fakes[dead].received.length, 0);
  assert.equal(moved[dead], 0);
  // The dead instance's channels spread over all live instances.
  for (const [index, n] of moved.entries()) if (index !== dead) assert.ok(n > 20, `${n}`);
});

Deno.test("recovery: probes mark an instance down and up again, and its channels return", async () => {
  const clock = fakeClock();
  try {
    await using t = setup(4, { probeIntervalMs: 1000, probeTimeoutMs: 200 });
    await clock.tickAsync(0); // first round at start
    assert.deepEqual(t.fakes.map((f) => f.healthChecks), [1, 1, 1, 1]);

    t.fakes[1].health = "not-serving";
    await clock.tickAsync(1000);
    assert.equal(t.router.instances[1].up, false);
    for (const channelId of CHANNELS) await t.client.getMessage({ channelId, messageId: 1n });
    assert.equal(t.fakes[1].received.length, 0);
    const during = servedBy(t.fakes);

    t.fakes[1].health = "serving";
    await clock.tickAsync(1000);
    assert.equal(t.router.instances[1].up, true);
    clear(t.fakes);
    for (const channelId of CHANNELS) await t.client.getMessage({ channelId, messageId: 1n });
    for (const [channel, index] of servedBy(t.fakes)) {
      assert.equal(index, route(channel, 4), "back on the owner");
      if (index !== 1) assert.equal(during.get(channel), index, "live owners never moved");
    }
    assert.ok(t.fakes[1].channels().size > 40);
    assert.deepEqual(t.events.map((e) => [e.instance.id, e.up, e.reason]), [
      [t.ids[1], false, "probe"],
      [t.ids[1], true, "probe"],
    ]);
  } finally {
    clock.uninstall();
  }
});

Deno.test("probes: a refused check marks down at once, a hung one after 3 timeouts in a row; UNIMPLEMENTED counts as up", async () => {
  const clock = fakeClock();
  try {
    await using t = setup(3, { probeIntervalMs: 1000, probeTimeoutMs: 200 });
    t.fakes[0].health = "hang";
    t.fakes[1].health = "unimplemented";
    t.fakes[2].health = "unavailable"; // the connection is reset: a failure of the instance
    await clock.tickAsync(200);
    assert.deepEqual(t.router.instances.map((i) => i.up), [true, true, false]);
    // A busy instance answers late: one or two timeouts do not move its channels.
    await clock.tickAsync(1200);
    assert.equal(t.router.instances[0].up, true, "2 timeouts");
    await clock.tickAsync(1200);
    assert.deepEqual(t.router.instances.map((i) => i.up), [false, true, false], "3 timeouts");
    const hung = t.events.find((e) => e.instance.id === t.ids[0]);
    assert.equal(hung?.error?.code, Code.DeadlineExceeded);
  } finally {
    clock.uninstall();
  }
});

Deno.test("an UNAVAILABLE the instance sent (its database failed) is neither retried nor marks it down", async () => {
  await using t = setup(3);
  const channelId = channelOwnedBy(1, 3);
  t.fakes[1].failWith = new ConnectError("Cassandra query failed: read timeout", Code.Unavailable);
  for (let i = 0; i < 5; i++) await rejects(t.client.getMessages({ channelId }), Code.Unavailable);
  assert.equal(t.fakes[1].received.length, 5, "every read stayed on the owner");
  assert.equal(t.fakes[0].received.length + t.fakes[2].received.length, 0, "no retry doubled them");
  assert.equal(t.router.instances[1].up, true);
  assert.deepEqual(t.events, []);
});

Deno.test("a write whose connection was refused (never sent) is retried on the fallback", async () => {
  await using t = setup(4);
  const channelId = channelOwnedBy(2, 4);
  t.fakes[2].refused = true;
  const res = await t.client.createMessage({ channelId, authorId: 1n, content: "x" });
  assert.equal(res.message?.content, t.ids[routeLive(channelId, 4, (i) => i !== 2)]);
  assert.equal(t.fakes[2].received.length, 0);
  assert.equal(t.router.instances[2].up, false);
});

Deno.test("retries stay within the budget: at most ~10% of calls when an instance keeps failing", async () => {
  await using t = setup(3, { retryBudget: { ratio: 0.1, maxTokens: 2 } });
  const owned = CHANNELS.filter((c) => route(c, 3) === 0);
  const fallbackOf = (c: bigint) => routeLive(c, 3, (i) => i !== 0);
  // The owner keeps failing; keep it "up" so every call is tried there first.
  t.fakes[0].down = true;
  let served = 0;
  let failed = 0;
  for (let round = 0; round < 5; round++) {
    for (const channelId of owned) {
      t.router.markUp(t.ids[0]);
      try {
        const r = await t.client.getMessages({ channelId });
        assert.equal(r.messages[0].content, t.ids[fallbackOf(channelId)]);
        served++;
      } catch (e) {
        assert.equal(ConnectError.from(e).code, Code.Unavailable);
        failed++;
      }
    }
  }
  const calls = served + failed;
  assert.equal(t.router.retries.granted, served);
  assert.ok(served <= 2 + Math.ceil(calls * 0.1), `${served} retries for ${calls} calls`);
  assert.ok(failed > 0, "the budget ran out");
});

Deno.test("breaker: after a call failure the instance stays out for the cooldown, then a probe is the trial", async () => {
  const clock = fakeClock();
  try {
    await using t = setup(2, { breaker: { cooldownMs: 1000, maxCooldownMs: 4000 } });
    const channelId = channelOwnedBy(0, 2);
    t.fakes[0].down = true;
    await t.client.getMessages({ channelId }); // retried on instance 1; 0 is open now
    assert.equal(t.router.instances[0].up, false);
    t.fakes[0].down = false; // back, but the breaker waits
    await t.router.checkHealth();
    assert.equal(t.router.instances[0].up, false, "open: probes do not decide during the cooldown");
    await clock.tickAsync(1000);
    t.fakes[0].health = "unavailable"; // the trial fails: open again, cooldown doubled
    await t.router.checkHealth();
    assert.equal(t.router.instances[0].up, false);
    t.fakes[0].health = "serving";
    await clock.tickAsync(1000);
    await t.router.checkHealth();
    assert.equal(t.router.instances[0].up, false, "2 s cooldown now");
    await clock.tickAsync(1000);
    await t.router.checkHealth();
    assert.equal(t.router.instances[0].up, true, "the trial succeeded: closed");
  } finally {
    clock.uninstall();
  }
});

Deno.test("a probe result made stale by a health change meanwhile is ignored", async () => {
  let probes: PromiseWithResolvers<ProbeResult>[] = [];
  let started = Promise.withResolvers<void>();
  await using t = setup(2, {
    probe: () => {
      const d = Promise.withResolvers<ProbeResult>();
      probes.push(d);
      if (probes.length === 2) started.resolve();
      return d.promise;
    },
  });
  const round = t.router.checkHealth();
  await started.promise;
  t.router.markDown(t.ids[0]); // after its probe started
  for (const d of probes) d.resolve({ up: true });
  await round;
  assert.equal(t.router.instances[0].up, false, "the older probe must not undo markDown");

  probes = [];
  started = Promise.withResolvers<void>();
  const next = t.router.checkHealth();
  await started.promise;
  for (const d of probes) d.resolve({ up: true });
  await next;
  assert.equal(t.router.instances[0].up, true, "a probe started after the change applies");
});

Deno.test("a failure to reach an instance marks it down; an idempotent read is retried once on the fallback", async () => {
  // No cooldown: the probe below may close the breakers at once (the cooldown has its own test).
  await using t = setup(5, { breaker: { cooldownMs: 0 } });
  const channelId = channelOwnedBy(2, 5);
  const fallback = routeLive(channelId, 5, (i) => i !== 2);
  t.fakes[2].down = true;

  const res = await t.client.getMessages({ channelId });
  assert.equal(res.messages[0].content, t.ids[fallback]);
  assert.equal(t.fakes[2].count("GetMessages"), 1);
  assert.equal(t.fakes[fallback].count("GetMessages"), 1);
  assert.equal(t.router.instances[2].up, false);
  assert.equal(t.events.length, 1);
  assert.equal(t.events[0].reason, "call");
  assert.equal(t.events[0].error?.code, Code.Unavailable);

  // GetMessage and keyless GetStats are retried too.
  t.fakes[0].down = true;
  assert.equal((await t.client.getStats({})).instance, t.ids[1]);
  assert.equal(t.fakes[0].count("GetStats"), 1);
  const other = channelOwnedBy(3, 5);
  t.fakes[3].down = true;
  const msg = await t.client.getMessage({ channelId: other, messageId: 1n });
  assert.equal(msg.message?.content, t.ids[routeLive(other, 5, (i) => i === 1 || i === 4)]);

  // Only a probe brings them back.
  t.fakes[2].down = false;
  t.fakes[2].health = "serving";
  t.fakes[0].health = "not-serving";
  t.fakes[3].health = "unavailable";
  await t.router.checkHealth();
  assert.deepEqual(t.router.instances.map((i) => i.up), [false, true, true, false, true]);
  clear(t.fakes);
  await t.client.getMessages({ channelId });
  assert.equal(t.fakes[2].count("GetMessages"), 1, "back on its owner");
});

Deno.test("a read is retried only once", async () => {
  await using t = setup(5);
  const channelId = channelOwnedBy(1, 5);
  const fallback = routeLive(channelId, 5, (i) => i !== 1);
  t.fakes[1].down = true;
  t.fakes[fallback].down = true;
  await rejects(t.client.getMessages({ channelId }), Code.Unavailable);
  assert.equal(t.fakes[1].received.length, 1);
  assert.equal(t.fakes[fallback].received.length, 1);
  assert.equal(t.fakes.reduce((n, f) => n + f.received.length, 0), 2);
  assert.equal(t.router.instances[fallback].up, false);
});

Deno.test("writes are not retried, but the failure still marks the instance down", async () => {
  await using t = setup(4);
  const channelId = channelOwnedBy(3, 4);
  t.fakes[3].down = true;
  await rejects(
    t.client.createMessage({ channelId, authorId: 1n, content: "x" }),
    Code.Unavailable,
  );
  assert.equal(t.fakes.reduce((n, f) => n + f.received.length, 0), 1);
  assert.equal(t.router.instances[3].up, false);
  // The next write for the channel goes to its fallback.
  const res = await t.client.createMessage({ channelId, authorId: 1n, content: "x" });
  assert.equal(res.message?.content, t.ids[routeLive(channelId, 4, (i) => i !== 3)]);
});

Deno.test("other errors are neither retried nor mark the instance down", async () => {
  await using t = setup(3);
  const channelId = channelOwnedBy(0, 3);
  t.fakes[0].failWith = new ConnectError("boom", Code.Internal);
  await rejects(t.client.getMessages({ channelId }), Code.Internal);
  t.fakes[0].failWith = new ConnectError("slow", Code.DeadlineExceeded);
  await rejects(t.client.getMessages({ channelId }), Code.DeadlineExceeded);
  assert.equal(t.fakes[0].received.length, 2);
  assert.equal(t.fakes[1].received.length + t.fakes[2].received.length, 0);
  assert.equal(t.router.instances[0].up, true);
});

Deno.test("the original getMessage is retried by configuration; an empty list disables it", async () => {
  for (const idempotentMethods of [undefined, []]) {
    await using t = setup(3, { idempotentMethods });
    const channelId = channelOwnedBy(2, 3);
    t.fakes[2].down = true;
    const call = t.original.getMessage({ channelId, messageId: 5n });
    if (idempotentMethods === undefined) {
      const res = await call;
      assert.equal(res.content, t.ids[routeLive(channelId, 3, (i) => i !== 2)]);
    } else {
      await rejects(call, Code.Unavailable);
      assert.equal(t.fakes[0].received.length + t.fakes[1].received.length, 0);
    }
  }
});

Deno.test("retryUnavailable: false disables retries", async () => {
  await using t = setup(3, { retryUnavailable: false });
  const channelId = channelOwnedBy(1, 3);
  t.fakes[1].down = true;
  await rejects(t.client.getMessages({ channelId }), Code.Unavailable);
  assert.equal(t.router.instances[1].up, false);
});

Deno.test("the retry gets what is left of the caller's deadline", async () => {
  const clock = fakeClock();
  try {
    await using t = setup(4);
    const channelId = channelOwnedBy(2, 4);
    const fallback = routeLive(channelId, 4, (i) => i !== 2);
    const gate = Promise.withResolvers<void>();
    t.fakes[2].gate = gate.promise;
    const arrived = t.fakes[2].nextCall();
    const call = t.client.getMessages({ channelId }, { timeoutMs: 1000 });
    await arrived;
    await clock.tickAsync(300);
    t.fakes[2].down = true;
    gate.resolve();
    const res = await call;
    assert.equal(res.messages[0].content, t.ids[fallback]);
    const seen = t.fakes[fallback].received[0].timeoutMs;
    assert.ok(seen !== undefined && seen <= 700 && seen > 600, `fallback saw ${seen} ms`);
  } finally {
    clock.uninstall();
  }
});

Deno.test("a call cancelled by its caller is not retried and marks nothing down", async () => {
  await using t = setup(3);
  const channelId = channelOwnedBy(0, 3);
  const gate = Promise.withResolvers<void>();
  t.fakes[0].gate = gate.promise;
  const abort = new AbortController();
  const arrived = t.fakes[0].nextCall();
  const call = t.client.getMessages({ channelId }, { signal: abort.signal });
  await arrived;
  abort.abort();
  await rejects(call, Code.Canceled);
  gate.resolve();
  assert.equal(t.fakes[1].received.length + t.fakes[2].received.length, 0);
  assert.equal(t.router.instances[0].up, true);
});

Deno.test("with no instance live, the owner is tried anyway and its error surfaces", async () => {
  await using t = setup(3);
  for (const id of t.ids) t.router.markDown(id);
  const channelId = channelOwnedBy(1, 3);
  // Recovered but not yet probed: the call succeeds on the owner.
  const res = await t.client.getMessages({ channelId });
  assert.equal(res.messages[0].content, t.ids[1]);
  for (const f of t.fakes) f.down = true;
  const err = await rejects(t.client.getMessages({ channelId }), Code.Unavailable);
  assert.match(err.message, /fake-1:1 is down/);
  assert.equal(t.fakes[1].received.length, 2);
  assert.equal(t.fakes[0].received.length + t.fakes[2].received.length, 0);
  // Keyless: the first instance.
  await rejects(t.client.getStats({}), Code.Unavailable);
  assert.equal(t.fakes[0].count("GetStats"), 1);
});

Deno.test("a failure of a call that started before a health change does not mark down", async () => {
  await using t = setup(3);
  const channelId = channelOwnedBy(2, 3);
  const gate = Promise.withResolvers<void>();
  t.fakes[2].gate = gate.promise;
  const arrived = t.fakes[2].nextCall();
  const call = t.client.createMessage({ channelId, authorId: 1n, content: "x" });
  await arrived;
  t.router.markDown(t.ids[2]);
  t.router.markUp(t.ids[2]); // e.g. it restarted and a probe saw it
  t.fakes[2].down = true;
  gate.resolve();
  await rejects(call, Code.Unavailable);
  assert.equal(t.router.instances[2].up, true);
});

Deno.test("appending an instance moves about 1/(n+1) of the channels, all to it", async () => {
  await using t = setup(4);
  const channels = Array.from({ length: 2000 }, (_, i) => BigInt(i * 31 + 5));
  for (const channelId of channels) await t.client.getMessage({ channelId, messageId: 1n });
  const before = servedBy(t.fakes);
  const added = t.add("fake-4:1");
  const change = t.router.setInstances([...t.ids, added.id]);
  assert.deepEqual(change.added.map((i) => i.id), [added.id]);
  assert.deepEqual(change.removed, []);
  assert.equal(t.factory.created.length, 5, "kept instances reuse their transports");
  clear(t.fakes);
  for (const channelId of channels) await t.client.getMessage({ channelId, messageId: 1n });
  const after = servedBy([...t.fakes, added]);
  let moved = 0;
  for (const channel of channels) {
    if (after.get(channel) !== before.get(channel)) {
      moved++;
      assert.equal(after.get(channel), 4, "a moved channel went to the new instance");
    }
  }
  assert.ok(Math.abs(moved - 400) < 60, `${moved} of 2000 moved, expected about 400`);
  assert.equal(t.router.instances[4].index, 4);
});

Deno.test("removing an instance closes its transport once its in-flight calls end", async () => {
  const t = setup(4);
  const channelId = channelOwnedBy(3, 4);
  const gate = Promise.withResolvers<void>();
  t.fakes[3].gate = gate.promise;
  const arrived = t.fakes[3].nextCall();
  const call = t.client.getMessages({ channelId });
  await arrived;
  const change = t.router.setInstances(t.ids.slice(0, 3));
  assert.deepEqual(change.removed.map((i) => i.id), [t.ids[3]]);
  assert.equal(t.fakes[3].closed, 0, "closed while a call was running");
  gate.resolve();
  assert.equal((await call).messages[0].content, t.ids[3]);
  assert.equal(t.fakes[3].closed, 1);
  // Its channels now route over the three left.
  assert.equal(t.router.instanceFor(channelId).index, route(channelId, 3));
  await t.router.close();
  assert.deepEqual(t.fakes.map((f) => f.closed), [1, 1, 1, 1]);
  await t.router.close();
  assert.deepEqual(t.fakes.map((f) => f.closed), [1, 1, 1, 1]);
});

Deno.test("setInstances rejects duplicates and bad ids without changing anything", async () => {
  await using t = setup(2);
  assert.throws(() => t.router.setInstances([t.ids[0], t.ids[0]]), TypeError);
  assert.throws(() => t.router.setInstances([t.ids[0], "bad id"]), TypeError);
  assert.throws(() => t.router.setInstances([""]), TypeError);
  assert.deepEqual(t.router.instances.map((i) => i.id), t.ids);
  assert.equal(t.factory.created.length, 2);
});

Deno.test("with no instances configured, calls fail with UNAVAILABLE until some are set", async () => {
  const cluster = fakeCluster(2);
  await using t = setup(0, { createTransport: cluster.factory });
  await rejects(t.client.getMessages({ channelId: 1n }), Code.Unavailable);
  await rejects(t.client.getStats({}), Code.Unavailable);
  assert.throws(() => t.router.ownerOf(1n), ConnectError);
  t.router.setInstances(cluster.ids);
  const res = await t.client.getMessages({ channelId: 1n });
  assert.equal(res.messages[0].content, cluster.ids[route(1n, 2)]);
});

Deno.test("close stops probing and closes transports; later calls fail with CANCELED", async () => {
  const clock = fakeClock();
  try {
    const t = setup(2, { probeIntervalMs: 1000 });
    await clock.tickAsync(2500);
    assert.deepEqual(t.fakes.map((f) => f.healthChecks), [3, 3]);
    await t.router.close();
    await clock.tickAsync(10_000);
    assert.deepEqual(t.fakes.map((f) => f.healthChecks), [3, 3]);
    assert.equal(clock.countTimers(), 0, "no timer left behind");
    assert.deepEqual(t.fakes.map((f) => f.closed), [1, 1]);
    await rejects(t.client.getMessages({ channelId: 1n }), Code.Canceled);
    assert.throws(() => t.router.setInstances(t.ids), ConnectError);
  } finally {
    clock.uninstall();
  }
});

Deno.test("close aborts a probe round in flight", async () => {
  const clock = fakeClock();
  try {
    const t = setup(2, { probeIntervalMs: 1000, probeTimeoutMs: 60_000 });
    t.fakes[0].health = "hang";
    await clock.tickAsync(0);
    await t.router.close(); // must not wait for the hung check
    assert.equal(t.router.instances.length, 0);
    assert.deepEqual(t.events, []);
  } finally {
    clock.uninstall();
  }
});

Deno.test("server streaming: keyless by default, routed and retried when configured", async () => {
  {
    await using t = setup(3);
    const health = createClient(Health, t.router);
    const statuses = [];
    for await (const res of health.watch({})) statuses.push(res.status);
    assert.equal(statuses.length, 2);
    assert.equal(t.fakes[0].count("Watch"), 1);
  }
  {
    // Route Watch by the length of its service name, and treat it as idempotent.
    await using t = setup(3, {
      keyOf: (method, input) =>
        method.name === "Watch"
          ? BigInt((input as { service?: string }).service?.length ?? 0)
          : defaultKeyOf(method, input),
      idempotentMethods: ["grpc.health.v1.Health/Watch"],
    });
    const health = createClient(Health, t.router);
    const owner = route(5n, 3);
    t.fakes[owner].down = true;
    const statuses = [];
    for await (const res of health.watch({ service: "abcde" })) statuses.push(res.status);
    assert.equal(statuses.length, 2);
    const fallback = routeLive(5n, 3, (i) => i !== owner);
    assert.equal(t.fakes[owner].count("Watch"), 1);
    assert.equal(t.fakes[fallback].count("Watch"), 1);
    assert.equal(t.router.instances[owner].up, false);
  }
});

Deno.test("a removed instance's transport closes only after its open stream ends", async () => {
  await using t = setup(2);
  const health = createClient(Health, t.router);
  const stream = health.watch({})[Symbol.asyncIterator]();
  const first = await stream.next();
  assert.equal(first.done, false);
  t.router.setInstances([t.ids[1]]);
  assert.equal(t.fakes[0].closed, 0);
  while (!(await stream.next()).done) { /* drain */ }
  assert.equal(t.fakes[0].closed, 1);
});
