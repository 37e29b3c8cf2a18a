/**
 * A data-service instance over a MemoryStore (no Cassandra): bad input and
 * its codes, CORS, health and Prometheus metrics, getAndResetMetrics, a
 * client hanging up, and a start that fails. Sanitizers are on: every test
 * closes what it opens.
 */
import assert from "node:assert/strict";
import http2 from "node:http2";
import { once } from "node:events";
// @ts-types="npm:@types/sinonjs__fake-timers@15.0.1"
import FakeTimers from "@sinonjs/fake-timers";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { MessagesService } from "../gen/dataservices/v1/messages_pb.ts";
import { MessagesService as CompatService } from "../gen/messages/messages_pb.ts";
import { withTimeout } from "../lib/wait.ts";
import { startMemoryInstance } from "./_memory_instance.ts";
import { startDataService } from "./app.ts";
import { parseConfig } from "./config.ts";
import { createLogger } from "../lib/log.ts";
import { MemoryStore } from "./memory_store.ts";
import { MemoryLeaseStore } from "./memory_lease_store.ts";

/** A gRPC (HTTP/2) transport and a function that closes its session. */
function grpc(baseUrl: string): { transport: Transport; close: () => void } {
  const sessionManager = new Http2SessionManager(baseUrl);
  return {
    transport: createGrpcTransport({ baseUrl, sessionManager }),
    close: () => sessionManager.abort(),
  };
}

async function rejectsWith(p: Promise<unknown>, code: Code): Promise<void> {
  await assert.rejects(p, (err) => {
    assert.ok(err instanceof ConnectError, `not a ConnectError: ${err}`);
    assert.equal(Code[err.code], Code[code], err.message);
    return true;
  });
}

/** POSTs `body` and reads the whole answer. */
async function post(url: string, body: BodyInit, type = "application/json") {
  const r = await fetch(url, { method: "POST", headers: { "content-type": type }, body });
  return { status: r.status, body: await r.text() };
}

Deno.test("bad input gets the right code and the server keeps serving", async () => {
  const svc = await startMemoryInstance({ args: ["--read-max-bytes", "2048"] });
  const rpc = `${svc.url}/dataservices.v1.MessagesService/GetMessages`;
  const { transport, close } = grpc(svc.url);
  try {
    let r = await post(rpc, "{not json");
    assert.equal(r.status, 400);
    assert.equal(JSON.parse(r.body).code, "invalid_argument");

    r = await post(rpc, '{"channelId":"abc"}');
    assert.equal(JSON.parse(r.body).code, "invalid_argument");

    // Unknown JSON fields are ignored (forward compatibility, as in binary protobuf).
    r = await post(rpc, JSON.stringify({ channelId: "12", newerField: 1 }));
    assert.equal(r.status, 200, r.body);

    r = await post(rpc, "hello", "text/plain");
    assert.equal(r.status, 415);

    r = await post(
      `${svc.url}/dataservices.v1.MessagesService/CreateMessage`,
      JSON.stringify({ channelId: "1", authorId: "1", content: "x".repeat(5000) }),
    );
    assert.equal(JSON.parse(r.body).code, "resource_exhausted");

    r = await post(`${svc.url}/dataservices.v1.MessagesService/NoSuchMethod`, "{}");
    assert.equal(r.status, 404);
    assert.equal(JSON.parse(r.body).code, "unimplemented");

    r = await post(rpc, JSON.stringify({ channelId: "1", limit: 500 }));
    assert.equal(JSON.parse(r.body).code, "invalid_argument");
    assert.match(
      JSON.parse(r.body).message,
      /^limit: must be greater than or equal to 0 and less than or equal to 100/,
    );

    const api = createClient(MessagesService, transport);
    await rejectsWith(api.getMessages({ channelId: -1n }), Code.InvalidArgument);
    // A gRPC client calling a method this server does not have: UNIMPLEMENTED.
    const session = http2.connect(svc.url);
    try {
      const stream = session.request({
        ":method": "POST",
        ":path": "/nope.v1.Nothing/Call",
        "content-type": "application/grpc",
        te: "trailers",
      });
      stream.end(new Uint8Array(5));
      const [headers] = await withTimeout(once(stream, "response"), 5000, "a gRPC response");
      assert.equal(headers["grpc-status"], String(Code.Unimplemented));
    } finally {
      session.destroy();
    }
    // Still serving after all of the above; invalid requests never reached the store.
    assert.deepEqual((await api.getMessages({ channelId: 99n })).messages, []);
    assert.equal(svc.store.calls.createMessage, 0);
  } finally {
    close();
    await svc.close(1000);
  }
});

