/**
 * The instance's second listener: `Deno.serve` (HTTP/1.1 and h2c with prior
 * knowledge, or TLS with ALPN) serving Connect and gRPC-web.
 *
 * Why a second port: the main port must speak native gRPC (the original's
 * clients do), which needs HTTP trailers, which `Deno.serve` cannot send; so
 * the main port runs on node:http2/node:http. `Deno.serve` costs about half
 * the CPU per call of node:http2 and is not exposed to a Deno 2.9.6 node:http2
 * bug that aborts the process when a busy client closes its connection. The
 * project's own clients (router, gateway, load CLI, dashboard) find this port
 * through `/healthz` on the main port (`fastPort`) and use it.
 *
 * Unary calls of the procedure table take the fast path; everything else
 * (streams, compression) is served by connect-es's universal handlers; plain
 * routes (`/healthz`, `/readyz`, `/metrics`) as on the main port. Native gRPC
 * requests get UNIMPLEMENTED naming the main port.
 *
 * @module
 */
import {
  Code,
  type ConnectRouter,
  type ConnectRouterOptions,
  createConnectRouter,
} from "@connectrpc/connect";
import { createFetchHandler } from "@connectrpc/connect/protocol";
import { compressionBrotli, compressionGzip } from "@connectrpc/connect-node";
import { type Admission, busyReply } from "./admission.ts";
import { fetchCors } from "./cors.ts";
import { guardRequestBody } from "./request_body_guard.ts";
import { createFastFetchHandler, type FetchHandler } from "./fast/fetch_handler.ts";
import type { ProcedureTable } from "./fast/procedures.ts";
import type { UnaryEngine } from "./fast/unary.ts";
import { fetchRoutes, type PlainRoutes } from "./routes.ts";

/** Options of {@linkcode serveFastListener}. */
export interface FastListenerOptions {
  readonly hostname: string;
  /** 0 = any free port. */
  readonly port: number;
  readonly engine: UnaryEngine;
  readonly procedures: ProcedureTable;
  /** Registers the services on connect-es's router, for what the fast path does not take. */
  readonly routes: (router: ConnectRouter) => void;
  /** connect-es router options (limits, interceptors, shutdown signal). */
  readonly routerOptions: ConnectRouterOptions;
  readonly plain: PlainRoutes;
  /** Allowed browser origins (see cors.ts). */
  readonly corsOrigins: readonly string[];
  /** The main port, named in the answer to native gRPC requests. */
  readonly mainPort: number;
  /** Most milliseconds a unary request body may take after its head; 0 = no bound. */
  readonly bodyTimeoutMs?: number;
  /**
   * Largest request head (URL and header fields, counted as HTTP/2 counts a
   * header list: name + value + 32 per field): 431 past it. Deno.serve has
   * its own, larger bounds (HTTP/1.1: about 400 KiB and 100 fields), which
   * hold before this check runs. Default: no check.
   */
  readonly maxHeaderBytes?: number;
  /** PEM certificate and key: serve TLS (HTTP/2 and HTTP/1.1 by ALPN). */
  readonly tls?: { cert: string; key: string };
  /** Errors the server could not answer (reported, never thrown). */
  readonly onError?: (error: unknown) => void;
  /** Admission before work (shared with the main port). */
  readonly admission?: Admission;
}

/** A running fast listener. */
export interface FastListener {
  readonly port: number;
  /** `http://host:port` (or https). */
  readonly url: string;
  /** Stops accepting; requests in flight get `graceMs` to finish, then connections are cut. */
  close(graceMs: number): Promise<void>;
}

