/**
 * The fast path as a fetch handler for `Deno.serve`: Connect (POST and GET,
 * binary and JSON) and gRPC-web unary calls of the procedures in the table,
 * identity or gzip/brotli, are served by the {@linkcode UnaryEngine};
 * everything else (streams, other encodings, other content types, other
 * paths) goes to `fallback` unchanged.
 *
 * `Deno.serve` cannot send HTTP trailers, so native gRPC is not served here
 * (the instance's main port serves it through node:http2).
 *
 * @module
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { RequestReader } from "./context.ts";
import { formatPeer } from "../peer.ts";
import { connectError, connectUnaryType, parseConnectGet } from "./connect_wire.ts";
import { grpcError, grpcType } from "./grpc_wire.ts";
import type { ProcedureTable } from "./procedures.ts";
import { type Reply, withFields } from "./reply.ts";
import { decodeConnectBody, decodeGrpcBody, takesEncoding } from "./request_encoding.ts";
import { BodyDeadline, bodyTimeoutError } from "./body_deadline.ts";
import type { UnaryEngine } from "./unary.ts";

/** A fetch-style handler; `info` is what `Deno.serve` passes (the caller's address). */
export type FetchHandler = (
  req: Request,
  info?: Deno.ServeHandlerInfo,
) => Response | Promise<Response>;

/** Options of {@linkcode createFastFetchHandler}. */
export interface FastFetchOptions {
  readonly engine: UnaryEngine;
  readonly procedures: ProcedureTable;
  /** Answers what the fast path does not take. */
  readonly fallback: FetchHandler;
  /** Most milliseconds a request body may take after its head (see body_deadline.ts); 0 = none. */
  readonly bodyTimeoutMs?: number;
  /** Headers added to every fast reply (e.g. CORS for the request's origin); default none. */
  readonly decorate?: (req: Request, headers: Headers) => void;
}

/** One call's request and what `Deno.serve` said about it. */
interface FetchRaw {
  readonly req: Request;
  readonly info: Deno.ServeHandlerInfo | undefined;
}

const reader: RequestReader<FetchRaw> = {
  headers: (raw) => raw.req.headers,
  url: (raw) => raw.req.url,
  // Deno.serve aborts a request's signal when its client goes away (and after the answer,
  // when nobody listens any more).
  hangup: (raw, abort) => raw.req.signal.addEventListener("abort", () => abort(), { once: true }),
  peer: (raw) => {
    const addr = raw.info?.remoteAddr as Deno.NetAddr | undefined;
    return addr?.transport === "tcp" ? formatPeer(addr.hostname, addr.port) : undefined;
  },
};

/** Creates the handler; see the module doc. */
export function createFastFetchHandler(o: FastFetchOptions): FetchHandler {
  const { engine, procedures, fallback } = o;
  const decorate = o.decorate;
  const bodyTimeoutMs = o.bodyTimeoutMs ?? 0;
  const maxBody = engine.readMaxBytes + 5; // one gRPC-web envelope header

  const toResponse = (req: Request, reply: Reply): Response => {
    let headers: Headers | Record<string, string>;
    if (reply.headers === undefined && decorate === undefined) {
      headers = { "content-type": reply.contentType };
    } else {
      headers = new Headers(reply.headers);
      headers.set("content-type", reply.contentType);
      decorate?.(req, headers);
    }
    return new Response(reply.body as Uint8Array<ArrayBuffer>, { status: reply.status, headers });
  };

  async function connectPost(
    req: Request,
    info: Deno.ServeHandlerInfo | undefined,
    proc: NonNullable<ReturnType<ProcedureTable["get"]>>,
    binary: boolean,
  ) {
    const h = req.headers;
    const encoding = h.get("content-encoding");
    if (!takesEncoding(encoding)) return fallback(req);
    const read = await readBody(req, h, maxBody - 5, bodyTimeoutMs);
    const body = read instanceof ConnectError
      ? read
      : await decodeConnectBody(encoding, read, engine.readMaxBytes);
    if (body instanceof ConnectError) {
      return toResponse(req, withFields(connectError(body, undefined), closing(body)));
    }
    const reply = await engine.connect(
      proc,
      binary,
      body,
      "POST",
      h.get("connect-timeout-ms"),
      { req, info },
      reader,
    );
    return toResponse(req, reply);
  }

  async function grpcWeb(
    req: Request,
    info: Deno.ServeHandlerInfo | undefined,
    proc: NonNullable<ReturnType<ProcedureTable["get"]>>,
    binary: boolean,
  ) {
    const h = req.headers;
    const encoding = h.get("grpc-encoding");
    if (!takesEncoding(encoding)) return fallback(req);
    const read = await readBody(req, h, maxBody, bodyTimeoutMs);
    const body = read instanceof ConnectError
      ? read
      : await decodeGrpcBody(encoding, read, engine.readMaxBytes);
    if (body instanceof ConnectError) {
      return toResponse(
        req,
        withFields(grpcError("grpc-web", body, binary, undefined), closing(body)),
      );
    }
    const reply = await engine.grpc(
      "grpc-web",
      proc,
      binary,
      body,
      h.get("grpc-timeout"),
      { req, info },
      reader,
    );
    return toResponse(req, reply);
  }

  async function connectGet(
    req: Request,
    info: Deno.ServeHandlerInfo | undefined,
    proc: NonNullable<ReturnType<ProcedureTable["get"]>>,
    query: string,
  ) {
    let get;
    try {
      get = parseConnectGet(query);
    } catch (e) {
      return toResponse(req, connectError(ConnectError.from(e, Code.InvalidArgument), undefined));
    }
    if (get === undefined) return fallback(req);
    const message = await decodeConnectBody(get.compression, get.message, engine.readMaxBytes);
    if (message instanceof ConnectError) return toResponse(req, connectError(message, undefined));
    const reply = await engine.connect(
      proc,
      get.binary,
      message,
      "GET",
      req.headers.get("connect-timeout-ms"),
      { req, info },
      reader,
    );
    return toResponse(req, reply);
  }

  return (req: Request, info?: Deno.ServeHandlerInfo) => {
    const url = req.url;
    const start = url.indexOf("/", url.indexOf("//") + 2);
    const q = url.indexOf("?", start);
    const proc = procedures.get(q < 0 ? url.slice(start) : url.slice(start, q));
    if (proc === undefined) return fallback(req);
    const method = req.method;
    if (method === "POST") {
      const type = req.headers.get("content-type");
      const connect = connectUnaryType(type);
      if (connect !== undefined) return connectPost(req, info, proc, connect);
      const web = grpcType("grpc-web", type);
      if (web !== undefined) return grpcWeb(req, info, proc, web);
    } else if (method === "GET" && proc.noSideEffects && q >= 0) {
      return connectGet(req, info, proc, url.slice(q + 1));
    }
    return fallback(req);
  };
}

