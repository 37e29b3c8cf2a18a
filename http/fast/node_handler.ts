/**
 * The fast path on node-style servers: a `node:http2` stream handler (gRPC,
 * gRPC-web and Connect unary, below the compatibility API) and a `node:http`
 * request handler (gRPC-web and Connect unary over HTTP/1.1). Each looks at
 * the request head and either takes the call (returns true) or leaves it to
 * the caller's fallback (returns false) untouched: streams, compression,
 * other content types and other paths go to connect-node unchanged.
 *
 * @module
 */
import type * as http from "node:http";
import type * as http2 from "node:http2";
import type { Buffer } from "node:buffer";
import { Code, ConnectError } from "@connectrpc/connect";
import type { RequestReader } from "./context.ts";
import { socketPeer } from "../peer.ts";
import {
  connectError,
  type ConnectGet,
  connectUnaryType,
  parseConnectGet,
} from "./connect_wire.ts";
import { grpcError, type GrpcKind, grpcType } from "./grpc_wire.ts";
import type { Procedure, ProcedureTable } from "./procedures.ts";
import { type Reply, withFields } from "./reply.ts";
import { writeH1, writeH2 } from "./node_reply.ts";
import type { UnaryEngine } from "./unary.ts";
import { decodeConnectBody, decodeGrpcBody, takesEncoding } from "./request_encoding.ts";
import { BodyDeadline, bodyTimeoutError } from "./body_deadline.ts";

/** Options of the node fast handlers. */
export interface FastNodeOptions {
  readonly engine: UnaryEngine;
  readonly procedures: ProcedureTable;
  /**
   * CORS response headers for a request's `Origin` (none for an origin not
   * allowed). Without it, requests with an `Origin` go to the fallback.
   */
  readonly cors?: (origin: string) => Readonly<Record<string, string>> | undefined;
  /** Most milliseconds a request body may take after its head (see body_deadline.ts); 0 = none. */
  readonly bodyTimeoutMs?: number;
}

/** Takes an HTTP/2 stream (true) or leaves it alone (false). */
export type FastStreamHandler = (
  stream: http2.ServerHttp2Stream,
  headers: http2.IncomingHttpHeaders,
) => boolean;

/** Takes an HTTP/1.x request (true) or leaves it alone (false). */
export type FastRequestHandler = (req: http.IncomingMessage, res: http.ServerResponse) => boolean;

/** What a request head asks for, when the fast path takes it. */
type Route =
  | { kind: "connect"; proc: Procedure; binary: boolean; encoding?: string }
  | { kind: "connect-get"; proc: Procedure; get: ConnectGet | ConnectError }
  | { kind: GrpcKind; proc: Procedure; binary: boolean; encoding?: string };

/** Decides from the head alone; undefined leaves the request to the fallback. */
function route(
  procedures: ProcedureTable,
  method: string | undefined,
  path: string | undefined,
  contentType: string | undefined,
  header: (name: string) => string | undefined,
  browsers: boolean,
): Route | undefined {
  // Without a CORS policy here, browsers go through the fallback, which answers CORS.
  if (path === undefined || (!browsers && header("origin") !== undefined)) return undefined;
  const q = path.indexOf("?");
  const proc = procedures.get(q < 0 ? path : path.slice(0, q));
  if (proc === undefined) return undefined;
  if (method === "GET") {
    if (!proc.noSideEffects || q < 0) return undefined;
    let get: ConnectGet | ConnectError | undefined;
    try {
      get = parseConnectGet(path.slice(q + 1));
    } catch (e) {
      get = ConnectError.from(e, Code.InvalidArgument);
    }
    return get === undefined ? undefined : { kind: "connect-get", proc, get };
  }
  if (method !== "POST") return undefined;
  const type = contentType ?? null;
  const connect = connectUnaryType(type);
  if (connect !== undefined) {
    const encoding = header("content-encoding");
    return takesEncoding(encoding)
      ? { kind: "connect", proc, binary: connect, encoding }
      : undefined;
  }
  // gRPC over HTTP/1.1 too: its trailers go in the chunked body's trailer section.
  for (const kind of ["grpc", "grpc-web"] as const) {
    const binary = grpcType(kind, type);
    if (binary === undefined) continue;
    const encoding = header("grpc-encoding");
    return takesEncoding(encoding) ? { kind, proc, binary, encoding } : undefined;
  }
  return undefined;
}