/** Starts the listener; resolves once the port is bound. */
export function serveFastListener(o: FastListenerOptions): Promise<FastListener> {
  // connect-node's adapter accepts gzip and brotli by default; the fetch router must too.
  const router = createConnectRouter({
    acceptCompression: [compressionGzip, compressionBrotli],
    ...o.routerOptions,
  });
  o.routes(router);
  const rpc = new Map<string, FetchHandler>();
  for (const h of router.handlers) {
    rpc.set(
      h.requestPath,
      createFetchHandler(guardRequestBody(h, { bodyTimeoutMs: o.bodyTimeoutMs ?? 0 })),
    );
  }
  const plain = fetchRoutes(o.plain);
  const cors = fetchCors(o.corsOrigins);
  const grpcHere =
    `native gRPC is served on port ${o.mainPort}; this port serves Connect and gRPC-web`;

  const fallback = async (req: Request): Promise<Response> => {
    const type = req.headers.get("content-type") ?? "";
    let res: Response;
    if (type.startsWith("application/grpc") && !type.startsWith("application/grpc-web")) {
      res = new Response(null, {
        status: 200,
        headers: {
          "content-type": type.split(";")[0],
          "grpc-status": String(Code.Unimplemented),
          "grpc-message": encodeURIComponent(grpcHere),
        },
      });
    } else {
      const path = req.url.slice(req.url.indexOf("/", req.url.indexOf("//") + 2)).split("?")[0];
      const h = rpc.get(path);
      res = h !== undefined ? await h(req) : await plain(req);
    }
    if (req.headers.has("origin")) {
      const headers = new Headers(res.headers);
      cors.decorate(req, headers);
      res = new Response(res.body, { status: res.status, headers });
    }
    return res;
  };
  const fast = createFastFetchHandler({
    engine: o.engine,
    procedures: o.procedures,
    bodyTimeoutMs: o.bodyTimeoutMs,
    fallback,
    decorate: (req, headers) => {
      if (req.headers.has("origin")) cors.decorate(req, headers);
    },
  });
  const maxHead = o.maxHeaderBytes ?? Infinity;
  const admission = o.admission;
  const handler = (req: Request, info: Deno.ServeHandlerInfo): Response | Promise<Response> => {
    if (headBytes(req) > maxHead) return new Response(null, { status: 431 });
    const pre = cors.preflight(req);
    if (pre !== undefined) return pre;
    if (admission === undefined) return fast(req, info);
    const url = req.url;
    const start = url.indexOf("/", url.indexOf("//") + 2);
    const q = url.indexOf("?", start);
    const path = q < 0 ? url.slice(start) : url.slice(start, q);
    if (!admission.enter(path)) {
      const reply = busyReply(req.headers.get("content-type"), admission.error());
      const headers = new Headers({ "content-type": reply.contentType });
      reply.headers?.forEach((v, k) => headers.append(k, v));
      if (req.headers.has("origin")) cors.decorate(req, headers);
      return new Response(reply.body as Uint8Array<ArrayBuffer>, { status: reply.status, headers });
    }
    let res: Response | Promise<Response>;
    try {
      res = fast(req, info);
    } catch (e) {
      admission.leave(path);
      throw e;
    }
    if (res instanceof Promise) return res.finally(() => admission.leave(path));
    admission.leave(path);
    return res;
  };

  return new Promise((resolve, reject) => {
    let server: Deno.HttpServer<Deno.NetAddr>;
    try {
      server = Deno.serve({
        hostname: o.hostname,
        port: o.port,
        ...(o.tls ? { cert: o.tls.cert, key: o.tls.key } : {}),
        onListen: (addr) => {
          const host = addr.hostname === "0.0.0.0" || addr.hostname === "::"
            ? "127.0.0.1"
            : addr.hostname.includes(":")
            ? `[${addr.hostname}]`
            : addr.hostname;
          resolve({
            port: addr.port,
            url: `${o.tls ? "https" : "http"}://${host}:${addr.port}`,
            close: (graceMs) => closeServer(server, graceMs),
          });
        },
        onError: (error) => {
          o.onError?.(error);
          return new Response("internal error", { status: 500 });
        },
      }, handler);
    } catch (err) {
      reject(err);
    }
  });
}

/**
 * Graceful shutdown, waited for at most `graceMs`. (No forced cut: aborting a
 * Deno.serve server while its graceful shutdown runs throws inside Deno
 * 2.9.6. What is still running ends by the connect-es shutdown signal and the
 * coalescer's own bounds.)
 */
async function closeServer(server: Deno.HttpServer<Deno.NetAddr>, graceMs: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const grace = new Promise<void>((resolve) => timer = setTimeout(resolve, graceMs));
  try {
    await Promise.race([server.shutdown().then(() => server.finished), grace]);
  } finally {
    clearTimeout(timer);
  }
}

/** A request head's size as HTTP/2 counts a header list (the URL stands for the pseudo-fields). */
function headBytes(req: Request): number {
  let n = req.url.length + 4 * 32;
  for (const [name, value] of req.headers) n += name.length + value.length + 32;
  return n;
}
