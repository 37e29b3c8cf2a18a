/**
 * The options and results of `serveOnePort` (one_port.ts): the handler
 * types, the limits with their defaults, and the running server.
 *
 * @module
 */
import type * as http from "node:http";
import type * as http2 from "node:http2";
import type { Admission } from "./admission.ts";
import type { OnePortStats } from "./connections.ts";
import type { FastRequestHandler, FastStreamHandler } from "./fast/node_handler.ts";

/** A request as the node-style handler receives it (HTTP/1.x or HTTP/2). */
export type NodeRequest = http.IncomingMessage | http2.Http2ServerRequest;
/** A response as the node-style handler receives it (HTTP/1.x or HTTP/2). */
export type NodeResponse = http.ServerResponse | http2.Http2ServerResponse;
/**
 * A node-style request handler, e.g. the result of `connectNodeAdapter(...)`
 * (its type `NodeHandlerFn` is the same shape).
 */
export type NodeHandler = (req: NodeRequest, res: NodeResponse) => void;

/** Bounds on what a client may hold on to. All times in milliseconds; 0 disables. */
export interface OnePortLimits {
  /**
   * Largest request head: HTTP/1.x `maxHeaderSize` (request line + headers,
   * answered with 431 and closed) and HTTP/2 `SETTINGS_MAX_HEADER_LIST_SIZE`.
   * Default 16 KiB. (Body size is the Connect adapter's `readMaxBytes`.)
   */
  maxHeaderBytes?: number;
  /** A new connection must send its first bytes within this time. Default 10 s. */
  firstBytesTimeoutMs?: number;
  /** HTTP/1.x: time to receive a complete request head. Default 30 s. */
  headersTimeoutMs?: number;
  /** HTTP/1.x: time to receive a complete request (head and body). Default 5 min. */
  requestTimeoutMs?: number;
  /** HTTP/1.x: an idle keep-alive connection is closed after this. Default 5 s. */
  keepAliveTimeoutMs?: number;
  /**
   * HTTP/2: a session with no stream in flight and none started for this
   * long gets a PING, then a GOAWAY (as grpc-go's MaxConnectionIdle; pings
   * alone do not keep it open). Checked every quarter of it, at most every
   * 5 s. Default 5 min.
   */
  http2IdleTimeoutMs?: number;
  /**
   * HTTP/2: a PING the server sends (to an idle session, or on close) must
   * be answered within this, else the session is destroyed. This also bounds
   * a client that stopped in the middle of a header block (HEADERS without
   * END_HEADERS: nothing but CONTINUATION may follow, so it can neither send
   * nor answer anything): it is cut after `http2IdleTimeoutMs` plus this,
   * since node:http2 has no timeout of its own for unfinished header blocks.
   * Default 10 s.
   */
  http2PingTimeoutMs?: number;
  /** HTTP/2: `SETTINGS_MAX_CONCURRENT_STREAMS` per session. Default 256. */
  maxConcurrentStreams?: number;
  /** Most simultaneous TCP connections; further ones are dropped. Default: no limit. */
  maxConnections?: number;
  /**
   * HTTP/1.x: request body bytes still unread when the response has been
   * sent (an early answer, e.g. RESOURCE_EXHAUSTED for an oversized message)
   * are read and dropped, up to this many, so the keep-alive connection can
   * carry the next request; past it the connection is closed after the
   * response. Default 256 KiB (as Go's net/http). HTTP/2 needs no such
   * bound: the stream is reset with NO_ERROR instead.
   */
  drainBytes?: number;
}

