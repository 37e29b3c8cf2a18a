/**
 * What the gateway passes on, end to end: a test instance served by the
 * shared plumbing (http/serving.ts) echoes the headers, deadline and
 * cancellation it received and answers with response headers and trailers
 * of its own; callers reach the gateway's main port (gRPC over h2, Connect
 * over HTTP/1.1) and its fast listener, and the gateway reaches the instance
 * both ways (lean "fast" and connect-node gRPC).
 */
import assert from "node:assert/strict";
import {
  Code,
  ConnectError,
  createClient,
  type ServiceImpl,
  type Transport,
} from "@connectrpc/connect";
import { createConnectTransport as createWebConnectTransport } from "@connectrpc/connect-web";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { MessagesService } from "../gen/dataservices/v1/messages_pb.ts";
import { Health } from "../gen/grpc/health/v1/health_pb.ts";
import { healthService, Readiness } from "../http/health.ts";
import { plainRoutes } from "../http/routes.ts";
import { serve, type Serving } from "../http/serving.ts";
import { createLogger } from "../lib/log.ts";
import { withTimeout } from "../lib/wait.ts";
import { forwardedRequestHeaders, forwardsRequestHeader, undoubled } from "./forward.ts";
import { startGateway } from "./gateway.ts";
import type { UpstreamProtocol } from "./upstream.ts";

Deno.test("forwardsRequestHeader: trace context, authorization and x-*, nothing else", () => {
  for (
    const h of ["traceparent", "tracestate", "baggage", "authorization", "x-tenant", "x-a-bin"]
  ) {
    assert.equal(forwardsRequestHeader(h), true, h);
  }
  for (
    const h of [
      "content-type",
      "grpc-timeout",
      "connect-timeout-ms",
      "user-agent",
      "host",
      "cookie",
      "te",
      "x-grpc-web",
      "x-user-agent",
    ]
  ) {
    assert.equal(forwardsRequestHeader(h), false, h);
  }
  assert.equal(forwardedRequestHeaders(new Headers({ "content-type": "a/b" })), undefined);
  assert.deepEqual(
    [...forwardedRequestHeaders(new Headers({ "x-a": "1", cookie: "c" }))!],
    [["x-a", "1"]],
  );
});

Deno.test("undoubled: repeats of one value collapse, other lists stay", () => {
  assert.equal(undoubled("3, 3"), "3");
  assert.equal(undoubled("3, 3, 3, 3"), "3");
  assert.equal(undoubled("3"), "3");
  assert.equal(undoubled("3, 4"), "3, 4");
  const date = "Wed, 21 Oct 2015 07:28:00 GMT";
  assert.equal(undoubled(date), date);
  assert.equal(undoubled(`${date}, ${date}`), date);
});

const ECHO = 1n; // getMessage: echoes what it received
const THROTTLED = 13n; // getMessages: RESOURCE_EXHAUSTED with metadata
const HANGS = 14n; // getMessages: waits for the caller to go away

/** A test instance: see the module doc. */
async function startEcho() {
  const entered = Promise.withResolvers<void>();
  const aborted = Promise.withResolvers<unknown>();
  const readiness = new Readiness();
  readiness.setStore(true);
  const impl: Partial<ServiceImpl<typeof MessagesService>> = {
    getMessage(req, ctx) {
      ctx.responseHeader.set("retry-after", "7");
      ctx.responseHeader.set("x-instance-secret", "1");
      ctx.responseTrailer.set("grpc-retry-pushback-ms", "250");
      ctx.responseTrailer.set("x-trailer-secret", "1");
      const content = JSON.stringify({
        headers: Object.fromEntries(ctx.requestHeader),
        timeoutMs: ctx.timeoutMs() ?? null,
      });
      return { message: { channelId: req.channelId, messageId: 1n, content } };
    },
    async getMessages(req, ctx) {
      if (req.channelId === THROTTLED) {
        throw new ConnectError("slow down", Code.ResourceExhausted, {
          "retry-after": "3",
          "x-secret": "1",
        });
      }
      entered.resolve();
      const signal = ctx.signal;
      await new Promise<void>((resolve) => {
        if (signal.aborted) resolve();
        signal.addEventListener("abort", () => resolve(), { once: true });
      });
      aborted.resolve(signal.reason);
      throw signal.reason;
    },
  };
  let serving: Serving | undefined = undefined;
  serving = await serve({
    hostname: "127.0.0.1",
    port: 0,
    fastPort: 0,
    readMaxBytes: 65536,
    corsOrigins: [],
    observer: { start: () => 0, end: () => {} },
    plain: plainRoutes({
      health: () => ({ fastPort: serving?.fastPort }),
      ready: () => ({ ok: true, reason: "" }),
      metrics: () => Promise.resolve({ contentType: "text/plain", body: "" }),
    }),
    services: [
      { service: MessagesService, impl },
      { service: Health, impl: healthService(readiness, [MessagesService.typeName]) },
    ],
  });
  const s = serving;
  return { url: s.url, entered: entered.promise, aborted: aborted.promise, close: s.close };
}