Deno.test("CORS: allowed origins get headers and preflights, others do not", async () => {
  const svc = await startMemoryInstance({
    args: ["--cors-origins", "localhost,https://app.example"],
  });
  const rpc = `${svc.url}/dataservices.v1.MessagesService/GetStats`;
  try {
    const pre = await fetch(rpc, {
      method: "OPTIONS",
      headers: {
        origin: "http://localhost:5173",
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type,x-grpc-web,x-user-agent",
      },
    });
    await pre.body?.cancel();
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get("access-control-allow-origin"), "http://localhost:5173");
    assert.match(pre.headers.get("access-control-allow-headers") ?? "", /x-grpc-web/i);

    const call = (origin: string) =>
      fetch(rpc, {
        method: "POST",
        headers: { origin, "content-type": "application/json" },
        body: "{}",
      });
    const ok = await call("https://app.example");
    await ok.body?.cancel();
    assert.equal(ok.headers.get("access-control-allow-origin"), "https://app.example");
    assert.match(ok.headers.get("access-control-expose-headers") ?? "", /grpc-status/i);

    const evil = await call("https://evil.example");
    await evil.body?.cancel();
    assert.equal(evil.headers.get("access-control-allow-origin"), null);
  } finally {
    await svc.close(1000);
  }
});

Deno.test("health, readiness and Prometheus metrics over HTTP", async () => {
  const svc = await startMemoryInstance();
  try {
    const r = await post(
      `${svc.url}/dataservices.v1.MessagesService/GetMessage`,
      '{"channelId":"1","messageId":"1"}',
    );
    assert.equal(JSON.parse(r.body).code, "not_found");
    for (const path of ["/healthz", "/readyz"]) {
      const res = await fetch(`${svc.url}${path}`);
      assert.equal(res.status, 200, path);
      await res.body?.cancel();
    }
    const m = await fetch(`${svc.url}/metrics`);
    const text = await m.text();
    assert.match(m.headers.get("content-type") ?? "", /text\/plain/);
    assert.match(
      text,
      /grpc_server_handled_total\{grpc_type="unary",grpc_service="dataservices.v1.MessagesService",grpc_method="GetMessage",grpc_code="NotFound"\} 1/,
    );
    assert.match(text, /dataservices_queries_total\{op="get_message"\} 1/);
    assert.match(text, /grpc_server_handling_seconds_bucket/);
    assert.match(text, /dataservices_flights_in_progress 0/);
  } finally {
    await svc.close(1000);
  }
});

Deno.test("readiness follows the store: 503 with the store's reason", async () => {
  const store = new MemoryStore();
  store.failWith("ping", new Error("table dataservices.messages does not exist"));
  const svc = await startMemoryInstance({ store, waitReady: false });
  try {
    // The first probe outcome: a reason instead of "not probed yet".
    const probed = Promise.withResolvers<void>();
    const off = svc.readiness.onChange(probed.resolve);
    if (svc.readiness.reason !== "store not probed yet") probed.resolve();
    await withTimeout(probed.promise, 5000, "the first readiness probe");
    off();
    const r = await fetch(`${svc.url}/readyz`);
    assert.equal(r.status, 503);
    assert.match((await r.json()).reason, /messages does not exist/);
  } finally {
    await svc.close(100);
  }
});

