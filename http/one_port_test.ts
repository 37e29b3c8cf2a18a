import assert from "node:assert/strict";
import * as http from "node:http";
import * as http2 from "node:http2";
import * as https from "node:https";
import { Code, ConnectError, type ConnectRouter, cors, createClient } from "@connectrpc/connect";
import {
  connectNodeAdapter,
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
  Http2SessionManager,
} from "@connectrpc/connect-node";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  Health,
  HealthCheckRequestSchema,
  HealthCheckResponse_ServingStatus,
  HealthCheckResponseSchema,
} from "../gen/grpc/health/v1/health_pb.ts";
import { ConformanceService } from "../gen/connectrpc/conformance/v1/service_pb.ts";
import { selfSigned } from "./_tls_fixture.ts";
import {
  type NodeHandler,
  type OnePortServer,
  type OnePortServerOptions,
  serveOnePort,
} from "./one_port.ts";

const SERVING = HealthCheckResponse_ServingStatus.SERVING;

/** Controls Health.Check for service "slow": `entered` resolves when it starts, `release` ends it. */
class Gate {
  entered = Promise.withResolvers<void>();
  release = Promise.withResolvers<void>();
  count = 0;
}

interface Fixture {
  server: OnePortServer;
  gate: Gate;
  shutdown: AbortController;
}

async function start(
  opts: Pick<OnePortServerOptions, "limits" | "tls" | "http2Shutdown"> = {},
): Promise<Fixture> {
  const gate = new Gate();
  const shutdown = new AbortController();
  const routes = (router: ConnectRouter) =>
    router.service(Health, {
      async check(req, ctx) {
        if (req.service === "slow") {
          gate.count++;
          gate.entered.resolve();
          await gate.release.promise;
        } else if (req.service === "stuck") {
          gate.entered.resolve();
          // Ends only when the server's shutdown signal aborts the call.
          await new Promise<void>((_, reject) => {
            ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason), { once: true });
          });
        } else if (req.service === "unknown") {
          throw new ConnectError("no such service", Code.NotFound);
        }
        return { status: SERVING };
      },
    });
  const adapter = connectNodeAdapter({
    routes,
    shutdownSignal: shutdown.signal,
    fallback(req, res) {
      if (req.url === "/healthz") {
        res.writeHead(200, { "content-type": "text/plain" });
        res.end(`ok ${req.httpVersion}`);
        return;
      }
      res.writeHead(404);
      res.end();
    },
  });
  // CORS applied by the caller around the adapter, like an application would.
  const handler: NodeHandler = (req, res) => {
    res.setHeader("access-control-allow-origin", "*");
    if (req.method === "OPTIONS") {
      (res as http.ServerResponse).writeHead(204, {
        "access-control-allow-methods": cors.allowedMethods.join(", "),
        "access-control-allow-headers": cors.allowedHeaders.join(", "),
        "access-control-max-age": "7200",
      });
      res.end();
      return;
    }
    res.setHeader("access-control-expose-headers", cors.exposedHeaders.join(", "));
    adapter(req, res);
  };
  const server = await serveOnePort({
    hostname: "127.0.0.1",
    port: 0,
    handler,
    shutdownController: shutdown,
    ...opts,
  });
  return { server, gate, shutdown };
}

/** Polls `condition` every 10 ms, failing after `ms`. */
async function until(condition: () => boolean, ms = 5000): Promise<void> {
  for (const end = Date.now() + ms; !condition();) {
    if (Date.now() > end) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Sends raw bytes on a new TCP connection, returns everything read until the server closes. */
async function raw(port: number, ...writes: (string | Uint8Array)[]): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    for (const w of writes) {
      await conn.write(typeof w === "string" ? new TextEncoder().encode(w) : w);
    }
    const chunks: Uint8Array[] = [];
    const buf = new Uint8Array(16 * 1024);
    while (true) {
      let n: number | null;
      try {
        n = await conn.read(buf);
      } catch (err) {
        if (err instanceof Deno.errors.ConnectionReset) break;
        throw err;
      }
      if (n === null) break;
      chunks.push(buf.slice(0, n));
    }
    return new TextDecoder("latin1").decode(concat(chunks));
  } finally {
    conn.close();
  }
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let i = 0;
  for (const c of chunks) {
    out.set(c, i);
    i += c.length;
  }
  return out;
}