/** The body by `bytes()`; INVALID_ARGUMENT if it cannot be read. */
async function bytesOf(req: Request): Promise<Uint8Array | ConnectError> {
  try {
    return await req.bytes();
  } catch (e) {
    return ConnectError.from(e, Code.InvalidArgument);
  }
}

/**
 * {@linkcode bytesOf}, or DEADLINE_EXCEEDED when the body is not complete
 * within `timeoutMs` (the unread rest is Deno.serve's to drop: it resets the
 * HTTP/2 stream or closes the HTTP/1.1 connection after the answer).
 */
function bytesWithin(req: Request, timeoutMs: number): Promise<Uint8Array | ConnectError> {
  const done = Promise.withResolvers<Uint8Array | ConnectError>();
  const deadline = new BodyDeadline(timeoutMs, () => {
    const error = bodyTimeoutError(timeoutMs);
    // bytes() still holds the body: Deno.serve closes the HTTP/1.1 connection by itself.
    CLOSED_BY_DENO.add(error);
    done.resolve(error);
  });
  bytesOf(req).then((r) => {
    deadline.cancel();
    done.resolve(r);
  });
  return done.promise;
}

/**
 * The whole body, or a ConnectError: RESOURCE_EXHAUSTED past `max` bytes
 * (checked against Content-Length before reading, and while reading), or
 * INVALID_ARGUMENT if the body cannot be read, or DEADLINE_EXCEEDED if it is
 * not complete within `timeoutMs` (0 = no bound). A body not read to its end
 * is cancelled, so Deno.serve ends the stream (HTTP/2) or the connection
 * (HTTP/1.1) after the answer instead of waiting for the rest.
 */
async function readBody(
  req: Request,
  h: Headers,
  max: number,
  timeoutMs: number,
): Promise<Uint8Array | ConnectError> {
  const length = h.get("content-length");
  if (length !== null) {
    const n = Number(length);
    if (n > max) return tooLarge(n, max);
    // The usual request: a known length within the limit. `bytes()` takes Deno.serve's
    // fast path (the whole body in one op, no stream); the deadline only races it.
    return timeoutMs > 0 ? bytesWithin(req, timeoutMs) : bytesOf(req);
  }
  if (req.body === null) return new Uint8Array(0);
  const reader = req.body.getReader();
  let stop: ((e: ConnectError) => void) | undefined;
  const deadline = timeoutMs > 0
    ? new BodyDeadline(timeoutMs, () => stop?.(bodyTimeoutError(timeoutMs)))
    : undefined;
  const stopped = deadline && new Promise<ConnectError>((resolve) => stop = resolve);
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const next = reader.read();
      const r = stopped === undefined ? await next : await Promise.race([next, stopped]);
      if (r instanceof ConnectError) {
        next.catch(() => {});
        reader.cancel().catch(() => {});
        return r;
      }
      if (r.done) break;
      size += r.value.length;
      if (size > max) {
        reader.cancel().catch(() => {});
        return tooLarge(size, max);
      }
      chunks.push(r.value);
    }
  } catch (e) {
    return ConnectError.from(e, Code.InvalidArgument);
  } finally {
    deadline?.cancel();
  }
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/**
 * HTTP/1.1: after a body that did not arrive in time the connection carries
 * no further request (Deno.serve still waits for the client to close it).
 */
function closing(error: ConnectError): Readonly<Record<string, string>> | undefined {
  return error.code === Code.DeadlineExceeded && !CLOSED_BY_DENO.has(error) ? CLOSE : undefined;
}
const CLOSE = { connection: "close" };
/** Body timeouts whose answer Deno.serve sends with `connection: close` already. */
const CLOSED_BY_DENO = new WeakSet<ConnectError>();

function tooLarge(size: number, max: number): ConnectError {
  return new ConnectError(
    `request body of ${size} bytes is larger than the limit of ${max} bytes`,
    Code.ResourceExhausted,
  );
}