Deno.test("the original's getMessage answers a missing row with an empty reply; real failures stay errors", async () => {
  const store = new MemoryStore({
    messages: [{ channelId: 3n, messageId: 3000n, authorId: 9n, content: "hi" }],
  });
  const svc = await startMemoryInstance({ store });
  const { transport, close } = grpc(svc.url);
  const path = "/messages.MessagesService/getMessage";
  try {
    const compat = createClient(CompatService, transport);
    const api = createClient(MessagesService, transport);
    const found = await compat.getMessage({ channelId: 3n, messageId: 3000n });
    assert.equal(found.content, "hi");
    const missing = await compat.getMessage({ channelId: 3n, messageId: 4000n });
    assert.deepEqual([missing.channelId, missing.messageId, missing.authorId, missing.content], [
      0n,
      0n,
      0n,
      "",
    ]);
    // The same over Connect JSON, on the main port and on the fast listener.
    for (const base of [svc.url, svc.fastUrl!]) {
      const r = await post(`${base}${path}`, '{"channelId":"3","messageId":"4000"}');
      assert.deepEqual([r.status, r.body], [200, "{}"], base);
    }
    // Ours keeps NOT_FOUND.
    await rejectsWith(api.getMessage({ channelId: 3n, messageId: 4000n }), Code.NotFound);
    // Bad input and a failing store are errors on the original's contract too.
    await rejectsWith(compat.getMessage({ channelId: 0n, messageId: 1n }), Code.InvalidArgument);
    store.failWith("getMessage", new ConnectError("no Cassandra host answered", Code.Unavailable));
    await rejectsWith(compat.getMessage({ channelId: 3n, messageId: 4000n }), Code.Unavailable);
    store.heal();
  } finally {
    close();
    await svc.close(1000);
  }
});

Deno.test("getAndResetMetrics returns counts since its previous call; GetStats never resets", async () => {
  const svc = await startMemoryInstance();
  const { transport, close } = grpc(svc.url);
  try {
    const api = createClient(MessagesService, transport);
    const compat = createClient(CompatService, transport);
    await compat.getAndResetMetrics({});
    await api.getMessages({ channelId: 5n });
    await api.getMessages({ channelId: 5n, limit: 3 });
    const w1 = await compat.getAndResetMetrics({});
    assert.equal(w1.totalRequests, 2n);
    assert.equal(w1.queriesExecuted, 2n);
    assert.equal((await compat.getAndResetMetrics({})).totalRequests, 0n);
    assert.equal((await api.getStats({})).requests, 2n, "GetStats keeps the cumulative count");
  } finally {
    close();
    await svc.close(1000);
  }
});

Deno.test("a client hanging up over HTTP/1.1 counts as canceled, not as an internal error", async () => {
  const store = new MemoryStore();
  const gate = store.hold("getMessage");
  const canceled = Promise.withResolvers<void>();
  const log = createLogger({}, {
    level: "debug",
    write: (line) => {
      if (line.includes('"rpc failed"') && line.includes('"code":"canceled"')) canceled.resolve();
    },
  });
  const svc = await startMemoryInstance({ store, log });
  try {
    const hangUp = new AbortController();
    const call = fetch(`${svc.url}/dataservices.v1.MessagesService/GetMessage`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"channelId":"1","messageId":"2"}',
      signal: hangUp.signal,
    });
    await withTimeout(gate.arrived(1), 5000, "the read to reach the store");
    hangUp.abort();
    await assert.rejects(call);
    await withTimeout(canceled.promise, 5000, "the server to record the hang-up");
    const text = (await svc.metrics.exposition()).body;
    assert.match(text, /grpc_method="GetMessage",grpc_code="Canceled"\} 1/);
    assert.doesNotMatch(text, /grpc_code="Internal"/);
    assert.equal(svc.coalescer.stats().waiters, 0);
  } finally {
    gate.open();
    await svc.close(100);
  }
});

