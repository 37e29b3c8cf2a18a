/**
 * The gateway over in-memory instances (server/memory_store.ts, no
 * Cassandra): channel affinity through every protocol family and both
 * listeners, errors keep their codes, HTTP routes, metrics, readiness that
 * follows the instances, access logs and TLS. Sanitizers are on.
 */
import assert from "node:assert/strict";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
  Http2SessionManager,
} from "@connectrpc/connect-node";
import { createConnectTransport as createFetchConnectTransport } from "@connectrpc/connect-web";
import { MessagesService } from "../gen/dataservices/v1/messages_pb.ts";
import {
  Health,
  HealthCheckResponse_ServingStatus as Status,
} from "../gen/grpc/health/v1/health_pb.ts";
import { selfSigned } from "../http/_tls_fixture.ts";
import { createLogger } from "../lib/log.ts";
import { withTimeout } from "../lib/wait.ts";
import type { Readiness } from "../http/health.ts";
import { startMemoryInstance } from "../server/_memory_instance.ts";
import { startGateway } from "./gateway.ts";

const quiet = createLogger({}, { level: "error", write: () => {} });

/** Resolves once `readiness.ready === want`; fails naming `what` after 10 s. */
function readyBecomes(readiness: Readiness, want: boolean, what: string): Promise<void> {
  const done = Promise.withResolvers<void>();
  const check = () => readiness.ready === want && done.resolve();
  const off = readiness.onChange(check);
  check();
  return withTimeout(done.promise, 10_000, what).finally(off);
}

Deno.test("gateway: each channel's calls reach its owner on both listeners; codes and HTTP routes", async () => {
  const instances = [await startMemoryInstance(), await startMemoryInstance()];
  const targets = instances.map((s) => new URL(s.url).host);
  const gw = await startGateway({ port: 0, targets, log: quiet });
  try {
    assert.ok(gw.fastUrl, "the fast listener is on by default");
    const channelId = 4242n;
    const owner = gw.router.ownerOf(channelId).index;
    for (
      const transport of [
        createGrpcWebTransport({ baseUrl: gw.url, httpVersion: "1.1" }),
        createConnectTransport({ baseUrl: gw.url, httpVersion: "1.1" }),
        createFetchConnectTransport({ baseUrl: gw.fastUrl }),
      ]
    ) {
      const api = createClient(MessagesService, transport);
      const before = instances.map((s) => s.store.calls.getMessage);
      const { message } = await api.createMessage({ channelId, authorId: 9n, content: "via gw" });
      const got = await api.getMessage({ channelId, messageId: message!.messageId });
      assert.equal(got.message?.content, "via gw");
      await assert.rejects(
        api.getMessage({ channelId, messageId: 1n }),
        (e) => e instanceof ConnectError && e.code === Code.NotFound,
      );
      await assert.rejects(
        api.getMessages({ channelId, limit: 1000 }),
        (e) => e instanceof ConnectError && e.code === Code.InvalidArgument,
      );
      const reads = instances.map((s, k) => s.store.calls.getMessage - before[k]);
      assert.deepEqual(reads, instances.map((_, k) => (k === owner ? 2 : 0)));
      assert.equal(instances[owner].store.size > 0, true, "the write went to the owner too");
    }
    assert.equal(instances[1 - owner].store.size, 0, "nothing reached the other instance");

    await readyBecomes(gw.readiness, true, "the gateway to be ready");
    for (const base of [gw.url, gw.fastUrl]) {
      const cfg = await (await fetch(`${base}/config.json`)).json();
      assert.deepEqual(cfg, { instances: targets, gateway: gw.url });
      const health = await (await fetch(`${base}/healthz`)).json();
      assert.deepEqual(health, { status: "ok", fastPort: gw.fastPort });
      const ready = await fetch(`${base}/readyz`);
      assert.equal(ready.status, 200);
      assert.deepEqual(await ready.json(), {
        status: "ready",
        instances: targets.map((id) => ({ id, up: true })),
      });
      const page = await fetch(`${base}/`);
      assert.equal(page.status, 200);
      assert.match(page.headers.get("content-type") ?? "", /^text\/html/);
      assert.match(await page.text(), /<script type="module" src="app.js">/);
      const rpc = `${base}/dataservices.v1.MessagesService/GetMessages`;
      const pre = await fetch(rpc, {
        method: "OPTIONS",
        headers: { origin: "http://localhost:5173", "access-control-request-method": "POST" },
      });
      await pre.body?.cancel();
      assert.equal(pre.status, 204, `${base}: CORS preflight`);
      assert.equal(pre.headers.get("access-control-allow-origin"), "http://localhost:5173");
      for (
        const [origin, allowed] of [["http://localhost:3000", true], [
          "https://evil.example",
          false,
        ]]
      ) {
        const res = await fetch(rpc, {
          method: "POST",
          headers: { origin: String(origin), "content-type": "application/json" },
          body: '{"channelId":"5"}',
        });
        assert.equal(res.status, 200);
        await res.body?.cancel();
        assert.equal(res.headers.get("access-control-allow-origin"), allowed ? origin : null);
      }
      for (const path of ["/style.css", "/nothing-here"]) {
        const missing = await fetch(`${base}${path}`);
        assert.equal(missing.status, 404, path);
        await missing.body?.cancel();
      }
    }

    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    for (
      const line of [
        /^dataservices_gateway_instances\{state="up"\} 2$/m,
        /^dataservices_gateway_instances\{state="down"\} 0$/m,
        /^grpc_server_handled_total\{grpc_type="unary",grpc_service="dataservices.v1.MessagesService",grpc_method="GetMessage",grpc_code="NotFound"\} 3$/m,
        /^grpc_server_handled_total\{grpc_type="unary",grpc_service="dataservices.v1.MessagesService",grpc_method="CreateMessage",grpc_code="OK"\} 3$/m,
        /^grpc_server_handling_seconds_count\{.*grpc_method="GetMessages"\} 7$/m, // 3 + 4 CORS calls
        /^process_resident_memory_bytes [1-9]\d*$/m,
        /^process_cpu_seconds_total /m,
      ]
    ) assert.match(metrics, line);
  } finally {
    await gw.close(500);
    await Promise.all(instances.map((s) => s.close(500)));
  }
});

