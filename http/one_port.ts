/**
 * One cleartext (or TLS) port that answers gRPC, gRPC-web and Connect over
 * HTTP/1.1 and HTTP/2. Written against `node:` APIs; tested under Deno 2.9.6.
 *
 * Why not `Deno.serve`: fetch-style responses have no trailers, so native gRPC
 * clients fail ("missing status"). Why not `http2.createServer({allowHTTP1})`:
 * without TLS there is no ALPN, and it does not accept HTTP/1.1.
 *
 * So a `node:net` server accepts every connection and sniffs its first bytes:
 *
 * - the HTTP/2 client preface (`PRI * HTTP/2.0…`, prior knowledge / h2c) →
 *   an internal `http2.createServer()` via `emit("connection", socket)`;
 * - anything else → an internal `http.createServer()` the same way.
 *
 * Both call the same node-style handler, e.g. `connectNodeAdapter({ routes,
 * fallback })` from `@connectrpc/connect-node`, so plain HTTP routes
 * (`/healthz`, `/metrics`, static files, CORS preflights) work on both paths.
 *
 * HTTP/1.1 keep-alive and Deno: Deno's `node:http` server (2.9.x) destroys the
 * socket after every response when `server.listening` is false ("the server is
 * closing", `resOnFinish` in ext/node/polyfills/_http_server.js). An
 * `http.Server` that only gets sockets through `emit("connection")` never
 * listened, so it answered one request per connection while still sending
 * `Connection: keep-alive`: keep-alive clients then failed with "socket hang
 * up"/EPIPE. The internal HTTP/1 server here reports `listening === true`
 * (instance property) and gets its "listening" event (which starts the
 * headers/request timeout checks), which makes keep-alive work; the test suite
 * verifies connection reuse so a Deno change here is caught. It costs the
 * least of the three ways measured (2 shared cores, connect-node client on the
 * same machine, Health.Check): server CPU per call for Connect JSON over
 * HTTP/1.1 with 200 callers ~140 µs, vs ~175 µs proxying the bytes to an
 * internal `Deno.serve` and ~190 µs with `Connection: close`; one caller in
 * sequence: ~1,300 calls/s vs ~1,140/s and ~780/s. The proxy also loses the
 * client address and needs a second listener.
 *
 * With `tls`, `http2.createSecureServer({ allowHTTP1: true })` and ALPN do the
 * protocol split and no sniffing is needed.
 *
 * @module
 */
import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import * as tls from "node:tls";
import { Buffer } from "node:buffer";
import { Code, ConnectError } from "@connectrpc/connect";
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
   * HTTP/2: a session without traffic for this long gets a GOAWAY (streams in
   * flight still finish). Default 5 min; clients that ping keep it open.
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

