/**
 * Trace context end to end, with Deno's own OpenTelemetry export
 * (`OTEL_DENO=true`) into an OTLP/HTTP JSON receiver in this process: a
 * `traceparent` sent by a caller becomes the parent of the instance's RPC
 * span, on both listeners and both serving paths, and the Cassandra query
 * the call caused is a child of that span.
 */
import assert from "node:assert/strict";
import { spawnInstance } from "../cli/child.ts";
import { withTimeout } from "../lib/wait.ts";
import { cassandraInfo } from "./_util.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

interface Span {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
}

/** An OTLP/HTTP JSON receiver: collects every span posted to /v1/traces. */
function otlpReceiver() {
  const spans: Span[] = [];
  let arrived: (() => void) | undefined;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    if (req.method === "POST" && new URL(req.url).pathname === "/v1/traces") {
      const body = await req.json() as {
        resourceSpans?: { scopeSpans?: { spans?: Span[] }[] }[];
      };
      for (const rs of body.resourceSpans ?? []) {
        for (const ss of rs.scopeSpans ?? []) spans.push(...(ss.spans ?? []));
      }
      arrived?.();
    } else {
      await req.body?.cancel();
    }
    return new Response("{}", { headers: { "content-type": "application/json" } });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    spans,
    /** Waits until a span matching `pred` arrived. */
    async waitFor(pred: (s: Span) => boolean, what: string): Promise<Span> {
      const found = () => spans.find(pred);
      await withTimeout(
        (async () => {
          while (!found()) await new Promise<void>((r) => arrived = r);
        })(),
        15_000,
        what,
      );
      return found()!;
    },
    close: () => server.shutdown(),
  };
}

const hex = (n: number) =>
  Array.from(crypto.getRandomValues(new Uint8Array(n)), (b) => b.toString(16).padStart(2, "0"))
    .join("");

Deno.test({
  name:
    "a caller's traceparent is the parent of the instance's RPC span; Cassandra spans are its children",
  ...opts,
  async fn() {
    const info = await cassandraInfo();
    const otlp = otlpReceiver();
    const instance = spawnInstance("traced", {
      host: "127.0.0.1",
      port: 0,
      workerId: 999,
      cassandra: info,
      env: {
        OTEL_DENO: "true",
        OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
        OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
        OTEL_SERVICE_NAME: "data-service-test",
        OTEL_BSP_SCHEDULE_DELAY: "100",
      },
    });
    try {
      const url = await instance.ready("/readyz", 30_000);
      const health = await (await fetch(`${url}/healthz`)).json() as { fastPort: number };
      const fastUrl = `http://127.0.0.1:${health.fastPort}`;
      // Both listeners, and a gzip-compressed request, which the fast path leaves to connect-es.
      const cases = [
        { base: url, label: "main port, fast path", gzip: false },
        { base: fastUrl, label: "fast listener", gzip: false },
        { base: url, label: "main port, connect-es path (gzip)", gzip: true },
      ];
      for (const c of cases) {
        const traceId = hex(16);
        const parent = hex(8);
        const json = JSON.stringify({ channelId: "1", messageId: "987654321" });
        const body = c.gzip
          ? new Uint8Array(
            await new Response(
              new Blob([json]).stream().pipeThrough(new CompressionStream("gzip")),
            ).arrayBuffer(),
          )
          : json;
        const res = await fetch(`${c.base}/dataservices.v1.MessagesService/GetMessage`, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            ...(c.gzip ? { "content-encoding": "gzip" } : {}),
            traceparent: `00-${traceId}-${parent}-01`,
          },
          body,
        });
        await res.body?.cancel();
        const rpc = await otlp.waitFor(
          (s) => s.traceId === traceId && s.name === "dataservices.v1.MessagesService/GetMessage",
          `the RPC span of trace ${traceId} (${c.label})`,
        );
        assert.equal(rpc.parentSpanId, parent, `${c.label}: the caller's span is the parent`);
        const query = await otlp.waitFor(
          (s) => s.traceId === traceId && s.name === "cassandra get_message",
          `the Cassandra span of trace ${traceId} (${c.label})`,
        );
        assert.equal(query.parentSpanId, rpc.spanId, `${c.label}: the query is a child of the RPC`);
      }
    } finally {
      await instance.stop(5000);
      await otlp.close();
    }
  },
});