Deno.test("a start that fails (unreadable TLS files) leaves no probe scheduled and closes the store", async () => {
  const config = parseConfig([
    "--port",
    "0",
    "--worker-id",
    "1",
    "--tls-cert",
    "/nonexistent/cert.pem",
    "--tls-key",
    "/nonexistent/key.pem",
  ], () => undefined);
  const store = new MemoryStore();
  const clock = FakeTimers.install({ toFake: ["setTimeout", "clearTimeout"] });
  try {
    await assert.rejects(
      startDataService(config, {
        store,
        log: createLogger({}, { level: "error", write: () => {} }),
        probeIntervalMs: 10,
      }),
      Deno.errors.NotFound,
    );
    // The probe loop was armed before the failure; a failed start must disarm it.
    assert.equal(clock.countTimers(), 0, "no timer left behind");
    await clock.runAllAsync();
    assert.equal(store.calls.ping, 0, "never probed");
    assert.equal(store.closes, 1, "the store is closed");
  } finally {
    clock.uninstall();
  }
});

Deno.test("no worker lease: CreateMessage is UNAVAILABLE and the instance not ready; then both recover", async () => {
  const leases = new MemoryLeaseStore();
  leases.failWith("scan", new ConnectError("no Cassandra host answered", Code.Unavailable));
  const svc = await startDataService(parseConfig(["--port", "0"], () => undefined), {
    store: new MemoryStore(),
    leaseStore: leases,
    log: createLogger({}, { level: "error", write: () => {} }),
  });
  const { transport, close } = grpc(svc.url);
  let workerId: number | undefined;
  try {
    const failed = Promise.withResolvers<void>();
    const off = svc.lease.onChange(() => leases.calls.scan > 0 && failed.resolve());
    await withTimeout(failed.promise, 5000, "the first lease attempt");
    off();
    const api = createClient(MessagesService, transport);
    await rejectsWith(
      api.createMessage({ channelId: 1n, authorId: 1n, content: "hi" }),
      Code.Unavailable,
    );
    assert.equal(svc.readiness.ready, false);
    assert.match(svc.readiness.reason, /lease store failed: no Cassandra host answered/);
    const r = await fetch(`${svc.url}/readyz`);
    assert.equal(r.status, 503);
    assert.match((await r.json()).reason, /lease/);

    leases.heal();
    const ready = Promise.withResolvers<void>();
    const off2 = svc.readiness.onChange(() => svc.readiness.ready && ready.resolve());
    await withTimeout(ready.promise, 5000, "readiness once a lease is taken");
    off2();
    workerId = svc.lease.workerId;
    const { message } = await api.createMessage({ channelId: 1n, authorId: 1n, content: "hi" });
    assert.equal(Number((message!.messageId >> 12n) & 1023n), svc.lease.workerId);
    assert.equal(
      (await api.getStats({})).instance,
      `${new URL(svc.url).host}#${svc.lease.workerId}`,
    );
  } finally {
    close();
    await svc.close(100);
  }
  assert.ok(workerId !== undefined);
  assert.equal(leases.row(workerId).holder, undefined, "released on close");
});

Deno.test("a drain delay: not ready at once, still serving until the delay ends, then closed", async () => {
  const s = await startMemoryInstance();
  const get = () =>
    fetch(`${s.url}/dataservices.v1.MessagesService/GetStats`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
  const closed = s.close(0, 300);
  const ready = await fetch(`${s.url}/readyz`);
  await ready.body?.cancel();
  assert.equal(ready.status, 503, "not ready as soon as the drain starts");
  const during = await get();
  await during.body?.cancel();
  assert.equal(during.status, 200, "still serving during the delay");
  await withTimeout(closed, 5000, "the instance to close after its drain delay");
  await assert.rejects(get(), TypeError, "nothing listens after the close");
});