/** One HTTP/2 (h2c) request with node:http2; returns status, headers and body. */
function h2Request(
  url: string,
  headers: http2.OutgoingHttpHeaders,
): Promise<{ status: number; headers: http2.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(url);
    session.on("error", reject);
    const stream = session.request(headers);
    stream.on("error", reject);
    let responseHeaders: http2.IncomingHttpHeaders = {};
    let body = "";
    stream.on("response", (h) => (responseHeaders = h));
    stream.setEncoding("utf8");
    stream.on("data", (d: string) => (body += d));
    stream.on("end", () => {
      session.close(() =>
        resolve({ status: Number(responseHeaders[":status"]), headers: responseHeaders, body })
      );
    });
    stream.end();
  });
}

/**
 * Health.Check as a hand-made gRPC request with node:http2, reading the
 * response as it arrives. (connect-node's client under Deno 2.9.6 fails calls
 * in flight when the server sends GOAWAY: Deno destroys a client stream whose
 * data was not read yet once the session winds down — "Premature close".
 * Node's client and buf curl get the full response, so the "goaway" test uses
 * this client for HTTP/2.)
 */
async function rawGrpcCheck(
  url: string,
  service: string,
): Promise<{ grpcStatus: number; status?: HealthCheckResponse_ServingStatus }> {
  const session = http2.connect(url);
  session.on("error", () => {});
  const closed = new Promise((resolve) => session.once("close", resolve));
  try {
    const message = toBinary(
      HealthCheckRequestSchema,
      create(HealthCheckRequestSchema, { service }),
    );
    const frame = new Uint8Array(5 + message.length);
    new DataView(frame.buffer).setUint32(1, message.length);
    frame.set(message, 5);
    const stream = session.request({
      ":method": "POST",
      ":path": "/grpc.health.v1.Health/Check",
      "content-type": "application/grpc",
      te: "trailers",
    });
    let grpcStatus: string | undefined;
    const chunks: Uint8Array[] = [];
    stream.on("response", (h) => (grpcStatus ??= h["grpc-status"] as string | undefined));
    stream.on("trailers", (t) => (grpcStatus ??= t["grpc-status"] as string | undefined));
    stream.on("data", (chunk: Uint8Array) => chunks.push(chunk));
    await new Promise<void>((resolve, reject) => {
      stream.on("end", resolve);
      stream.on("error", reject);
      stream.end(frame);
    });
    const body = concat(chunks);
    return {
      grpcStatus: Number(grpcStatus),
      status: body.length >= 5
        ? fromBinary(HealthCheckResponseSchema, body.subarray(5)).status
        : undefined,
    };
  } finally {
    session.close();
    await closed;
  }
}

async function curl(...args: string[]): Promise<string> {
  const out = await new Deno.Command("curl", { args: ["-sS", ...args], stderr: "piped" }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout);
}

const hasCurl = (() => {
  try {
    return new Deno.Command("curl", { args: ["--version"], stdout: "null" }).outputSync().success;
  } catch {
    return false;
  }
})();