/** Counters of {@link OnePortServer.stats}. */
export interface OnePortStats {
  /** TCP connections accepted since start. */
  accepted: number;
  /** TCP connections open now (all kinds). */
  open: number;
  /** Open connections still being sniffed (no protocol decided yet). */
  sniffing: number;
  /** Open HTTP/1.x connections. */
  http1: number;
  /** Open HTTP/2 sessions. */
  http2: number;
  /** Requests being handled now (both protocols). */
  inFlight: number;
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

// "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n": no HTTP/1.x method starts with "PRI", so
// three matching bytes decide HTTP/2 (POST, PUT and PATCH also start with "P").
const H2_PREFACE = new TextEncoder().encode("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
const H2_DECIDING_BYTES = 3;
/**
 * HTTP/2 header fields per request node:http2 accepts (Node's default: 128).
 * A stream over the count is refused inside nghttp2 (RST_STREAM
 * ENHANCE_YOUR_CALM), and in Deno 2.9.6 a session that refused streams can
 * abort the whole process when it ends (nghttp2 assertion
 * `find_stream_on_goaway_func`): 150 sessions each sending 600 small fields
 * aborted it in 2 of 3 runs at 128, in 0 of 9 runs (600 to 3,000 fields) at
 * this bound, where such heads get the 431 below instead (larger header
 * lists are refused by nghttp2's own size bound). It reduces the aborts, it
 * does not end them: the full fuzz test with seed 20261201 saw 3 and 3 at 128,
 * 2 and 0 at 4096 (after one refusal Deno refuses the session's later large
 * heads too). The upstream bug is the cause.
 */
const MAX_HEADER_LIST_PAIRS = 4096;

/** On close, how long idle HTTP/1.x keep-alive connections stay for a request already sent. */
const IDLE_LINGER_MS = 200;

/** Default {@linkcode OnePortLimits.maxHeaderBytes} (also the fast listener's). */
export const DEFAULT_MAX_HEADER_BYTES = 16 * 1024;

const DEFAULTS: Required<OnePortLimits> = {
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

/** Per HTTP/1.x connection: requests not yet finished. */
interface H1State {
  active: number;
}

/**
 * Start serving `handler` on one port. Resolves once the port is bound.
 *
 * ```ts
 * import { connectNodeAdapter } from "@connectrpc/connect-node";
 * const shutdown = new AbortController();
 * const server = await serveOnePort({
 *   port: 8080,
 *   handler: connectNodeAdapter({
 *     routes: (router) => router.service(Health, { check: () => ({ status: 1 }) }),
 *     fallback: (req, res) => { res.writeHead(req.url === "/healthz" ? 200 : 404); res.end(); },
 *     shutdownSignal: shutdown.signal,
 *   }),
 *   shutdownController: shutdown,
 * });
 * Deno.addSignalListener("SIGTERM", () => server.close({ graceMs: 10_000 }));
 * ```
 */
export function serveOnePort(options: OnePortServerOptions): Promise<OnePortServer> {
  const limits: Required<OnePortLimits> = { ...DEFAULTS };
  for (const [k, v] of Object.entries(options.limits ?? {})) {
    if (v !== undefined) (limits as Record<string, number>)[k] = v;
  }
  const hostname = options.hostname ?? "0.0.0.0";
  const handler = options.handler;
  const { fastStream, fastRequest } = options;
  const onError = options.onError ?? (() => {});
  const report = (where: "socket" | "http1" | "http2") => (err: Error) => {
    try {
      onError(err, where);
    } catch {
      // a failing reporter must not turn a client error into a crash
    }
  };
  const reportSocket = report("socket");

  let closing = false;
  let accepted = 0;
  let inFlight = 0;
  const sockets = new Set<net.Socket>();
  const sniffing = new Set<net.Socket>();
  const h1Sockets = new Map<net.Socket, H1State>();
  const sessions = new Set<http2.Http2Session>();
  /** Requests in flight per HTTP/2 session. */
  const streamsInFlight = new Map<http2.Http2Session, number>();
  const finishFirst = (options.http2Shutdown ?? "finish-first") === "finish-first";
  const pinging = new Set<http2.Http2Session>();
  let allClosed: (() => void) | undefined;

  const http1Options: http.ServerOptions = {
    maxHeaderSize: limits.maxHeaderBytes,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    // Node requires headersTimeout <= requestTimeout when both are set.
    headersTimeout: limits.requestTimeoutMs > 0
      ? Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs)
      : limits.headersTimeoutMs,
    // How often the two timeouts above are checked (Node's default: 30 s).
    connectionsCheckingInterval: Math.max(
      50,
      Math.min(1000, Math.floor((limits.headersTimeoutMs || 2000) / 2)),
    ),
  };
  const http2Options: http2.ServerOptions = {
    maxHeaderListPairs: MAX_HEADER_LIST_PAIRS,
    settings: {
      maxConcurrentStreams: limits.maxConcurrentStreams,
      maxHeaderListSize: limits.maxHeaderBytes,
    },
  };

  function track(socket: net.Socket) {
    accepted++;
    sockets.add(socket);
    socket.on("error", reportSocket);
    socket.once("close", () => {
      sockets.delete(socket);
      sniffing.delete(socket);
      h1Sockets.delete(socket);
      if (closing && sockets.size === 0) allClosed?.();
    });
  }

  /**
   * HTTP/1.x requests (and the HTTP/2 ones the compatibility API makes, which
   * {@linkcode onStream} counted already): counts them, makes closes graceful,
   * offers them to the fast path, else to the handler.
   */
  function onRequest(req: NodeRequest, res: NodeResponse) {
    if (req.httpVersionMajor === 2) return dispatch(req, res, "http2");
    inFlight++;
    const state = h1Sockets.get(req.socket);
    if (state) state.active++;
    if (state) drainWhenAnswered(req as http.IncomingMessage, res, limits.drainBytes);
    let done = false;
    res.once("close", () => {
      if (done) return;
      done = true;
      inFlight--;
      if (state) {
        state.active--;
        // During close, an HTTP/1.x connection ends after its last response.
        if (closing && state.active === 0) req.socket.destroy();
      }
    });
    if (closing && !res.headersSent) {
      (res as http.ServerResponse).setHeader("connection", "close");
    }
    if (h1HeadBytes(req as http.IncomingMessage) > limits.maxHeaderBytes) {
      // Deno 2.9.6's node:http lets about 20 KB through a 16 KiB maxHeaderSize.
      (res as http.ServerResponse).setHeader("connection", "close");
      return answer(res, 431);
    }
    try {
      if (fastRequest?.(req as http.IncomingMessage, res as http.ServerResponse)) return;
    } catch (err) {
      report("http1")(err as Error);
      return answer(res, 500);
    }
    dispatch(req, res, "http1");
  }

  function dispatch(req: NodeRequest, res: NodeResponse, where: "http1" | "http2") {
    try {
      handler(req, res);
    } catch (err) {
      // A synchronous throw would otherwise escape into node:http and kill the process.
      report(where)(err as Error);
      answer(res, 500);
    }
  }

  /**
   * Replaces the compatibility API's "stream" listener of an HTTP/2 server:
   * every stream is counted (for the drain), oversized heads get 431, the
   * fast path may take it, the rest go to the compatibility API.
   */
  function hookStreams(server: http2.Http2Server | http2.Http2SecureServer) {
    const compat = server.listeners("stream") as ((...args: unknown[]) => void)[];
    server.removeAllListeners("stream");
    const onStream = (
      stream: http2.ServerHttp2Stream,
      headers: http2.IncomingHttpHeaders,
      flags: number,
      rawHeaders: string[],
    ) => {
      const session = stream.session;
      inFlight++;
      if (session) streamsInFlight.set(session, (streamsInFlight.get(session) ?? 0) + 1);
      resetWhenAnswered(stream);
      stream.once("close", () => {
        inFlight--;
        if (!session) return;
        const left = (streamsInFlight.get(session) ?? 1) - 1;
        streamsInFlight.set(session, left);
        if (closing && left === 0 && finishFirst) goawayWhenIdle(session);
      });
      try {
        if (headerBytes(rawHeaders) > limits.maxHeaderBytes) {
          // Deno 2.9.6 advertises SETTINGS_MAX_HEADER_LIST_SIZE but accepts more.
          stream.respond({ ":status": 431 }, { endStream: true });
          return;
        }
        if (fastStream?.(stream, headers)) return;
      } catch (err) {
        report("http2")(err as Error);
        if (!stream.headersSent) stream.respond({ ":status": 500 }, { endStream: true });
        return;
      }
      for (const listener of compat) listener.call(server, stream, headers, flags, rawHeaders);
    };
    (server as http2.Http2Server).on("stream", onStream);
  }

  function onSession(session: http2.Http2Session) {
    sessions.add(session);
    session.on("error", report("http2"));
    session.once("close", () => {
      sessions.delete(session);
      streamsInFlight.delete(session);
    });
    if (closing) session.close();
  }

  /** "finish-first": PING, then GOAWAY if the session is still idle. */
  function goawayWhenIdle(session: http2.Http2Session) {
    if (session.closed || session.destroyed || pinging.has(session)) return;
    pinging.add(session);
    const unanswered = limits.http2PingTimeoutMs > 0
      ? setTimeout(() => {
        if (!pinging.delete(session)) return;
        session.destroy();
      }, limits.http2PingTimeoutMs)
      : undefined;
    const sent = session.ping((err) => {
      clearTimeout(unanswered);
      // Streams that arrived with the PING ACK are dispatched on next ticks:
      // look after them.
      setImmediate(() => {
        pinging.delete(session);
        if (err || !streamsInFlight.get(session)) session.close();
        // else: busy again; the next stream to finish calls this again.
      });
    });
    if (!sent) {
      clearTimeout(unanswered);
      pinging.delete(session);
      session.close();
    }
  }

  function onH1Connection(socket: net.Socket) {
    h1Sockets.set(socket, { active: 0 });
    // With TLS this is the TLSSocket, not the tracked TCP socket.
    socket.once("close", () => h1Sockets.delete(socket));
  }

  let listener: net.Server;
  let h1Server: http.Server | undefined;
  let h2Server: http2.Http2Server | undefined;
  let secureServer: http2.Http2SecureServer | undefined;

  if (options.tls) {
    secureServer = http2.createSecureServer({
      ...http2Options,
      cert: options.tls.cert,
      key: options.tls.key,
      allowHTTP1: true,
    });
    // allowHTTP1 makes this server also an http.Server for HTTP/1.1 over TLS.
    const s = secureServer as unknown as http.Server & { maxHeaderSize: number };
    s.maxHeaderSize = limits.maxHeaderBytes;
    s.keepAliveTimeout = limits.keepAliveTimeoutMs;
    s.requestTimeout = limits.requestTimeoutMs;
    s.headersTimeout = http1Options.headersTimeout!;
    secureServer.on("request", onRequest);
    hookStreams(secureServer);
    secureServer.on("session", onSession);
    secureServer.on("sessionError", report("http2"));
    secureServer.on("tlsClientError", report("socket"));
    secureServer.on("connection", (socket: net.Socket) => {
      if (closing) return void socket.destroy();
      track(socket);
    });
    secureServer.on(
      "secureConnection",
      (socket: net.Socket & { alpnProtocol?: string | false }) => {
        if (socket.alpnProtocol !== "h2") onH1Connection(socket);
      },
    );
    closeIdleSessions(secureServer);
    listener = secureServer;
  } else {
    h1Server = http.createServer(http1Options, onRequest);
    // See the module comment: Deno ends every keep-alive connection of a
    // server that is not "listening". This one never binds a port itself.
    Object.defineProperty(h1Server, "listening", { get: () => true, configurable: true });
    h1Server.on("connection", onH1Connection);
    h2Server = http2.createServer(http2Options, onRequest);
    hookStreams(h2Server);
    h2Server.on("session", onSession);
    h2Server.on("sessionError", report("http2"));
    closeIdleSessions(h2Server);
    listener = net.createServer({ noDelay: true }, (socket) => {
      if (closing) return void socket.destroy();
      track(socket);
      sniff(socket);
    });
  }
  if (limits.maxConnections > 0) listener.maxConnections = limits.maxConnections;

  /** GOAWAY (after a PING, as for "finish-first") to sessions idle for http2IdleTimeoutMs. */
  function closeIdleSessions(server: http2.Http2Server | http2.Http2SecureServer) {
    if (limits.http2IdleTimeoutMs <= 0) return;
    server.setTimeout(limits.http2IdleTimeoutMs);
    // The server emits "timeout" with the session (its default would destroy it).
    (server as unknown as net.Server).on("timeout", (session: http2.Http2Session) => {
      // A quiet stream still in flight keeps its session.
      if (!streamsInFlight.get(session)) goawayWhenIdle(session);
    });
  }

  /** Reads until the protocol is known, then hands the socket over. */
  function sniff(socket: net.Socket) {
    sniffing.add(socket);
    socket.setNoDelay(true);
    const chunks: Buffer[] = [];
    let length = 0;
    const timer = limits.firstBytesTimeoutMs > 0
      ? setTimeout(() => socket.destroy(), limits.firstBytesTimeoutMs)
      : undefined;
    const stop = () => {
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("close", stop);
      sniffing.delete(socket);
    };
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      length += chunk.length;
      let h2: boolean | undefined;
      const data = chunks.length === 1 ? chunk : Buffer.concat(chunks);
      const n = Math.min(data.length, H2_PREFACE.length);
      for (let i = 0; i < n; i++) {
        if (data[i] !== H2_PREFACE[i]) {
          h2 = false;
          break;
        }
      }
      if (h2 === undefined) {
        if (length < H2_DECIDING_BYTES) return; // a lone "P" may still be POST
        h2 = true;
      }
      stop();
      try {
        if (h2) {
          // The HTTP/2 session reads already-buffered bytes first (Deno:
          // it resumes the socket itself; Node: it read()s them on the next
          // tick — resuming here would hand them to no one).
          socket.pause();
          socket.unshift(data);
          h2Server!.emit("connection", socket);
        } else {
          // Not unshift(): Deno's HTTP/1 parser takes over the TCP handle's
          // reads natively, and bytes arriving next (e.g. the "0\r\n\r\n"
          // of a chunked body) could reach it before the unshifted ones
          // (seen under load as HPE_INVALID_CHUNK_SIZE / 400). Handing the
          // sniffed bytes over synchronously, before any further read can
          // run, keeps the order.
          h1Server!.emit("connection", socket);
          socket.emit("data", data);
        }
      } catch (err) {
        reportSocket(err as Error);
        socket.destroy();
      }
    };
    socket.on("data", onData);
    socket.once("close", stop);
  }

  const stats = (): OnePortStats => ({
    accepted,
    open: sockets.size,
    sniffing: sniffing.size,
    http1: h1Sockets.size,
    http2: sessions.size,
    inFlight,
  });

  let closePromise: Promise<void> | undefined;
  function close(closeOptions: CloseOptions = {}): Promise<void> {
    closePromise ??= doClose(closeOptions.graceMs ?? 10_000);
    return closePromise;
  }

  async function doClose(graceMs: number): Promise<void> {
    closing = true;
    const everyConnectionClosed = new Promise<void>((resolve) => {
      allClosed = resolve;
      if (sockets.size === 0) resolve();
    });
    const listenerClosed = new Promise<void>((resolve) => {
      // The callback may carry ERR_SERVER_NOT_RUNNING; closed is closed.
      // For TLS, tls.Server's close: Http2SecureServer's own close() would
      // also GOAWAY every session (see http2Shutdown); it runs at the end.
      if (secureServer) tls.Server.prototype.close.call(secureServer, () => resolve());
      else listener.close(() => resolve());
    });
    // h2Server is not bound either: its close() would only GOAWAY every
    // session, which is done below according to http2Shutdown.
    for (const socket of sniffing) socket.destroy();
    // Idle keep-alive connections linger briefly: a request may already be
    // on its way (written by the client, not yet read by a busy server);
    // it is still answered, with "Connection: close". Then idle ones close.
    const closeIdle = () => {
      for (const [socket, state] of h1Sockets) {
        if (state.active === 0) socket.destroy();
      }
    };
    const lingerTimer = setTimeout(closeIdle, Math.min(IDLE_LINGER_MS, graceMs));
    let graceLeft = graceMs;
    if (finishFirst) {
      for (const session of sessions) {
        if (!streamsInFlight.get(session)) goawayWhenIdle(session);
      }
      const half = Math.floor(graceMs / 2);
      graceLeft -= half;
      await settlesWithin(everyConnectionClosed, half);
    }
    for (const session of sessions) session.close();

    if (!(await settlesWithin(everyConnectionClosed, graceLeft))) {
      // Connect answers handlers aborted with a ConnectError with its code.
      options.shutdownController?.abort(
        new ConnectError("server is shutting down", Code.Unavailable),
      );
      // Give aborted handlers a moment to answer before cutting connections.
      await settlesWithin(everyConnectionClosed, Math.min(100, graceMs));
      for (const session of sessions) session.destroy();
      for (const socket of h1Sockets.keys()) socket.destroy();
      for (const socket of sockets) socket.destroy();
      await everyConnectionClosed;
    }
    clearTimeout(lingerTimer);
    await listenerClosed;
    // Stops the HTTP/1 timeout checks; nothing else is left to close.
    h1Server?.close();
    secureServer?.close();
  }

  return new Promise<OnePortServer>((resolve, reject) => {
    const onListenError = (err: Error) => reject(err);
    listener.once("error", onListenError);
    listener.listen({ host: hostname, port: options.port }, () => {
      listener.off("error", onListenError);
      listener.on("error", reportSocket);
      // Starts the HTTP/1 headers/request timeout checks (see module comment).
      h1Server?.emit("listening");
      const address = listener.address() as net.AddressInfo;
      const urlHost = address.address === "0.0.0.0" || address.address === "::"
        ? "127.0.0.1"
        : address.family === "IPv6"
        ? `[${address.address}]`
        : address.address;
      resolve({
        hostname: address.address,
        port: address.port,
        url: `${options.tls ? "https" : "http"}://${urlHost}:${address.port}`,
        stats,
        close,
        [Symbol.asyncDispose]: () => close(),
      });
    });
  });
}

/** How long a connection closed after an answer lingers, for the client to read the answer. */
const CLOSE_LINGER_MS = 1000;

/**
 * HTTP/1.x: once the response is sent, reads and drops what the handler left
 * unread of the request body, so the next request on the keep-alive
 * connection can be parsed: at most `maxBytes` (then the connection is
 * closed) unless the handler destroyed the request (connect-node does when a
 * streaming call fails before the client finished sending), whose rest is
 * then dropped by the parser, bounded only by the request timeout.
 *
 * Node's server does the equivalent itself (`req._dump()` when the response
 * finishes; a destroyed incomplete request destroys its socket), but Deno
 * 2.9's `node:http` does neither here: `parserOnBody` marks any request that
 * received body bytes as `_consuming`, which skips the dump, and the request
 * has already let go of its socket when connect-node destroys it. A handler
 * that answers early — connect-node refusing a message over `readMaxBytes`,
 * which it sees in the length before reading it — thus left the body
 * unread, the socket paused behind it, and the keep-alive connection dead:
 * the client's next request on it was never parsed (a hang, then a reset).
 */
function drainWhenAnswered(req: http.IncomingMessage, res: NodeResponse, maxBytes: number) {
  const socket = req.socket;
  res.once("finish", () => {
    if (req.complete) return;
    if (req.destroyed) {
      // The parser drops the body of a dumped request instead of pausing the
      // socket behind it; resume the socket it paused.
      (req as { _dump?: () => void })._dump?.();
      socket.resume();
      return;
    }
    let dropped = 0;
    req.on("data", (chunk: Buffer) => {
      dropped += chunk.length;
      if (dropped > maxBytes && !socket.writableEnded) closeAfterAnswer(socket);
    });
    req.resume();
  });
}

/**
 * Ends a connection whose last response was sent: FIN now, destroyed after
 * {@linkcode CLOSE_LINGER_MS} (a close with unread input resets the
 * connection, which can lose the answer before the client reads it).
 */
function closeAfterAnswer(socket: net.Socket) {
  if (socket.destroyed) return;
  socket.end();
  const linger = setTimeout(() => socket.destroy(), CLOSE_LINGER_MS);
  socket.once("close", () => clearTimeout(linger));
}

/**
 * HTTP/2: once the response (trailers included) is out while the client is
 * still sending, resets the stream with NO_ERROR, as RFC 9113 §8.1 allows
 * and gRPC servers do: the client stops sending and its call ends with the
 * answer it got.
 *
 * Without it (Node and Deno's `node:http2` only do this for streams nobody
 * read from), a client whose request is blocked on flow control — say the
 * rest of a client-stream message over `readMaxBytes`, which connect-node
 * refuses from its length without reading it — waits forever, and the
 * stream stays open on the server. The reset waits one macrotask after the
 * stream's "finish": Deno submits the trailers in a `setImmediate`, and a
 * reset before them would reach the client first.
 */
function resetWhenAnswered(stream: http2.ServerHttp2Stream) {
  stream.once("finish", () => {
    if (stream.state.remoteClose === 1) return; // the usual case: the client is done sending
    setImmediate(() => {
      if (stream.closed || stream.destroyed || stream.state.remoteClose === 1) return;
      stream.close(http2.constants.NGHTTP2_NO_ERROR);
    });
  });
}

/** Ends `res` with an empty response of `status` (just ends it if headers went out). */
function answer(res: NodeResponse, status: number) {
  // Through one member of the union: with @types/node 26 in the program
  // (pulled in by other packages' types) the union's methods are not callable.
  const r = res as http.ServerResponse;
  if (!r.headersSent) r.writeHead(status);
  r.end();
}

/** An HTTP/1.x request head's size: request line, then "name: value\r\n" per field. */
function h1HeadBytes(req: http.IncomingMessage): number {
  let n = (req.method?.length ?? 0) + (req.url?.length ?? 0) + 12;
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) n += raw[i].length + raw[i + 1].length + 4;
  return n;
}

/** Header list size as HTTP/2 counts it: name + value + 32 per field (raw: name, value, ...). */
function headerBytes(raw: readonly string[]): number {
  let n = 0;
  for (let i = 0; i + 1 < raw.length; i += 2) n += raw[i].length + raw[i + 1].length + 32;
  return n;
}

/** Resolves true if `promise` settles within `ms`, false otherwise; leaves no timer. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
