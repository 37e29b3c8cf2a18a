/**
 * The router's default transport factory in Deno: the lean Connect transport
 * (lean_transport.ts) over Deno's native `fetch`, to each instance's fast
 * listener (found through `/healthz`, discovery.ts), over a pool of HTTP/2
 * connections per instance (h2c for `http://`) that grows with the calls in
 * flight.
 *
 * Why a pool: the fast listener (Deno.serve, hyper) allows 200 concurrent
 * streams per HTTP/2 connection and calls past that wait in the client, so a
 * burst of 5,000 calls on one connection would reach the instance in 25
 * waves and coalesce far less. The pool opens another connection whenever
 * every open one has `streamsPerConnection` calls in flight, up to
 * `maxConnections`. Why not node:http2: Deno 2.9.6's node:http2 can abort
 * the whole process when a session gets a GOAWAY (denoland/deno#36788);
 * `fetch` is Deno's own HTTP client (hyper).
 *
 * @module
 */
import type { JsonReadOptions, JsonWriteOptions } from "@bufbuild/protobuf";
import * as http from "node:http";
import * as https from "node:https";
import {
  createConnectTransport as createNodeConnectTransport,
  Http2SessionManager,
} from "@connectrpc/connect-node";
import { type DiscoveryOptions, withFastListener } from "./discovery.ts";
import { createLeanConnectTransport } from "./lean_transport.ts";
import type { TransportFactory } from "./membership.ts";

/** Options of {@linkcode createFastTransportFactory}. */
export interface FastTransportFactoryOptions {
  /** Connections opened per instance at the start (default 1). */
  readonly connections?: number;
  /** Most connections per instance (default 64). */
  readonly maxConnections?: number;
  /**
   * Calls in flight on one connection before the pool opens another
   * (default 200: Deno.serve's SETTINGS_MAX_CONCURRENT_STREAMS).
   */
  readonly streamsPerConnection?: number;
  /** Protobuf binary (default) or JSON. */
  readonly useBinaryFormat?: boolean;
  /** Deadline of calls that set none (ms). */
  readonly defaultTimeoutMs?: number;
  readonly jsonOptions?: Partial<JsonReadOptions & JsonWriteOptions>;
  /** PEM CA certificates to trust for `https://` instances (besides the system's). */
  readonly caCerts?: string[];
  /** How instances are asked for their fast listener. */
  readonly discovery?: DiscoveryOptions;
  /** "2" (default; h2c prior knowledge for http://) or "1.1" (keep-alive HTTP/1.1). */
  readonly httpVersion?: "1.1" | "2";
  /** Ask instances for their fast listener (default true); false: call the given URL. */
  readonly discover?: boolean;
}

/**
 * A {@linkcode TransportFactory} of lean Connect transports over `fetch`;
 * closing a transport closes its HTTP clients.
 *
 * @example
 * ```ts
 * const router = createRoutingTransport({
 *   instances: ["127.0.0.1:50051", "127.0.0.1:50052"],
 *   createTransport: createFastTransportFactory({ connections: 4 }),
 * });
 * ```
 */
export function createFastTransportFactory(
  options: FastTransportFactoryOptions = {},
): TransportFactory {
  const initial = Math.max(1, options.connections ?? 1);
  const max = Math.max(initial, options.maxConnections ?? 64);
  const perConnection = Math.max(1, options.streamsPerConnection ?? 200);
  const direct: TransportFactory = (instance) => {
    const cleartext = instance.baseUrl.startsWith("http:");
    const h1 = options.httpVersion === "1.1";
    const open = () => ({
      client: Deno.createHttpClient({
        // Prior knowledge for cleartext (the fast listener speaks h2c, not Upgrade).
        http1: h1 || !cleartext,
        http2: !h1,
        caCerts: options.caCerts,
      }),
      inFlight: 0,
    });
    const pool = Array.from({ length: initial }, open);
    let next = 0;
    /** Round robin over connections with room; a new one when all are full. */
    const pick = () => {
      for (let i = 0; i < pool.length; i++) {
        const c = pool[next++ % pool.length];
        if (c.inFlight < perConnection) return c;
      }
      if (pool.length < max) {
        const c = open();
        pool.push(c);
        return c;
      }
      return pool[next++ % pool.length];
    };
    const fetchVia: typeof fetch = (input, init) => {
      const c = pick();
      c.inFlight++;
      return fetch(input, { ...init, client: c.client }).finally(() => c.inFlight--);
    };
    const transport = createLeanConnectTransport({
      baseUrl: instance.baseUrl,
      useBinaryFormat: options.useBinaryFormat,
      defaultTimeoutMs: options.defaultTimeoutMs,
      jsonOptions: options.jsonOptions,
      fetch: fetchVia,
      // Streams (rare here: Health/Watch) need streaming request bodies, which fetch
      // lacks: connect-node, made on first use.
      fallback: {
        stream: (...args) => (streams ??= streamTransport()).transport.stream(...args),
      },
    });
    let streams: ReturnType<typeof streamTransport> | undefined;
    const streamTransport = () => {
      if (h1) {
        const agent = new (cleartext ? http.Agent : https.Agent)({ keepAlive: true });
        const transport = createNodeConnectTransport({
          baseUrl: instance.baseUrl,
          httpVersion: "1.1",
          acceptCompression: [],
          nodeOptions: { agent },
          useBinaryFormat: options.useBinaryFormat,
          defaultTimeoutMs: options.defaultTimeoutMs,
          jsonOptions: options.jsonOptions,
        });
        return { transport, close: () => agent.destroy() };
      }
      const sessionManager = new Http2SessionManager(instance.baseUrl);
      const transport = createNodeConnectTransport({
        baseUrl: instance.baseUrl,
        httpVersion: "2",
        // Identity only: connect-node under Deno 2.9.6 can fail gzip responses with
        // "Premature close" (see conformance/known-flaky-client.txt).
        acceptCompression: [],
        sessionManager,
        useBinaryFormat: options.useBinaryFormat,
        defaultTimeoutMs: options.defaultTimeoutMs,
        jsonOptions: options.jsonOptions,
      });
      return { transport, close: () => sessionManager.abort() };
    };
    return {
      ...transport,
      close: () => {
        for (const c of pool) c.client.close();
        streams?.close();
      },
    };
  };
  return options.discover === false ? direct : withFastListener(direct, options.discovery);
}