/** Runs a routed call on its body; never rejects. */
function run<R>(
  engine: UnaryEngine,
  r: Route,
  body: Uint8Array | ConnectError,
  header: (name: string) => string | undefined,
  raw: R,
  reader: RequestReader<R>,
): Promise<Reply> {
  if (compressed(r) && !(body instanceof ConnectError)) {
    return decompress(engine, r, body).then((plain) =>
      run(engine, plain.r, plain.body, header, raw, reader)
    );
  }
  if (r.kind === "connect-get") {
    const get = r.get;
    if (get instanceof ConnectError) return Promise.resolve(connectError(get, undefined));
    return engine.connect(
      r.proc,
      get.binary,
      get.message,
      "GET",
      header("connect-timeout-ms") ?? null,
      raw,
      reader,
    );
  }
  if (body instanceof ConnectError) {
    return Promise.resolve(
      r.kind === "connect"
        ? connectError(body, undefined)
        : grpcError(r.kind, body, r.binary, undefined),
    );
  }
  if (r.kind === "connect") {
    return engine.connect(
      r.proc,
      r.binary,
      body,
      "POST",
      header("connect-timeout-ms") ?? null,
      raw,
      reader,
    );
  }
  return engine.grpc(r.kind, r.proc, r.binary, body, header("grpc-timeout") ?? null, raw, reader);
}

/** Whether the request's message is compressed (gzip or br). */
function compressed(r: Route): boolean {
  const name = r.kind === "connect-get"
    ? (r.get instanceof ConnectError ? undefined : r.get.compression)
    : r.encoding;
  return name !== undefined && name !== "identity";
}

/** The route and body with the message decompressed (or the error that makes). */
async function decompress(
  engine: UnaryEngine,
  r: Route,
  body: Uint8Array,
): Promise<{ r: Route; body: Uint8Array | ConnectError }> {
  const max = engine.readMaxBytes;
  if (r.kind === "connect-get") {
    const get = r.get as ConnectGet;
    const message = await decodeConnectBody(get.compression, get.message, max);
    return {
      r: {
        ...r,
        get: message instanceof ConnectError
          ? message
          : { ...get, message, compression: undefined },
      },
      body,
    };
  }
  return {
    r: { ...r, encoding: undefined },
    body: r.kind === "connect"
      ? await decodeConnectBody(r.encoding, body, max)
      : await decodeGrpcBody(r.encoding, body, max),
  };
}

/** What the HTTP/2 reader needs of a stream. */
interface H2Raw {
  readonly stream: http2.ServerHttp2Stream;
  readonly headers: http2.IncomingHttpHeaders;
}

const h2Reader: RequestReader<H2Raw> = {
  headers: (raw) => toHeaders(raw.headers),
  url: (raw) => {
    const tls = (raw.stream.session?.socket as { encrypted?: boolean } | undefined)?.encrypted;
    return `${tls ? "https" : "http"}://${raw.headers[":authority"] ?? "localhost"}${
      raw.headers[":path"] ?? "/"
    }`;
  },
  // After the answer, "close" finds nobody listening: only a hang-up aborts anyone.
  hangup: (raw, abort) => raw.stream.once("close", () => abort()),
  peer: (raw) => socketPeer(raw.stream.session?.socket),
};

/** The fast path for `node:http2` streams (call it from the server's "stream" event). */
export function createFastStreamHandler(o: FastNodeOptions): FastStreamHandler {
  const { engine, procedures } = o;
  const maxBody = engine.readMaxBytes + 5;
  return (stream, headers) => {
    const header = (name: string) => headers[name] as string | undefined;
    const r = route(
      procedures,
      headers[":method"],
      headers[":path"],
      headers["content-type"],
      header,
      o.cors !== undefined,
    );
    if (r === undefined) return false;
    const raw: H2Raw = { stream, headers };
    const cors = corsOf(o, header);
    const respond = (reply: Reply) => writeH2(stream, withFields(reply, cors));
    if (r.kind === "connect-get") {
      run(engine, r, EMPTY, header, raw, h2Reader).then(respond);
      return true;
    }
    readStream(
      stream,
      maxBody,
      (body) => run(engine, r, body, header, raw, h2Reader).then(respond),
      o.bodyTimeoutMs ?? 0,
    );
    return true;
  };
}