Deno.test("gateway readiness follows its instances: /readyz, Health Check and Watch", async () => {
  const instances = [await startMemoryInstance(), await startMemoryInstance()];
  const targets = instances.map((s) => new URL(s.url).host);
  const gw = await startGateway({ port: 0, targets, log: quiet, probeIntervalMs: 50 });
  const health = createClient(Health, createFetchConnectTransport({ baseUrl: gw.fastUrl! }));
  const watching = new AbortController();
  try {
    assert.equal(gw.readiness.ready, false, "not ready before the first probe round");
    await readyBecomes(gw.readiness, true, "the gateway to be ready");
    assert.equal((await health.check({})).status, Status.SERVING);
    const watch = health.watch({}, { signal: watching.signal })[Symbol.asyncIterator]();
    assert.equal((await watch.next()).value?.status, Status.SERVING);

    await instances[0].close(0);
    await withTimeout(
      (async () => {
        while (gw.router.instances[0].up) await gw.router.checkHealth();
      })(),
      10_000,
      "the router to see the first instance down",
    );
    assert.equal(gw.readiness.ready, true, "one instance up is enough");
    const one = await fetch(`${gw.url}/readyz`);
    assert.deepEqual((await one.json()).instances, [
      { id: targets[0], up: false },
      { id: targets[1], up: true },
    ]);

    await instances[1].close(0);
    await readyBecomes(gw.readiness, false, "the gateway to see no instance up");
    const none = await fetch(`${gw.url}/readyz`);
    assert.equal(none.status, 503);
    assert.deepEqual(await none.json(), {
      status: "not ready",
      reason: "no live instance (0 of 2 up)",
      instances: targets.map((id) => ({ id, up: false })),
    });
    assert.equal((await health.check({})).status, Status.NOT_SERVING);
    const next = await withTimeout(watch.next(), 5000, "Watch to report NOT_SERVING");
    assert.equal(next.value?.status, Status.NOT_SERVING);
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    assert.match(metrics, /^dataservices_gateway_instances\{state="down"\} 2$/m);
  } finally {
    watching.abort();
    await gw.close(500);
    await Promise.all(instances.map((s) => s.close(0)));
  }
});

