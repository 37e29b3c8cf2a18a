/**
 * Hot spots on real instances over the in-memory store: the hot-key view
 * (GetHotKeys, /debug/hotkeys on both listeners) names a stormed channel
 * first; a channel's write storm is throttled with a RetryInfo hint; and
 * through the router's affinity a channel's writes all land on its owner, so
 * the owner's bucket is the fleet's bucket.
 */
import assert from "node:assert/strict";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { durationMs } from "@bufbuild/protobuf/wkt";
import { HotKeysWindow, MessagesService } from "../gen/dataservices/v1/messages_pb.ts";
import { RetryInfoSchema } from "../gen/google/rpc/error_details_pb.ts";
import { seededRandom, zipf } from "../lib/zipf.ts";
import { withTimeout } from "../lib/wait.ts";
import { createNodeTransportFactory } from "../router/node.ts";
import { createRoutingTransport } from "../router/transport.ts";
import { route } from "../router/jump.ts";
import { startMemoryInstance } from "./_memory_instance.ts";

function h2(url: string): { t: Transport; close: () => void } {
  const sessionManager = new Http2SessionManager(url);
  const t = createConnectTransport({ baseUrl: url, httpVersion: "2", sessionManager });
  return { t, close: () => sessionManager.abort() };
}

async function codeOf(p: Promise<unknown>): Promise<Code | "ok"> {
  try {
    await p;
    return "ok";
  } catch (e) {
    return ConnectError.from(e).code;
  }
}

Deno.test("GetHotKeys and /debug/hotkeys name a stormed channel first, with its saved ratio", async () => {
  const svc = await startMemoryInstance();
  const c = h2(svc.url);
  try {
    const api = createClient(MessagesService, c.t);
    // Background: Zipf reads over 200 channels (the hottest, channel 1, gets ~1/6 of them).
    const next = zipf(200, 1.0, seededRandom(4));
    await Promise.all(
      Array.from(
        { length: 600 },
        () => codeOf(api.getMessage({ channelId: BigInt(next()), messageId: 1n })),
      ),
    );
    // The storm: 400 identical history reads of one channel, held so they share a query.
    const storm = 777_777n;
    const gate = svc.store.hold("getMessages");
    const reads = Array.from(
      { length: 400 },
      () => api.getMessages({ channelId: storm, limit: 10 }),
    );
    await withTimeout(gate.arrived(1), 5000, "the storm's query to reach the store");
    gate.open();
    await Promise.all(reads);

    const hot = await api.getHotKeys({});
    assert.equal(hot.window, HotKeysWindow.SHORT);
    assert.equal(hot.channels[0].channelId, storm, "the stormed channel first");
    assert.equal(hot.channels.length, 10);
    const s = hot.channels[0].stats!;
    // An upper bound: the storm's channel may have taken a counter over (200 channels, 64 counters).
    assert.ok(s.requests - s.requestsError <= 400n && s.requests >= 400n, `${s.requests}`);
    assert.ok(s.requestsError <= hot.channelsMaxError);
    assert.equal(s.queries, 1n);
    assert.equal(s.coalesced, 399n);
    assert.ok(s.savedRatio > 0.99, `saved ratio ${s.savedRatio}`);
    assert.equal(hot.keys[0].key, `hist:${storm}:0:0:10`);
    assert.equal(hot.totals!.requests, 1000n, "exact totals");
    assert.equal(hot.capacity, 64);
    const long = await api.getHotKeys({ window: HotKeysWindow.LONG, limit: 3 });
    assert.equal(long.channels.length, 3);
    assert.equal(long.channels[0].channelId, storm);
    await assert.rejects(
      api.getHotKeys({ limit: 65 }),
      (e) => ConnectError.from(e).code === Code.InvalidArgument,
    );

    for (const base of [svc.url, svc.fastUrl!]) {
      const res = await fetch(`${base}/debug/hotkeys`);
      assert.equal(res.status, 200);
      const body = await res.json();
      assert.equal(body.short.channels[0].channelId, String(storm));
      assert.equal(body.long.channels[0].channelId, String(storm));
    }
    // Prometheus: ranks only, never the channel id.
    const metrics = await (await fetch(`${svc.url}/metrics`)).text();
    assert.match(metrics, /dataservices_hot_channel_requests\{window="10s",rank="1"\} 40\d/);
    assert.doesNotMatch(metrics, /777777/);
    assert.match(metrics, /dataservices_query_limit \d+/);
    // Not counted as a data request, and exempt from admission like GetStats.
    const stats = await api.getStats({});
    assert.equal(stats.requests, 1000n);
    assert.ok(stats.queryLimit >= 8, `query limit ${stats.queryLimit}`);
  } finally {
    c.close();
    await svc.close(0);
  }
});

