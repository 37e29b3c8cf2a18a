/**
 * Integration tests of the router client against real data-service instances
 * (and the real Cassandra): channel affinity proven from GetStats deltas,
 * failover when an instance stops mid-run, recovery when it returns, and the
 * gateway forwarding with the same affinity.
 */
import assert from "node:assert/strict";
import { createClient } from "@connectrpc/connect";
import { MessagesService } from "../gen/dataservices/v1/messages_pb.ts";
import { createNodeRoutingTransport } from "../router/node.ts";
import { startGateway } from "../gateway/gateway.ts";
import type { DataService } from "../server/app.ts";
import { randomChannel, startInstance, transportFor } from "./_util.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

/** Requests counted by each instance (GetStats through a direct transport). */
async function requestsByInstance(urls: string[]): Promise<bigint[]> {
  return await Promise.all(urls.map(async (url) => {
    const { transport, close } = transportFor(url, "connect-binary/h1");
    try {
      return (await createClient(MessagesService, transport).getStats({})).requests;
    } finally {
      close();
    }
  }));
}

const hostOf = (s: DataService) => new URL(s.url).host;

// The default client (the lean Connect transport to each instance's fast listener) and gRPC
// over connect-node to the main port.
for (const protocol of [undefined, "grpc"] as const) {
  Deno.test({
    name: `router (${
      protocol ?? "lean Connect, fast listener"
    }): every request for a channel lands on its owner; failover and recovery`,
    ...opts,
    async fn() {
      const services = [await startInstance(), await startInstance(), await startInstance()];
      const urls = services.map((s) => s.url);
      const router = await createNodeRoutingTransport({
        instances: services.map(hostOf),
        protocol,
        probeIntervalMs: 0, // probes driven by the test with checkHealth()
        // No breaker cooldown: the probe after the restart may close it at once (the
        // cooldown has its unit test in router/transport_test.ts).
        breaker: { cooldownMs: 0 },
      });
      try {
        const api = createClient(MessagesService, router);
        const base = randomChannel();
        const channels = Array.from({ length: 12 }, (_, i) => base + BigInt(i));
        const owners = channels.map((c) => router.ownerOf(c).index);
        assert.ok(new Set(owners).size >= 2, "channels spread over instances");

        // 1. Affinity: 10 reads of one channel raise exactly its owner's count by 10.
        for (const [i, channelId] of channels.entries()) {
          const before = await requestsByInstance(urls);
          await Promise.all(Array.from({ length: 10 }, () => api.getMessages({ channelId })));
          const after = await requestsByInstance(urls);
          const delta = after.map((a, k) => a - before[k]);
          assert.deepEqual(
            delta,
            urls.map((_, k) => (k === owners[i] ? 10n : 0n)),
            `channel ${channelId}`,
          );
        }

        // 2. Stop one instance mid-run: every request is still answered, and only its
        //    channels move.
        const dead = owners[0];
        const port = services[dead].port;
        const load = Promise.all(
          Array.from({ length: 300 }, (_, k) => api.getMessages({ channelId: channels[k % 12] })),
        );
        await services[dead].close(2000);
        const results = await load;
        assert.equal(results.length, 300, "every request during the stop was answered");
        await router.checkHealth();
        assert.equal(router.instances[dead].up, false);
        const live = urls.map((_, k) => k).filter((k) => k !== dead);
        for (const [i, channelId] of channels.entries()) {
          const before = await requestsByInstance(live.map((k) => urls[k]));
          await api.getMessages({ channelId });
          const after = await requestsByInstance(live.map((k) => urls[k]));
          const servedBy = live[after.findIndex((a, j) => a - before[j] === 1n)];
          if (owners[i] !== dead) {
            assert.equal(servedBy, owners[i], `channel ${channelId} of a live owner stayed`);
          } else {
            assert.notEqual(servedBy, undefined, `channel ${channelId} moved to a live instance`);
            assert.equal(router.instanceFor(channelId).index, servedBy, "deterministic fallback");
          }
        }

        // 3. The instance returns on its port: its channels come back.
        services[dead] = await startInstance(["--port", String(port)]);
        await router.checkHealth();
        assert.equal(router.instances[dead].up, true);
        const back = channels.filter((_, i) => owners[i] === dead);
        const before = await requestsByInstance([services[dead].url]);
        for (const channelId of back) await api.getMessages({ channelId });
        const after = await requestsByInstance([services[dead].url]);
        assert.equal(after[0] - before[0], BigInt(back.length), "channels returned to their owner");
      } finally {
        await router.close();
        await Promise.all(services.map((s) => s.close(500)));
      }
    },
  });
}

Deno.test({
  name: "gateway: forwards every protocol with channel affinity, errors keep their codes",
  ...opts,
  async fn() {
    const services = [await startInstance(), await startInstance()];
    const gw = await startGateway({ port: 0, targets: services.map(hostOf) });
    try {
      const channelId = randomChannel();
      const owner = gw.router.ownerOf(channelId).index;
      for (const protocol of ["grpc/h2", "grpc-web/h1", "connect-json/h1"] as const) {
        const { transport, close } = transportFor(gw.url, protocol);
        try {
          const api = createClient(MessagesService, transport);
          const before = await requestsByInstance(services.map((s) => s.url));
          const { message } = await api.createMessage({
            channelId,
            authorId: 9n,
            content: "via gw",
          });
          const got = await api.getMessage({ channelId, messageId: message!.messageId });
          assert.equal(got.message?.content, "via gw");
          await assert.rejects(api.getMessage({ channelId, messageId: 1n }), /not found/);
          const after = await requestsByInstance(services.map((s) => s.url));
          assert.deepEqual(
            after.map((a, k) => a - before[k]),
            services.map((_, k) => (k === owner ? 3n : 0n)),
            protocol,
          );
        } finally {
          close();
        }
      }
      const cfg = await (await fetch(`${gw.url}/config.json`)).json();
      assert.deepEqual(cfg.instances, services.map(hostOf));
      const ready = await fetch(`${gw.url}/readyz`);
      assert.equal(ready.status, 200);
      await ready.body?.cancel();
    } finally {
      await gw.close(500);
      await Promise.all(services.map((s) => s.close(500)));
    }
  },
});