Deno.test("gRPC (h2c), gRPC-web and Connect JSON/binary over HTTP/1.1 and HTTP/2", async () => {
  const { server } = await start();
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const sessions = new Http2SessionManager(server.url);
  try {
    const h1 = { httpVersion: "1.1", nodeOptions: { agent } } as const;
    const h2 = { httpVersion: "2", sessionManager: sessions } as const;
    const transports = {
      "gRPC h2c": createGrpcTransport({ baseUrl: server.url, sessionManager: sessions }),
      "gRPC-web HTTP/1.1": createGrpcWebTransport({ baseUrl: server.url, ...h1 }),
      "gRPC-web HTTP/2": createGrpcWebTransport({ baseUrl: server.url, ...h2 }),
      "Connect JSON HTTP/1.1": createConnectTransport({ baseUrl: server.url, ...h1 }),
      "Connect binary HTTP/1.1": createConnectTransport({
        baseUrl: server.url,
        useBinaryFormat: true,
        ...h1,
      }),
      "Connect JSON HTTP/2": createConnectTransport({ baseUrl: server.url, ...h2 }),
      "Connect binary HTTP/2": createConnectTransport({
        baseUrl: server.url,
        useBinaryFormat: true,
        ...h2,
      }),
      "Connect GET HTTP/1.1": createConnectTransport({
        baseUrl: server.url,
        useHttpGet: true,
        ...h1,
      }),
    };
    for (const [name, transport] of Object.entries(transports)) {
      const client = createClient(Health, transport);
      const res = await client.check({ service: "" });
      assert.equal(res.status, SERVING, name);
      // Errors travel as well (trailers for gRPC, JSON body for Connect).
      await assert.rejects(
        client.check({ service: "unknown" }),
        (err: unknown) => ConnectError.from(err).code === Code.NotFound,
        name,
      );
    }
    // One HTTP/2 session carried all HTTP/2 calls, one HTTP/1.1 connection all the others.
    const stats = server.stats();
    assert.equal(stats.accepted, 2);
    assert.equal(stats.http2, 1);
    assert.equal(stats.http1, 1);
  } finally {
    sessions.abort();
    agent.destroy();
    await server.close();
  }
});

Deno.test("HTTP/1.1 keep-alive: sequential connect-node calls share one connection", async () => {
  const { server } = await start();
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const options = { baseUrl: server.url, httpVersion: "1.1", nodeOptions: { agent } } as const;
    for (
      const transport of [
        createConnectTransport(options),
        createConnectTransport({ ...options, useBinaryFormat: true }),
        createGrpcWebTransport(options),
      ]
    ) {
      const client = createClient(Health, transport);
      for (let i = 0; i < 5; i++) {
        assert.equal((await client.check({})).status, SERVING);
      }
    }
    assert.equal(server.stats().accepted, 1);
    assert.equal(server.stats().open, 1);
  } finally {
    agent.destroy();
    await server.close();
  }
});