/** Options of {@link serveOnePort}. */
export interface OnePortServerOptions {
  /** Address to bind. Default "0.0.0.0" (like `Deno.serve`). */
  hostname?: string;
  /** Port to bind; 0 picks a free one (see {@link OnePortServer.port}). */
  port: number;
  /**
   * Node-style handler for every request, HTTP/1.x and HTTP/2 alike, e.g.
   * `connectNodeAdapter({ routes, fallback })`. Non-RPC paths (health
   * probes, metrics, files, OPTIONS preflights) reach the adapter's
   * `fallback`, or wrap the handler yourself.
   */
  handler: NodeHandler;
  /**
   * Takes HTTP/2 streams before the compatibility API (and `handler`) sees
   * them, e.g. the fast unary path; returns false to leave a stream to
   * `handler`. Streams it takes are counted and drained like the others.
   */
  fastStream?: FastStreamHandler;
  /** Takes HTTP/1.x requests before `handler` does; returns false to leave one to it. */
  fastRequest?: FastRequestHandler;
  /**
   * Admission before work: a request past its bound is answered
   * RESOURCE_EXHAUSTED from its head alone (body unread), on both protocols.
   */
  admission?: Admission;
  /**
   * Serve TLS instead of cleartext: `http2.createSecureServer({ allowHTTP1:
   * true })`, HTTP/2 or HTTP/1.1 chosen by ALPN. PEM strings.
   */
  tls?: { cert: string; key: string };
  /** Timeouts and sizes; see {@link OnePortLimits}. */
  limits?: OnePortLimits;
  /**
   * Aborted when `close()`'s grace period runs out, just before connections
   * are destroyed, with `ConnectError("server is shutting down",
   * Code.Unavailable)`. Pass its `signal` as `shutdownSignal` to
   * `connectNodeAdapter`: handlers still running see their context signal
   * aborted, and calls that end because of it get `unavailable` (retryable)
   * if they can answer within 100 ms. Abort it earlier yourself to cut
   * streams sooner.
   */
  shutdownController?: AbortController;
  /**
   * How `close()` ends HTTP/2 sessions:
   *
   * - `"finish-first"` (default): a session keeps serving, new streams
   *   included, until no stream is in flight; then the server PINGs and sends
   *   GOAWAY once the PING is answered and the session is still idle (the
   *   client has read every response by then). Sessions still busy after half
   *   of `graceMs` get the GOAWAY anyway.
   * - `"goaway"` (what HTTP/2 servers usually do): GOAWAY to every session at
   *   once; clients open no new streams there, streams in flight finish.
   *
   * Why the default: connect-node's client under Deno 2.9.6 (the gateway's)
   * fails every call in flight, or whose response it has not read yet, when a
   * GOAWAY arrives — "[unknown] Premature close", although the server did
   * the work — and reports streams refused by the GOAWAY as `internal`
   * rather than `unavailable`. Node's client, curl and buf curl handle the
   * standard GOAWAY. With a readiness drain (clients stop sending first),
   * `"finish-first"` loses no call; clients that keep sending get the GOAWAY
   * after half the grace period.
   */
  http2Shutdown?: "goaway" | "finish-first";
  /**
   * Errors of client connections (resets, garbage, protocol errors). They are
   * always handled (never crash the process); this only reports them.
   * Default: ignored.
   */
  onError?: (error: Error, where: "socket" | "http1" | "http2") => void;
}

/** Options of {@link OnePortServer.close}. */
export interface CloseOptions {
  /**
   * How long requests in flight may take to finish before connections are
   * destroyed. Default 10 s.
   */
  graceMs?: number;
}

/** A running server from {@link serveOnePort}. */
export interface OnePortServer {
  /** Bound address. */
  readonly hostname: string;
  /** Bound port (the real one when 0 was asked for). */
  readonly port: number;
  /** `http://host:port` (or `https://`), for clients; wildcard hosts become loopback. */
  readonly url: string;
  /** Connection and request counters. */
  stats(): OnePortStats;
  /**
   * Graceful shutdown: stop accepting; answer further HTTP/1.x requests with
   * `Connection: close` and close each connection after its response; close
   * idle keep-alive connections (after 200 ms, for a request already on its
   * way); end HTTP/2 sessions per `http2Shutdown` (GOAWAY; streams in flight
   * go on); after `graceMs` abort `shutdownController` and destroy what is
   * left. Resolves when every connection is closed. Idempotent.
   */
  close(options?: CloseOptions): Promise<void>;
  /** `close()` with default grace, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** Default {@linkcode OnePortLimits.maxHeaderBytes} (also the fast listener's). */
export const DEFAULT_MAX_HEADER_BYTES = 16 * 1024;

/** The limits when none are given. */
export const DEFAULT_LIMITS: Required<OnePortLimits> = {
  maxHeaderBytes: DEFAULT_MAX_HEADER_BYTES,
  firstBytesTimeoutMs: 10_000,
  headersTimeoutMs: 30_000,
  requestTimeoutMs: 300_000,
  keepAliveTimeoutMs: 5_000,
  http2IdleTimeoutMs: 300_000,
  http2PingTimeoutMs: 10_000,
  maxConcurrentStreams: 256,
  maxConnections: 0,
  drainBytes: 256 * 1024,
};