Deno.test("gateway access log: one line per forwarded call when asked, none by default", async () => {
  const instance = await startMemoryInstance();
  const target = new URL(instance.url).host;
  for (const accessLog of [true, false]) {
    const lines: Record<string, unknown>[] = [];
    const log = createLogger({ service: "gateway" }, {
      level: "info",
      write: (l) => lines.push(JSON.parse(l)),
    });
    const gw = await startGateway({ port: 0, targets: [target], log, accessLog });
    const sessions = new Http2SessionManager(gw.url);
    try {
      for (
        const transport of [
          createFetchConnectTransport({ baseUrl: gw.url }), // HTTP/1.1, main port
          createFetchConnectTransport({ baseUrl: gw.fastUrl! }), // the fast listener
          createGrpcTransport({ baseUrl: gw.url, sessionManager: sessions }), // h2, main port
        ]
      ) {
        const api = createClient(MessagesService, transport);
        await api.getMessages({ channelId: 7n });
        await assert.rejects(api.getMessage({ channelId: 7n, messageId: 1n }));
      }
    } finally {
      sessions.abort();
      await gw.close(500);
    }
    const rpc = lines.filter((l) => l.msg === "rpc");
    if (!accessLog) {
      assert.deepEqual(rpc, [], "no per-call lines by default");
      continue;
    }
    assert.equal(rpc.length, 6);
    for (const [i, l] of rpc.entries()) {
      assert.equal(l.level, "info");
      assert.equal(l.service, "gateway");
      assert.equal(l.instance, target);
      assert.equal(l.attempts, 1);
      assert.equal(l.protocol, i < 4 ? "connect" : "grpc");
      assert.equal(typeof l.ms, "number");
      assert.match(String(l.peer), /^127\.0\.0\.1:\d+$/, `peer of line ${i}`);
    }
    assert.deepEqual(
      rpc.map((l) => [l.rpc, l.code]),
      Array.from({ length: 3 }, () => [
        ["dataservices.v1.MessagesService/GetMessages", "ok"],
        ["dataservices.v1.MessagesService/GetMessage", "not_found"],
      ]).flat(),
    );
  }
  await instance.close(500);
});

Deno.test("gateway TLS: both listeners serve HTTPS", async (t) => {
  const tls = await selfSigned();
  if (!tls) {
    await t.step({ name: "openssl not available", ignore: true, fn() {} });
    return;
  }
  const instance = await startMemoryInstance();
  const gw = await startGateway({
    port: 0,
    targets: [new URL(instance.url).host],
    tls,
    log: quiet,
  });
  const client = Deno.createHttpClient({ caCerts: [tls.cert] });
  try {
    assert.match(gw.url, /^https:/);
    assert.match(gw.fastUrl!, /^https:/);
    for (const baseUrl of [gw.url, gw.fastUrl!]) {
      const tlsFetch: typeof fetch = (input, init) => fetch(input, { ...init, client });
      const health = await tlsFetch(`${baseUrl}/healthz`);
      assert.equal(health.status, 200);
      await health.body?.cancel();
      const api = createClient(
        MessagesService,
        createFetchConnectTransport({ baseUrl, fetch: tlsFetch }),
      );
      assert.deepEqual((await api.getMessages({ channelId: 3n })).messages, []);
    }
  } finally {
    client.close();
    await gw.close(500);
    await instance.close(500);
  }
});

Deno.test("gateway GetHotKeys: every live instance's view merged; one that does not answer is named", async () => {
  const instances = [await startMemoryInstance(), await startMemoryInstance()];
  const targets = instances.map((s) => new URL(s.url).host);
  // No probes after the first round: the stopped instance stays "up" for the router.
  const gw = await startGateway({ port: 0, targets, log: quiet, probeIntervalMs: 600_000 });
  try {
    await readyBecomes(gw.readiness, true, "the gateway to be ready");
    // One channel owned by each instance, read 3 and 5 times through the gateway.
    const owned = [0, 1].map((k) => {
      for (let c = 1n;; c++) if (gw.router.ownerOf(c).index === k) return c;
    });
    const api = createClient(
      MessagesService,
      createFetchConnectTransport({ baseUrl: gw.fastUrl! }),
    );
    for (const [k, channelId] of owned.entries()) {
      for (let n = 0; n < 3 + 2 * k; n++) await api.getMessages({ channelId });
    }
    const fleet = await api.getHotKeys({ limit: 5 });
    assert.equal(fleet.instance, "merged: 2 instances");
    assert.deepEqual(
      // An instance names itself host:port#worker-id.
      fleet.channels.map((c) => [c.channelId, c.stats?.requests, c.instance.split("#")[0]]),
      [[owned[1], 5n, targets[1]], [owned[0], 3n, targets[0]]],
    );
    assert.equal(fleet.totals?.requests, 8n);

    await instances[1].close(500);
    const partial = await api.getHotKeys({});
    assert.match(
      partial.instance,
      new RegExp(`^${targets[0]}#\\d+ \\(no answer: ${targets[1]}\\)$`),
    );
    assert.deepEqual(partial.channels.map((c) => c.channelId), [owned[0]]);
    await assert.rejects(
      api.getHotKeys({ limit: 65 }),
      (e) => e instanceof ConnectError && e.code === Code.InvalidArgument,
    );
  } finally {
    await gw.close(500);
    await Promise.all(instances.map((s) => s.close(500)));
  }
});