/** The RetryInfo delay of an error, in ms. */
function retryDelayMs(e: unknown): number | undefined {
  const [info] = ConnectError.from(e).findDetails(RetryInfoSchema);
  return info?.retryDelay ? durationMs(info.retryDelay) : undefined;
}

Deno.test("a channel's write storm: burst passes, the rest RESOURCE_EXHAUSTED with RetryInfo", async () => {
  const svc = await startMemoryInstance({
    args: ["--channel-write-rate", "2", "--channel-write-burst", "5"],
  });
  const c = h2(svc.url);
  try {
    const api = createClient(MessagesService, c.t);
    const results = await Promise.allSettled(
      Array.from(
        { length: 20 },
        (_, i) => api.createMessage({ channelId: 42n, authorId: 1n, content: `m${i}` }),
      ),
    );
    const ok = results.filter((r) => r.status === "fulfilled").length;
    const refused = results.flatMap((r) => r.status === "rejected" ? [r.reason] : []);
    assert.equal(ok, 5);
    assert.equal(refused.length, 15);
    for (const e of refused) {
      assert.equal(ConnectError.from(e).code, Code.ResourceExhausted);
      const ms = retryDelayMs(e);
      assert.ok(ms !== undefined && ms > 0 && ms <= 500, `retry delay ${ms} ms at 2/s`);
      assert.equal(ConnectError.from(e).metadata.get("retry-after"), "1");
    }
    assert.equal(svc.store.size, 5, "refused writes never reached the store");
    // Another channel is not affected.
    assert.equal(
      await codeOf(api.createMessage({ channelId: 43n, authorId: 1n, content: "x" })),
      "ok",
    );
    const stats = await api.getStats({});
    assert.equal(stats.throttledWrites, 15n);
    const hot = await api.getHotKeys({});
    assert.equal(hot.channels[0].channelId, 42n);
    assert.deepEqual([hot.channels[0].stats!.requests, hot.channels[0].stats!.errors], [20n, 15n]);
    const metrics = await (await fetch(`${svc.url}/metrics`)).text();
    assert.match(metrics, /dataservices_writes_throttled_total 15/);
  } finally {
    c.close();
    await svc.close(0);
  }
});

Deno.test(
  "through the router's affinity a channel's writes land on its owner: a local bucket is a " +
    "fleet-wide bucket (bug: each instance grants the burst again)",
  async () => {
    const args = ["--channel-write-rate", "0.5", "--channel-write-burst", "4"];
    const fleet = await Promise.all([startMemoryInstance({ args }), startMemoryInstance({ args })]);
    const ids = fleet.map((s) => new URL(s.url).host);
    const router = createRoutingTransport({
      instances: ids,
      createTransport: createNodeTransportFactory({ protocol: "connect" }),
      probeIntervalMs: 0,
    });
    try {
      const api = createClient(MessagesService, router);
      // One channel owned by each instance.
      const channels = [0, 1].map((want) => {
        let ch = 1000n;
        while (route(ch, 2) !== want) ch++;
        return ch;
      });
      for (const ch of channels) {
        const codes = await Promise.all(
          Array.from(
            { length: 12 },
            (_, i) => codeOf(api.createMessage({ channelId: ch, authorId: 1n, content: `w${i}` })),
          ),
        );
        assert.equal(codes.filter((x) => x === "ok").length, 4, `channel ${ch}: the burst, once`);
        assert.equal(codes.filter((x) => x === Code.ResourceExhausted).length, 8);
      }
      // Every accepted write is on its channel's owner, none on the other instance.
      assert.deepEqual(fleet.map((s) => s.store.size), [4, 4]);
      for (const [i, ch] of channels.entries()) {
        const page = await createClient(MessagesService, router.transportFor(ids[i]))
          .getMessages({ channelId: ch });
        assert.equal(page.messages.length, 4);
      }
      // Without affinity (each instance written directly) a channel gets the burst twice.
      const direct = fleet.map((s) => h2(s.url));
      try {
        const spread = await Promise.all(
          Array.from({ length: 12 }, (_, i) =>
            codeOf(
              createClient(MessagesService, direct[i % 2].t).createMessage({
                channelId: 5n,
                authorId: 1n,
                content: "spread",
              }),
            )),
        );
        assert.equal(spread.filter((x) => x === "ok").length, 8);
      } finally {
        for (const d of direct) d.close();
      }
    } finally {
      await router.close();
      await Promise.all(fleet.map((s) => s.close(0)));
    }
  },
);