/** The gateway's callers: gRPC (h2) and Connect (HTTP/1.1) to the main port, Connect to the fast listener. */
function callers(gw: { url: string; fastUrl: string | undefined }) {
  const sessions = new Http2SessionManager(gw.url);
  const list: [string, Transport][] = [
    ["grpc → main", createGrpcTransport({ baseUrl: gw.url, sessionManager: sessions })],
    ["connect/h1 → main", createWebConnectTransport({ baseUrl: gw.url })],
    ["connect → fast", createWebConnectTransport({ baseUrl: gw.fastUrl! })],
  ];
  return { list, close: () => sessions.abort() };
}

const quiet = createLogger({}, { level: "error", write: () => {} });

for (const protocol of ["fast", "grpc"] as UpstreamProtocol[]) {
  Deno.test(`forwarding (${protocol} to the instance): headers in, allowlist out, deadline, cancel`, async () => {
    const echo = await startEcho();
    const gw = await startGateway({
      port: 0,
      targets: [new URL(echo.url).host],
      protocol,
      log: quiet,
    });
    const { list, close } = callers(gw);
    try {
      for (const [name, transport] of list) {
        const api = createClient(MessagesService, transport);
        let header = new Headers();
        let trailer = new Headers();
        const res = await api.getMessage({ channelId: ECHO, messageId: 1n }, {
          timeoutMs: 5000,
          headers: {
            traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            tracestate: "congo=t61rcWkgMzE",
            authorization: "Bearer abc",
            "x-tenant": "acme",
            cookie: "session=1",
          },
          onHeader: (h) => header = h,
          onTrailer: (t) => trailer = t,
        });
        const seen = JSON.parse(res.message!.content) as {
          headers: Record<string, string>;
          timeoutMs: number | null;
        };
        assert.equal(
          seen.headers.traceparent,
          "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
          name,
        );
        assert.equal(seen.headers.tracestate, "congo=t61rcWkgMzE", name);
        assert.equal(seen.headers.authorization, "Bearer abc", name);
        assert.equal(seen.headers["x-tenant"], "acme", name);
        assert.equal(seen.headers.cookie, undefined, `${name}: cookie is not forwarded`);
        assert.ok(
          seen.timeoutMs !== null && seen.timeoutMs > 3000 && seen.timeoutMs <= 5000,
          `${name}: the instance saw the caller's deadline, got ${seen.timeoutMs}`,
        );
        assert.equal(header.get("retry-after"), "7", name);
        assert.equal(trailer.get("grpc-retry-pushback-ms"), "250", name);
        for (const h of [header, trailer]) {
          assert.equal(h.get("x-instance-secret"), null, `${name}: not in the allowlist`);
          assert.equal(h.get("x-trailer-secret"), null, `${name}: not in the allowlist`);
        }

        await assert.rejects(api.getMessages({ channelId: THROTTLED }), (e) => {
          assert.ok(e instanceof ConnectError, name);
          assert.equal(e.code, Code.ResourceExhausted, name);
          assert.equal(e.rawMessage, "slow down", name);
          // A gRPC caller sees "3, 3": connect-es's client doubles a trailers-only error's fields.
          assert.equal(undoubled(e.metadata.get("retry-after") ?? ""), "3", name);
          assert.ok(e.metadata.get("retry-after")!.length <= "3, 3".length, name);
          assert.equal(e.metadata.get("x-secret"), null, `${name}: error metadata is filtered`);
          return true;
        });
      }

      // The caller going away cancels the forwarded call.
      const caller = new AbortController();
      const hanging = createClient(MessagesService, list[0][1]).getMessages(
        { channelId: HANGS },
        { signal: caller.signal },
      );
      await withTimeout(echo.entered, 5000, "the hanging call to reach the instance");
      caller.abort();
      await assert.rejects(hanging, (e) => ConnectError.from(e).code === Code.Canceled);
      await withTimeout(echo.aborted, 5000, "the instance to see the call cancelled");
    } finally {
      close();
      await gw.close(500);
      await echo.close(500);
    }
  });
}