Deno.test("HTTP/1.1 keep-alive: fetch reuses one connection for RPCs and plain routes", async () => {
  const { server } = await start();
  const client = Deno.createHttpClient({ http1: true, http2: false });
  try {
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${server.url}/healthz`, { client });
      assert.equal(res.status, 200);
      assert.equal(await res.text(), "ok 1.1");
      const rpc = await fetch(`${server.url}/grpc.health.v1.Health/Check`, {
        client,
        method: "POST",
        headers: { "content-type": "application/json", "connect-protocol-version": "1" },
        body: "{}",
      });
      assert.equal(rpc.status, 200);
      assert.deepEqual(await rpc.json(), { status: "SERVING" });
    }
    const notFound = await fetch(`${server.url}/nope`, { client });
    await notFound.body?.cancel();
    assert.equal(notFound.status, 404);
    assert.equal(server.stats().accepted, 1);
  } finally {
    client.close();
    await server.close();
  }
});

Deno.test({
  name: "curl: --next reuses the HTTP/1.1 connection; h2 prior knowledge works",
  ignore: !hasCurl,
  async fn() {
    const { server } = await start();
    try {
      const out = await curl(
        `${server.url}/healthz`,
        "--next",
        "-H",
        "content-type: application/json",
        "-d",
        "{}",
        `${server.url}/grpc.health.v1.Health/Check`,
        "--next",
        "-w",
        "\nconnects=%{num_connects}",
        `${server.url}/healthz`,
      );
      assert.equal(out, 'ok 1.1{"status":"SERVING"}ok 1.1\nconnects=0');
      assert.equal(server.stats().accepted, 1);
      const h2 = await curl("--http2-prior-knowledge", `${server.url}/healthz`);
      assert.equal(h2, "ok 2.0");
      assert.equal(server.stats().accepted, 2);
    } finally {
      await server.close();
    }
  },
});

Deno.test("CORS preflight (OPTIONS) reaches the handler over HTTP/1.1 and HTTP/2", async () => {
  const { server } = await start();
  const client = Deno.createHttpClient({ http1: true, http2: false });
  try {
    const preflight = {
      origin: "https://app.example",
      "access-control-request-method": "POST",
      "access-control-request-headers": "content-type,connect-protocol-version",
    };
    const h1 = await fetch(`${server.url}/grpc.health.v1.Health/Check`, {
      client,
      method: "OPTIONS",
      headers: preflight,
    });
    await h1.body?.cancel();
    assert.equal(h1.status, 204);
    assert.match(h1.headers.get("access-control-allow-methods") ?? "", /POST/);
    assert.equal(h1.headers.get("access-control-allow-origin"), "*");

    const h2 = await h2Request(server.url, {
      ":method": "OPTIONS",
      ":path": "/grpc.health.v1.Health/Check",
      ...preflight,
    });
    assert.equal(h2.status, 204);
    assert.match(String(h2.headers["access-control-allow-methods"]), /POST/);

    const h2Plain = await h2Request(server.url, { ":method": "GET", ":path": "/healthz" });
    assert.equal(h2Plain.status, 200);
    assert.equal(h2Plain.body, "ok 2.0");
  } finally {
    client.close();
    await server.close();
  }
});

Deno.test('close() ("goaway") waits for in-flight HTTP/1.1 and HTTP/2 requests, then closes all', async () => {
  const { server, gate } = await start({ http2Shutdown: "goaway" });
  const agent = new http.Agent({ keepAlive: true });
  const idle = new http.Agent({ keepAlive: true });
  try {
    const h1 = createClient(
      Health,
      createConnectTransport({ baseUrl: server.url, httpVersion: "1.1", nodeOptions: { agent } }),
    );
    // An idle keep-alive connection, to be closed at once by close().
    const idleClient = createClient(
      Health,
      createConnectTransport({
        baseUrl: server.url,
        httpVersion: "1.1",
        nodeOptions: { agent: idle },
      }),
    );
    assert.equal((await idleClient.check({})).status, SERVING);

    const slowH1 = h1.check({ service: "slow" });
    const slowH2 = rawGrpcCheck(server.url, "slow");
    await gate.entered.promise;
    while (gate.count < 2) {
      // Until both requests are inside the handler (no timers involved).
      await new Promise((r) => setImmediate(r));
    }
    assert.equal(server.stats().inFlight, 2);

    let closed = false;
    const closing = server.close({ graceMs: 30_000 }).then(() => (closed = true));

    // New connections are refused while the old ones drain.
    await assert.rejects(Deno.connect({ hostname: "127.0.0.1", port: server.port }));
    // The idle keep-alive connection goes at once; the two busy ones stay.
    while (server.stats().http1 > 1) await new Promise((r) => setImmediate(r));
    assert.equal(server.stats().open, 2);
    assert.equal(closed, false);

    gate.release.resolve();
    assert.equal((await slowH1).status, SERVING);
    assert.deepEqual(await slowH2, { grpcStatus: 0, status: SERVING });
    await closing;
    assert.equal(closed, true);
    assert.deepEqual(server.stats(), {
      accepted: 3,
      open: 0,
      sniffing: 0,
      http1: 0,
      http2: 0,
      inFlight: 0,
    });
  } finally {
    gate.release.resolve();
    agent.destroy();
    idle.destroy();
    await server.close();
  }
});

Deno.test('close() ("finish-first", default): connect-node HTTP/2 calls in flight succeed', async () => {
  const { server, gate } = await start();
  const sessions = new Http2SessionManager(server.url);
  try {
    const grpc = createClient(
      Health,
      createGrpcTransport({ baseUrl: server.url, sessionManager: sessions }),
    );
    const connect = createClient(
      Health,
      createConnectTransport({ baseUrl: server.url, httpVersion: "2", sessionManager: sessions }),
    );
    const slow = [grpc.check({ service: "slow" }), connect.check({ service: "slow" })];
    while (gate.count < 2) await new Promise((r) => setImmediate(r));

    let closed = false;
    const closing = server.close({ graceMs: 30_000 }).then(() => (closed = true));
    // No GOAWAY while busy: the session still serves new calls.
    assert.equal((await grpc.check({})).status, SERVING);
    assert.equal((await connect.check({})).status, SERVING);
    assert.equal(closed, false);

    gate.release.resolve();
    for (const call of slow) assert.equal((await call).status, SERVING);
    await closing;
    assert.equal(server.stats().open, 0);
    assert.equal(server.stats().accepted, 1);
  } finally {
    gate.release.resolve();
    sessions.abort();
    await server.close();
  }
});

Deno.test("close() after the grace period aborts handlers (unavailable), then destroys", async () => {
  const { server, gate, shutdown } = await start();
  const agent = new http.Agent({ keepAlive: true });
  try {
    const h1 = createClient(
      Health,
      createConnectTransport({ baseUrl: server.url, httpVersion: "1.1", nodeOptions: { agent } }),
    );
    // Settle at once so no rejection is left unhandled while close() runs.
    const stuckH1 = h1.check({ service: "stuck" }).then(() => undefined, (e) => e);
    const stuckH2 = rawGrpcCheck(server.url, "stuck");
    await gate.entered.promise;
    while (server.stats().inFlight < 2) await new Promise((r) => setImmediate(r));

    await server.close({ graceMs: 50 });
    assert.equal(shutdown.signal.aborted, true);
    assert.equal(ConnectError.from(await stuckH1).code, Code.Unavailable);
    assert.deepEqual(await stuckH2, { grpcStatus: Code.Unavailable, status: undefined });
    assert.equal(server.stats().open, 0);
  } finally {
    agent.destroy();
    await server.close();
  }
});

Deno.test("bad clients are answered or dropped without hurting the server", async () => {
  const { server } = await start({ limits: { firstBytesTimeoutMs: 200, maxHeaderBytes: 4096 } });
  try {
    // Garbage first packet: the HTTP/1 parser answers 400 and closes.
    assert.match(await raw(server.port, "\x00\x01\x02 garbage\r\n\r\n"), /^HTTP\/1\.1 400 /);
    // Closed before sending anything, or after a lone "P" (could have been POST or PRI).
    assert.equal(await raw(server.port), "");
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    await conn.write(new TextEncoder().encode("P"));
    conn.close();
    // Silent after "PR" (PRI? PROPFIND?): dropped after firstBytesTimeoutMs.
    assert.equal(await raw(server.port, "PR"), "");
    // Not quite the HTTP/2 preface: the HTTP/1 parser rejects it.
    assert.match(await raw(server.port, "PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n"), /^HTTP\/1\.1 400 /);
    // The preface, then a garbage frame: the HTTP/2 session answers GOAWAY and closes.
    const goaway = await raw(
      server.port,
      "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
      new Uint8Array([0, 0, 8, 0xff, 0xff, 0, 0, 0, 9, 1, 2, 3, 4, 5, 6, 7, 8]),
    );
    assert.ok(goaway.includes("\x07\x00\x00\x00\x00\x00"), "a GOAWAY frame (type 7) on stream 0");
    // Headers over maxHeaderBytes: 431.
    assert.match(
      await raw(
        server.port,
        `GET /healthz HTTP/1.1\r\nhost: x\r\nx-big: ${"a".repeat(8192)}\r\n\r\n`,
      ),
      /^HTTP\/1\.1 431 /,
    );
    const bigH2 = await h2Request(server.url, {
      ":method": "GET",
      ":path": "/healthz",
      "x-big": "a".repeat(8192),
    });
    assert.equal(bigH2.status, 431);
    // A client that resets mid-request.
    const reset = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    await reset.write(
      new TextEncoder().encode(
        "POST /grpc.health.v1.Health/Check HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{",
      ),
    );
    reset.close();

    // Still serving.
    const res = await raw(
      server.port,
      "GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    );
    assert.match(res, /^HTTP\/1\.1 200 [^]*ok 1\.1\r\n0\r\n\r\n$/);
  } finally {
    await server.close();
  }
  assert.equal(server.stats().open, 0);
});

Deno.test("idle limits: keep-alive, slow headers and idle HTTP/2 sessions are closed", async () => {
  const { server } = await start({
    limits: { keepAliveTimeoutMs: 100, headersTimeoutMs: 200, http2IdleTimeoutMs: 200 },
  });
  try {
    // Keep-alive: the server closes the connection itself after the response.
    const kept = await raw(server.port, "GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n");
    assert.match(kept, /^HTTP\/1\.1 200 [^]*keep-alive[^]*ok 1\.1\r\n0\r\n\r\n$/i);
    // Slow headers (slowloris): 408 and closed.
    assert.match(
      await raw(server.port, "GET /healthz HTTP/1.1\r\nhost: x\r\n"),
      /^HTTP\/1\.1 408 /,
    );
    // An idle HTTP/2 session gets a GOAWAY and the connection closes.
    const session = http2.connect(server.url);
    session.on("error", () => {});
    await new Promise<void>((resolve) => session.once("close", () => resolve()));
    await until(() => server.stats().http2 === 0);
  } finally {
    await server.close();
  }
});

/** POST a Connect JSON Health.Check with node:https (keep-alive agent). */
function httpsCheck(url: string, agent: https.Agent): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = https.request(`${url}/grpc.health.v1.Health/Check`, {
      method: "POST",
      agent,
      headers: { "content-type": "application/json", "connect-protocol-version": "1" },
    }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (body += d));
      res.on("end", () => resolve(`${res.statusCode} ${res.httpVersion} ${body}`));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end("{}");
  });
}

Deno.test("TLS: HTTP/2 and HTTP/1.1 by ALPN on one port", async (t) => {
  const tls = await selfSigned();
  if (!tls) {
    await t.step({ name: "openssl not available", ignore: true, fn() {} });
    return;
  }
  const { server } = await start({ tls });
  // connect-node's HTTP/1.1 client fails over TLS under Deno 2.9.6 ("write
  // EPERM" from the client's TLSSocket); node:https and curl work, so
  // HTTP/1.1 is checked with node:https here.
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: tls.cert });
  const sessions = new Http2SessionManager(server.url, {}, { ca: tls.cert });
  try {
    assert.match(server.url, /^https:/);
    const grpc = createClient(
      Health,
      createGrpcTransport({ baseUrl: server.url, sessionManager: sessions }),
    );
    const web = createClient(
      Health,
      createGrpcWebTransport({ baseUrl: server.url, httpVersion: "2", sessionManager: sessions }),
    );
    for (let i = 0; i < 3; i++) {
      assert.equal((await grpc.check({})).status, SERVING);
      assert.equal((await web.check({})).status, SERVING);
      assert.equal(await httpsCheck(server.url, agent), '200 1.1 {"status":"SERVING"}');
    }
    assert.deepEqual(
      { ...server.stats(), inFlight: 0 },
      { accepted: 2, open: 2, sniffing: 0, http1: 1, http2: 1, inFlight: 0 },
    );
  } finally {
    sessions.abort();
    agent.destroy();
    await server.close();
  }
  assert.equal(server.stats().open, 0);
});

/**
 * A server whose ConformanceService (a generic test service) accepts
 * messages up to 1 KiB: larger ones are refused early, from their length.
 */
async function startLimited(limits?: OnePortServerOptions["limits"]): Promise<OnePortServer> {
  const routes = (router: ConnectRouter) =>
    router.service(ConformanceService, {
      unary: () => ({}),
      async clientStream(requests) {
        for await (const _ of requests) { /* read all */ }
        return {};
      },
    });
  return await serveOnePort({
    hostname: "127.0.0.1",
    port: 0,
    handler: connectNodeAdapter({ routes, readMaxBytes: 1024 }),
    limits,
  });
}

/** Resolves with the first `n` HTTP/1.1 status lines read from `conn`; rejects after `ms`. */
async function statusLines(conn: Deno.Conn, n: number, ms: number): Promise<string[]> {
  const lines: string[] = [];
  const buf = new Uint8Array(64 * 1024);
  const decoder = new TextDecoder("latin1");
  let timedOut = false;
  const deadline = setTimeout(() => {
    timedOut = true;
    conn.close();
  }, ms);
  try {
    while (lines.length < n) {
      const read = await conn.read(buf).catch(() => null);
      if (read === null) {
        const end = timedOut ? `nothing more within ${ms} ms` : "the server closed";
        throw new Error(`got ${JSON.stringify(lines)}, then ${end}`);
      }
      lines.push(...decoder.decode(buf.subarray(0, read)).match(/HTTP\/1\.1 \d+ [^\r]*/g) ?? []);
    }
    return lines;
  } finally {
    clearTimeout(deadline);
  }
}

const UNARY = "/connectrpc.conformance.v1.ConformanceService/Unary";
const CLIENT_STREAM = "/connectrpc.conformance.v1.ConformanceService/ClientStream";

/** A gRPC call of ClientStream on `session`, its body left to the test. */
function grpcClientStream(session: http2.ClientHttp2Session): http2.ClientHttp2Stream {
  return session.request({
    ":method": "POST",
    ":path": CLIENT_STREAM,
    "content-type": "application/grpc",
    te: "trailers",
  });
}
const OVERSIZED = 200 * 1024;

for (const kind of ["unary, Content-Length", "client stream, chunked"] as const) {
  Deno.test(`HTTP/1.1: an early answer to an oversized request (${kind}) keeps the connection usable`, async () => {
    const server = await startLimited();
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    try {
      const answers = statusLines(conn, 2, 5000);
      const enc = new TextEncoder();
      if (kind === "unary, Content-Length") {
        // Connect unary: refused from Content-Length, the body never read.
        await conn.write(enc.encode(
          `POST ${UNARY} HTTP/1.1\r\nHost: t\r\nContent-Type: application/proto\r\n` +
            `Content-Length: ${OVERSIZED}\r\n\r\n`,
        ));
        await conn.write(new Uint8Array(OVERSIZED));
      } else {
        // gRPC-web client stream: refused from the envelope length, after
        // connect-node started reading (it then destroys the request).
        const chunk = (data: Uint8Array) =>
          concat([enc.encode(`${data.length.toString(16)}\r\n`), data, enc.encode("\r\n")]);
        await conn.write(enc.encode(
          `POST ${CLIENT_STREAM} HTTP/1.1\r\nHost: t\r\nContent-Type: application/grpc-web+proto\r\n` +
            `Transfer-Encoding: chunked\r\n\r\n`,
        ));
        const prefix = new Uint8Array(5);
        new DataView(prefix.buffer).setUint32(1, OVERSIZED);
        await conn.write(chunk(prefix));
        for (let sent = 0; sent < OVERSIZED; sent += 16 * 1024) {
          await conn.write(chunk(new Uint8Array(16 * 1024)));
        }
        await conn.write(enc.encode("0\r\n\r\n"));
      }
      // The next request on the same connection: an empty Connect unary call.
      await conn.write(enc.encode(
        `POST ${UNARY} HTTP/1.1\r\nHost: t\r\nContent-Type: application/proto\r\nContent-Length: 0\r\n\r\n`,
      ));
      const [first, second] = await answers;
      assert.match(first, kind === "unary, Content-Length" ? / 429 / : / 200 /);
      assert.equal(second, "HTTP/1.1 200 OK");
    } finally {
      conn.close();
      await server.close({ graceMs: 100 });
    }
  });
}

Deno.test("HTTP/1.1: past drainBytes of unread body, the connection closes after the answer", async () => {
  const server = await startLimited({ drainBytes: 4096 });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  try {
    const answers = statusLines(conn, 2, 5000);
    await conn.write(new TextEncoder().encode(
      `POST ${UNARY} HTTP/1.1\r\nHost: t\r\nContent-Type: application/proto\r\n` +
        `Content-Length: ${OVERSIZED}\r\n\r\n`,
    ));
    await conn.write(new Uint8Array(OVERSIZED)).catch(() => {});
    await assert.rejects(
      answers,
      /got \["HTTP\/1\.1 429 Too Many Requests"\], then the server closed/,
    );
  } finally {
    conn.close();
    await server.close({ graceMs: 100 });
  }
});

Deno.test("HTTP/2: an early answer to a request still being sent ends the stream (RST_STREAM NO_ERROR)", async () => {
  const server = await startLimited();
  const session = http2.connect(server.url);
  try {
    // gRPC client stream whose first message is over the limit; the client
    // sends 60 KB of it (about the flow-control window) and waits.
    const stream = grpcClientStream(session);
    const trailers = new Promise<http2.IncomingHttpHeaders>((r) => stream.once("trailers", r));
    const closed = new Promise<number>((r) => stream.once("close", () => r(stream.rstCode ?? -1)));
    stream.on("error", () => {});
    stream.resume();
    const prefix = new Uint8Array(5);
    new DataView(prefix.buffer).setUint32(1, OVERSIZED);
    stream.write(prefix);
    stream.write(new Uint8Array(60_000));
    const timeout = new Promise<never>((_, reject) => {
      const t = setTimeout(() => reject(new Error("stream not ended within 5 s")), 5000);
      closed.finally(() => clearTimeout(t));
    });
    const code = await Promise.race([closed, timeout]);
    assert.equal((await trailers)["grpc-status"], String(Code.ResourceExhausted));
    assert.equal(code, http2.constants.NGHTTP2_NO_ERROR);
    assert.equal(server.stats().inFlight, 0);
  } finally {
    session.destroy();
    await server.close({ graceMs: 100 });
  }
});

Deno.test("HTTP/2: a stream the client resets mid-request (RST_STREAM INTERNAL_ERROR) is let go and counted out (bug: uncaught ERR_HTTP2_STREAM_ERROR ended the process)", async () => {
  // A fast path that takes the stream and reads it, adding no "error" listener of its own.
  const server = await serveOnePort({
    hostname: "127.0.0.1",
    port: 0,
    handler: connectNodeAdapter({ routes: (r) => r.service(ConformanceService, {}) }),
    fastStream: (stream, headers) => {
      if (headers[":path"] !== CLIENT_STREAM) return false;
      stream.resume();
      return true;
    },
  });
  const session = http2.connect(server.url);
  session.on("error", () => {});
  try {
    const stream = grpcClientStream(session);
    stream.on("error", () => {});
    const prefix = new Uint8Array(5);
    new DataView(prefix.buffer).setUint32(1, 1000);
    stream.write(prefix); // a message announced, never sent: the handler waits for it
    while (server.stats().inFlight < 1) await new Promise((r) => setTimeout(r, 5));
    stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
    const deadline = Date.now() + 5000;
    while (server.stats().inFlight > 0) {
      if (Date.now() > deadline) assert.fail("the reset stream still counted in flight after 5 s");
      await new Promise((r) => setTimeout(r, 5));
    }
    const unary = await fetch(new URL(UNARY, server.url), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    assert.equal(unary.status, 501, "the server still answers (unimplemented)");
    await unary.body?.cancel();
  } finally {
    session.destroy();
    await server.close({ graceMs: 100 });
  }
});

/** An HTTP/2 frame (9-byte header, then the payload). */
function h2Frame(type: number, flags: number, stream: number, payload: Uint8Array): Uint8Array {
  const f = new Uint8Array(9 + payload.length);
  new DataView(f.buffer).setUint32(0, payload.length << 8 | type);
  f[4] = flags;
  new DataView(f.buffer).setUint32(5, stream);
  f.set(payload, 9);
  return f;
}

Deno.test("HTTP/2: a client stopped inside a header block is cut after the idle timeout and an unanswered PING", async () => {
  const server = await startLimited({ http2IdleTimeoutMs: 200, http2PingTimeoutMs: 300 });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  try {
    const enc = new TextEncoder();
    // HPACK literal fields (no indexing, no Huffman); no END_HEADERS: a CONTINUATION must follow.
    const field = (
      n: string,
      v: string,
    ) => [0, n.length, ...enc.encode(n), v.length, ...enc.encode(v)];
    const block = new Uint8Array([...field(":method", "POST"), ...field(":path", UNARY)]);
    await conn.write(concat([
      enc.encode("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
      h2Frame(4, 0, 0, new Uint8Array(0)), // SETTINGS
      h2Frame(1, 0, 1, block), // HEADERS, stream 1, flags 0
    ]));
    // It can answer nothing now (a SETTINGS ack or PING ack would be a protocol error).
    const started = performance.now();
    const buf = new Uint8Array(4096);
    const deadline = setTimeout(() => conn.close(), 5000);
    let end = "closed by the server";
    try {
      while ((await conn.read(buf)) !== null) { /* SETTINGS, PING, GOAWAY */ }
    } catch {
      end = "still open after 5 s";
    }
    clearTimeout(deadline);
    assert.equal(end, "closed by the server");
    assert.ok(performance.now() - started < 5000);
  } finally {
    try {
      conn.close();
    } catch { /* closed */ }
    await server.close({ graceMs: 100 });
  }
});
