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
import { forEachField, type Reply } from "./reply.ts";
import type { UnaryEngine } from "./unary.ts";
import { resetWhenAnswered } from "../early_answer.ts";

/** Options of the node fast handlers. */
export interface FastNodeOptions {
  readonly engine: UnaryEngine;
  readonly procedures: ProcedureTable;
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
  | { kind: "connect"; proc: Procedure; binary: boolean }
  | { kind: "connect-get"; proc: Procedure; get: ConnectGet | ConnectError }
  | { kind: GrpcKind; proc: Procedure; binary: boolean };

/** Decides from the head alone; undefined leaves the request to the fallback. */
function route(
  procedures: ProcedureTable,
  method: string | undefined,
  path: string | undefined,
  contentType: string | undefined,
  header: (name: string) => string | undefined,
  http2: boolean,
): Route | undefined {
  // Browsers go through the fallback, which answers CORS.
  if (path === undefined || header("origin") !== undefined) return undefined;
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
    const enc = header("content-encoding");
    return enc === undefined || enc === "identity"
      ? { kind: "connect", proc, binary: connect }
      : undefined;
  }
  for (const kind of http2 ? (["grpc", "grpc-web"] as const) : (["grpc-web"] as const)) {
    const binary = grpcType(kind, type);
    if (binary === undefined) continue;
    const enc = header("grpc-encoding");
    return enc === undefined || enc === "identity" ? { kind, proc, binary } : undefined;
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
      true,
    );
    if (r === undefined) return false;
    const raw: H2Raw = { stream, headers };
    const respond = (reply: Reply) => writeH2(stream, reply);
    if (r.kind === "connect-get") {
      run(engine, r, EMPTY, header, raw, h2Reader).then(respond);
      return true;
    }
    readStream(
      stream,
      maxBody,
      (body) => run(engine, r, body, header, raw, h2Reader).then(respond),
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
    const r = route(procedures, req.method, req.url, headers["content-type"], header, false);
    if (r === undefined) return false;
    const respond = (reply: Reply) => writeH1(res, reply);
    const raw = { req, res };
    if (r.kind === "connect-get") {
      run(engine, r, EMPTY, header, raw, h1Reader).then(respond);
      return true;
    }
    readStream(req, maxBody, (body) => run(engine, r, body, header, raw, h1Reader).then(respond));
    return true;
  };
}

const EMPTY = new Uint8Array(0);

/** Reads a whole body up to `max` bytes; past it, stops reading and reports RESOURCE_EXHAUSTED. */
function readStream(
  stream: NodeJS.ReadableStream & { destroyed?: boolean },
  max: number,
  done: (body: Uint8Array | ConnectError) => void,
): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let finished = false;
  const finish = (body: Uint8Array | ConnectError) => {
    if (finished) return;
    finished = true;
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

/** Writes a reply on an HTTP/2 stream (headers, body, trailers). */
export function writeH2(stream: http2.ServerHttp2Stream, reply: Reply): void {
  if (stream.destroyed || stream.closed || stream.headersSent) return;
  // Answered before the client finished sending (an oversized body, a shed call): reset
  // the stream once the answer is out, so the client stops sending.
  if (stream.state.remoteClose !== 1) resetWhenAnswered(stream);
  const head: http2.OutgoingHttpHeaders = {
    ":status": reply.status,
    "content-type": reply.contentType,
  };
  if (reply.headers !== undefined) forEachField(reply.headers, (v, k) => appendField(head, k, v));
  try {
    if (reply.trailersOnly && reply.trailers !== undefined) {
      forEachField(reply.trailers, (v, k) => appendField(head, k, v));
      stream.respond(head, { endStream: true });
      return;
    }
    const trailers = reply.trailers;
    if (trailers === undefined) {
      head["content-length"] = reply.body.length;
      stream.respond(head);
    } else {
      stream.respond(head, { waitForTrailers: true });
      stream.once("wantTrailers", () => {
        const t: http2.OutgoingHttpHeaders = {};
        forEachField(trailers, (v, k) => appendField(t, k, v));
        stream.sendTrailers(t);
      });
    }
    stream.end(reply.body);
  } catch {
    // The stream went away while we answered: nothing left to tell.
    stream.destroy();
  }
}

/** Writes a reply on an HTTP/1.x response. */
export function writeH1(res: http.ServerResponse, reply: Reply): void {
  if (res.headersSent || res.destroyed) return;
  res.statusCode = reply.status;
  res.setHeader("content-type", reply.contentType);
  res.setHeader("content-length", reply.body.length);
  if (reply.headers !== undefined) {
    forEachField(reply.headers, (v, k) => {
      const prev = res.getHeader(k);
      res.setHeader(k, prev === undefined ? v : [...[prev].flat().map(String), v]);
    });
  }
  res.end(reply.body);
}

function appendField(target: Record<string, unknown>, name: string, value: string) {
  const prev = target[name];
  target[name] = prev === undefined ? value : [...[prev].flat(), value];
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
