/**
 * The gRPC and gRPC-web unary encodings for the fast path: the 5-byte
 * envelope around each message, and the status that gRPC sends as HTTP
 * trailers and gRPC-web as a final envelope. Status fields are written by
 * connect-es's own `setTrailerStatus`, so both paths answer alike.
 *
 * @module
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { trailerFlag, trailerSerialize } from "@connectrpc/connect/protocol-grpc-web";
import type { FastContext } from "./context.ts";
import type { Reply } from "./reply.ts";

/** Which of the two protocols. */
export type GrpcKind = "grpc" | "grpc-web";

/** Content types the fast path takes: true = binary, false = JSON; `-text` goes to the fallback. */
export function grpcType(kind: GrpcKind, contentType: string | null): boolean | undefined {
  if (contentType === null) return undefined;
  const base = kind === "grpc" ? "application/grpc" : "application/grpc-web";
  if (contentType === base || contentType === `${base}+proto`) return true;
  if (!contentType.startsWith(base)) return undefined;
  const rest = contentType.slice(base.length);
  if (/^\+json(?:; ?charset=utf-?8)?$/i.test(rest)) return false;
  return undefined;
}

/** Response content type for the request's format. */
export function grpcContentType(kind: GrpcKind, binary: boolean): string {
  return kind === "grpc"
    ? (binary ? "application/grpc+proto" : "application/grpc+json")
    : (binary ? "application/grpc-web+proto" : "application/grpc-web+json");
}

/**
 * The one message of a unary request body: exactly one envelope with flags 0.
 * Throws INVALID_ARGUMENT for anything malformed (flags 2–255, a torn
 * envelope, bytes after the message that are not a whole second envelope),
 * RESOURCE_EXHAUSTED over `readMaxBytes`, UNIMPLEMENTED (as connect-es and
 * connect-go) for an empty body or a second message, and INTERNAL for a
 * compressed message (flags 1): the adapters decompress messages under a
 * `grpc-encoding` first, so this one came without any, which the gRPC and
 * Connect protocols answer with INTERNAL (the conformance suite's
 * "unexpected-compressed-message" case requires it).
 */
export function unwrapUnary(body: Uint8Array, readMaxBytes: number): Uint8Array {
  if (body.length < 5) {
    throw new ConnectError(
      body.length === 0
        ? "protocol error: missing input message for unary method"
        : `protocol error: incomplete envelope (${body.length} bytes)`,
      body.length === 0 ? Code.Unimplemented : Code.InvalidArgument,
    );
  }
  const flags = body[0];
  const length = ((body[1] << 24) | (body[2] << 16) | (body[3] << 8) | body[4]) >>> 0;
  if (flags === 1) {
    throw new ConnectError(
      "protocol error: compressed message (flags 1) in a request without grpc-encoding",
      Code.Internal,
    );
  }
  if (flags !== 0) {
    throw new ConnectError(`protocol error: invalid envelope flags ${flags}`, Code.InvalidArgument);
  }
  if (length > readMaxBytes) {
    throw new ConnectError(
      `message size ${length} is larger than configured readMaxBytes ${readMaxBytes}`,
      Code.ResourceExhausted,
    );
  }
  if (body.length < 5 + length) {
    throw new ConnectError(
      `protocol error: envelope announces ${length} bytes, ${body.length - 5} received`,
      Code.InvalidArgument,
    );
  }
  if (body.length > 5 + length) {
    const rest = body.length - 5 - length;
    const next = 5 + length;
    const nextLength = rest >= 5
      ? ((body[next + 1] << 24) | (body[next + 2] << 16) | (body[next + 3] << 8) |
        body[next + 4]) >>>
        0
      : -1;
    if (nextLength < 0 || rest < 5 + nextLength) {
      throw new ConnectError(
        `protocol error: ${rest} bytes after the message are not an envelope`,
        Code.InvalidArgument,
      );
    }
    throw new ConnectError(
      "protocol error: received extra input message for unary method",
      Code.Unimplemented,
    );
  }
  return body.subarray(5);
}

/** `message` in an envelope with flags 0. */
export function envelope(message: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + message.length);
  const n = message.length;
  out[1] = n >>> 24;
  out[2] = (n >>> 16) & 0xff;
  out[3] = (n >>> 8) & 0xff;
  out[4] = n & 0xff;
  out.set(message, 5);
  return out;
}

const OK_TRAILERS: Readonly<Record<string, string>> = Object.freeze({ "grpc-status": "0" });
const OK_WEB_TRAILER = webTrailer(new Headers(OK_TRAILERS));

/** The gRPC-web trailer envelope for `trailers`. */
function webTrailer(trailers: Headers): Uint8Array {
  const data = trailerSerialize(trailers);
  const out = envelope(data);
  out[0] = trailerFlag;
  return out;
}

/** Caches per encoded message, so coalesced callers share one framed body. */
const framed = new WeakMap<Uint8Array, Uint8Array>();
const framedWeb = new WeakMap<Uint8Array, Uint8Array>();

/** A successful reply carrying the encoded `message`. */
export function grpcOk(
  kind: GrpcKind,
  message: Uint8Array,
  binary: boolean,
  ctx: FastContext,
): Reply {
  const contentType = grpcContentType(kind, binary);
  const custom = ctx.hasResponseMetadata;
  const headers = custom ? ctx.responseHeader : undefined;
  if (kind === "grpc") {
    let body = framed.get(message);
    if (body === undefined) framed.set(message, body = envelope(message));
    const trailers = custom ? withStatus(ctx.responseTrailer, undefined) : OK_TRAILERS;
    return { status: 200, contentType, body, headers, trailers };
  }
  if (custom) {
    const trailer = webTrailer(withStatus(ctx.responseTrailer, undefined));
    return { status: 200, contentType, body: concat(envelope(message), trailer), headers };
  }
  let body = framedWeb.get(message);
  if (body === undefined) framedWeb.set(message, body = concat(envelope(message), OK_WEB_TRAILER));
  return { status: 200, contentType, body, headers };
}

/**
 * An error reply. gRPC: "trailers-only" (the status travels in the headers).
 * gRPC-web: headers, then the status in the trailer envelope.
 */
export function grpcError(
  kind: GrpcKind,
  error: ConnectError,
  binary: boolean,
  ctx: FastContext | undefined,
): Reply {
  const contentType = grpcContentType(kind, binary);
  const trailers = new Headers();
  if (ctx?.hasResponseMetadata) {
    ctx.responseTrailer.forEach((v, k) => trailers.append(k, v));
  }
  setTrailerStatus(trailers, error); // with the error's metadata (not a wire error's)
  const headers = ctx?.hasResponseMetadata ? ctx.responseHeader : undefined;
  if (kind === "grpc") {
    if (headers !== undefined) headers.forEach((v, k) => trailers.append(k, v));
    return { status: 200, contentType, body: EMPTY, trailers, trailersOnly: true };
  }
  return { status: 200, contentType, body: webTrailer(trailers), headers };
}

const EMPTY = new Uint8Array(0);

function withStatus(trailers: Headers, error: ConnectError | undefined): Headers {
  const out = new Headers(trailers);
  setTrailerStatus(out, error);
  return out;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
