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
import { Code, ConnectError } from "@connectrpc/connect";
import { RETRY_ELSEWHERE_HEADER } from "../lib/defaults.ts";
import { busyReply } from "./admission.ts";
import { Connections, type OnePortStats } from "./connections.ts";
import { Drain } from "./drain.ts";
import { answer, drainWhenAnswered, resetWhenAnswered } from "./early_answer.ts";
import { sniff } from "./sniff.ts";

import {
  type CloseOptions,
  DEFAULT_LIMITS,
  DEFAULT_MAX_HEADER_BYTES,
  type NodeRequest,
  type NodeResponse,
  type OnePortLimits,
  type OnePortServer,
  type OnePortServerOptions,
} from "./one_port_options.ts";

export type { OnePortStats };
export { DEFAULT_MAX_HEADER_BYTES };
export type {
  CloseOptions,
  NodeHandler,
  NodeRequest,
  NodeResponse,
  OnePortLimits,
  OnePortServer,
  OnePortServerOptions,
} from "./one_port_options.ts";
import { writeH1, writeH2 } from "./fast/node_reply.ts";

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
  const limits: Required<OnePortLimits> = { ...DEFAULT_LIMITS };
  for (const [k, v] of Object.entries(options.limits ?? {})) {
    if (v !== undefined) (limits as Record<string, number>)[k] = v;
  }
  const hostname = options.hostname ?? "0.0.0.0";
  const handler = options.handler;
  const { fastStream, fastRequest, admission } = options;
  const onError = options.onError ?? (() => {});
  const report = (where: "socket" | "http1" | "http2") => (err: Error) => {
    try {
      onError(err, where);
    } catch {
      // a failing reporter must not turn a client error into a crash
    }
  };
  const reportSocket = report("socket");
  const conns = new Connections();
  const drain = new Drain(
    conns,
    options.http2Shutdown ?? "finish-first",
    limits.http2PingTimeoutMs,
  );

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

  /**
   * HTTP/1.x requests (and the HTTP/2 ones the compatibility API makes, which
   * `hookStreams` counted already): counts them, makes closes graceful, sheds
   * past admission, offers them to the fast path, else to the handler.
   */
  function onRequest(req: NodeRequest, res: NodeResponse) {
    if (req.httpVersionMajor === 2) return dispatch(req, res, "http2");
    conns.requestStarted();
    const state = conns.h1.get(req.socket);
    if (state) state.active++;
    if (state) drainWhenAnswered(req as http.IncomingMessage, res, limits.drainBytes);
    let done = false;
    res.once("close", () => {
      if (done) return;
      done = true;
      conns.requestEnded();
      if (state) {
        state.active--;
        // During close, an HTTP/1.x connection ends after its last response.
        if (conns.closing && state.active === 0) req.socket.destroy();
      }
    });
    if (conns.closing && !res.headersSent) {
      (res as http.ServerResponse).setHeader("connection", "close");
    }
    if (h1HeadBytes(req as http.IncomingMessage) > limits.maxHeaderBytes) {
      // Deno 2.9.6's node:http lets about 20 KB through a 16 KiB maxHeaderSize.
      (res as http.ServerResponse).setHeader("connection", "close");
      return answer(res, 431);
    }
    if (admission !== undefined) {
      const path = pathOf(req.url);
      if (!admission.enter(path)) {
        const reply = busyReply(req.headers["content-type"], admission.error());
        return writeH1(res as http.ServerResponse, reply);
      }
      res.once("close", () => admission.leave(path));
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
   * every stream is counted (for the drain), oversized heads get 431, past
   * admission a stream is shed, the fast path may take it, the rest go to the
   * compatibility API.
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
      conns.requestStarted(session);
      // One "close" listener per stream for the accounting (listeners cost on this path).
      let admitted: string | undefined;
      stream.once("close", () => {
        if (admitted !== undefined) admission!.leave(admitted);
        drain.streamEnded(session, conns.requestEnded(session));
      });
      // A stream the client reset emits "error" (ERR_HTTP2_STREAM_ERROR); with no listener
      // that is an uncaught exception, and the stream never emits "close" (its accounting
      // above would leak). The handlers see the reset through "close" and "aborted".
      stream.on("error", ignoreStreamError);
      try {
        if (headerBytes(rawHeaders) > limits.maxHeaderBytes) {
          // Deno 2.9.6 advertises SETTINGS_MAX_HEADER_LIST_SIZE but accepts more.
          stream.respond({ ":status": 431 }, { endStream: true });
          return;
        }
        if (admission !== undefined) {
          const path = pathOf(headers[":path"]);
          if (!admission.enter(path)) {
            return writeH2(stream, busyReply(headers["content-type"], admission.error()));
          }
          admitted = path;
        }
        // The fast path reads the whole request before it answers; connect-es may not.
        if (fastStream?.(stream, headers)) return;
        resetWhenAnswered(stream);
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
    conns.addSession(session, report("http2"));
    if (conns.closing) session.close();
  }

  let listener: net.Server;
  let h1Server: http.Server | undefined;
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
      if (conns.closing) return void socket.destroy();
      conns.track(socket, reportSocket);
    });
    secureServer.on(
      "secureConnection",
      (socket: net.Socket & { alpnProtocol?: string | false }) => {
        if (socket.alpnProtocol !== "h2") conns.h1Connection(socket);
      },
    );
    listener = secureServer;
  } else {
    const h1 = h1Server = http.createServer(http1Options, onRequest);
    // See the module comment: Deno ends every keep-alive connection of a
    // server that is not "listening". This one never binds a port itself.
    Object.defineProperty(h1, "listening", { get: () => true, configurable: true });
    h1.on("connection", (socket: net.Socket) => conns.h1Connection(socket));
    const h2 = http2.createServer(http2Options, onRequest);
    hookStreams(h2);
    h2.on("session", onSession);
    h2.on("sessionError", report("http2"));
    listener = net.createServer({ noDelay: true }, (socket) => {
      if (conns.closing) return void socket.destroy();
      conns.track(socket, reportSocket);
      conns.sniffing.add(socket);
      sniff(socket, {
        timeoutMs: limits.firstBytesTimeoutMs,
        http1: h1,
        http2: h2,
        onError: reportSocket,
        onDone: () => conns.sniffing.delete(socket),
      });
    });
  }
  if (limits.maxConnections > 0) listener.maxConnections = limits.maxConnections;

  let closePromise: Promise<void> | undefined;
  function close(closeOptions: CloseOptions = {}): Promise<void> {
    closePromise ??= (async () => {
      conns.closing = true;
      const listenerClosed = new Promise<void>((resolve) => {
        // The callback may carry ERR_SERVER_NOT_RUNNING; closed is closed.
        // For TLS, tls.Server's close: Http2SecureServer's own close() would
        // also GOAWAY every session (see http2Shutdown); it runs at the end.
        // The internal h2 server is not bound either: its close() would only
        // GOAWAY every session, which the drain does by its policy.
        if (secureServer) tls.Server.prototype.close.call(secureServer, () => resolve());
        else listener.close(() => resolve());
      });
      await drain.close(closeOptions.graceMs ?? 10_000, {
        listenerClosed,
        // Connect answers handlers aborted with a ConnectError with its code.
        abortHandlers: () =>
          options.shutdownController?.abort(
            new ConnectError("server is shutting down", Code.Unavailable, {
              [RETRY_ELSEWHERE_HEADER]: "elsewhere",
            }),
          ),
      });
      // Stops the HTTP/1 timeout checks; nothing else is left to close.
      h1Server?.close();
      secureServer?.close();
    })();
    return closePromise;
  }

  return new Promise<OnePortServer>((resolve, reject) => {
    const onListenError = (err: Error) => reject(err);
    listener.once("error", onListenError);
    listener.listen({ host: hostname, port: options.port }, () => {
      listener.off("error", onListenError);
      listener.on("error", reportSocket);
      // Starts the HTTP/1 headers/request timeout checks (see module comment).
      h1Server?.emit("listening");
      drain.closeIdleSessions(limits.http2IdleTimeoutMs);
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
        stats: () => conns.stats(),
        close,
        [Symbol.asyncDispose]: () => close(),
      });
    });
  });
}

/**
 * HTTP/2 header fields per request node:http2 accepts (Node's default: 128).
 * A stream over the count is refused inside nghttp2 (RST_STREAM
 * ENHANCE_YOUR_CALM), and in Deno 2.9.6 a session that refused streams can
 * abort the whole process when it ends (nghttp2 assertion
 * `find_stream_on_goaway_func`): 150 sessions each sending 600 small fields
 * aborted it in 2 of 3 runs at 128, in 0 of 9 runs (600 to 3,000 fields) at
 * this bound, where such heads get a 431 instead (larger header lists are
 * refused by nghttp2's own size bound). It reduces the aborts, it does not
 * end them: the full fuzz test with seed 20261201 saw 3 and 3 at 128, 2 and 0
 * at 4096 (after one refusal Deno refuses the session's later large heads
 * too). The upstream bug is the cause.
 */
const MAX_HEADER_LIST_PAIRS = 4096;

/** The path of a request target, without the query. */
function pathOf(target: string | undefined): string {
  if (target === undefined) return "/";
  const q = target.indexOf("?");
  return q < 0 ? target : target.slice(0, q);
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

/** The "error" listener of every HTTP/2 stream: a reset is seen through "close" (see onStream). */
function ignoreStreamError(): void {}