const h1Reader: RequestReader<{ req: http.IncomingMessage; res: http.ServerResponse }> = {
  headers: (raw) => toHeaders(raw.req.headers),
  url: (raw) => `http://${raw.req.headers.host ?? "localhost"}${raw.req.url ?? "/"}`,
  hangup: (raw, abort) => raw.res.once("close", () => abort()),
  peer: (raw) => socketPeer(raw.req.socket),
};

/** The fast path for `node:http` requests (HTTP/1.x). */
export function createFastRequestHandler(o: FastNodeOptions): FastRequestHandler {
  const { engine, procedures } = o;
  const maxBody = engine.readMaxBytes + 5;
  return (req, res) => {
    const headers = req.headers;
    const header = (name: string) => headers[name] as string | undefined;
    const r = route(
      procedures,
      req.method,
      req.url,
      headers["content-type"],
      header,
      o.cors !== undefined,
    );
    if (r === undefined) return false;
    const cors = corsOf(o, header);
    const respond = (reply: Reply) => writeH1(res, withFields(reply, cors));
    const raw = { req, res };
    if (r.kind === "connect-get") {
      run(engine, r, EMPTY, header, raw, h1Reader).then(respond);
      return true;
    }
    readStream(
      req,
      maxBody,
      (body) => run(engine, r, body, header, raw, h1Reader).then(respond),
      o.bodyTimeoutMs ?? 0,
      // The rest of the body may never come: the connection cannot carry another request.
      () => res.setHeader("connection", "close"),
    );
    return true;
  };
}

const EMPTY = new Uint8Array(0);

/** The CORS headers for the request's origin, if it has one. */
function corsOf(
  o: FastNodeOptions,
  header: (name: string) => string | undefined,
): Readonly<Record<string, string>> | undefined {
  const origin = header("origin");
  return origin === undefined ? undefined : o.cors?.(origin);
}

/**
 * Reads a whole body up to `max` bytes; past it, stops reading and reports
 * RESOURCE_EXHAUSTED. A body not complete within `timeoutMs` (0 = no bound)
 * is reported as DEADLINE_EXCEEDED, after `onTimeout`.
 */
function readStream(
  stream: NodeJS.ReadableStream & { destroyed?: boolean },
  max: number,
  done: (body: Uint8Array | ConnectError) => void,
  timeoutMs: number,
  onTimeout?: () => void,
): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let finished = false;
  const deadline = timeoutMs > 0
    ? new BodyDeadline(timeoutMs, () => {
      if (stream.destroyed) return;
      onTimeout?.();
      finish(bodyTimeoutError(timeoutMs));
      stream.resume(); // discard what still comes
    })
    : undefined;
  const finish = (body: Uint8Array | ConnectError) => {
    if (finished) return;
    finished = true;
    deadline?.cancel();
    stream.removeListener("data", onData);
    stream.removeListener("end", onEnd);
    done(body);
  };
  const onData = (chunk: Buffer) => {
    size += chunk.length;
    if (size > max) {
      finish(
        new ConnectError(
          `request body of ${size} bytes is larger than the limit of ${max} bytes`,
          Code.ResourceExhausted,
        ),
      );
      stream.resume(); // discard the rest
      return;
    }
    chunks.push(chunk);
  };
  const onEnd = () => {
    if (chunks.length === 1) return finish(chunks[0]);
    const out = new Uint8Array(size);
    let at = 0;
    for (const c of chunks) {
      out.set(c, at);
      at += c.length;
    }
    finish(out);
  };
  stream.on("data", onData);
  stream.on("end", onEnd);
}

function toHeaders(h: http.IncomingHttpHeaders): Headers {
  const out = new Headers();
  for (const name in h) {
    if (name.startsWith(":")) continue;
    const v = h[name];
    if (Array.isArray(v)) { for (const x of v) out.append(name, x); }
    else if (v !== undefined) out.append(name, String(v));
  }
  return out;
}
