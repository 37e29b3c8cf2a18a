/**
 * Compressed unary requests on the fast path: Connect bodies and GET messages
 * under `content-encoding`/`compression`, gRPC and gRPC-web messages under
 * `grpc-encoding`, with the gzip and brotli that connect-node's adapter
 * accepts. Taking them here (rather than leaving them to connect-es) keeps
 * one set of answers for malformed input: connect-es answers an undecodable
 * binary message with INTERNAL, and a torn gzip stream too.
 *
 * Decompression is bounded by `readMaxBytes` (zlib's `maxOutputLength`: a
 * small body that inflates past it stops there with RESOURCE_EXHAUSTED);
 * every other decompression failure is the client's: INVALID_ARGUMENT.
 *
 * @module
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { Compression } from "@connectrpc/connect/protocol";
import { compressionBrotli, compressionGzip } from "@connectrpc/connect-node";

const ENCODINGS: ReadonlyMap<string, Compression> = new Map([
  ["gzip", compressionGzip],
  ["br", compressionBrotli],
]);

/**
 * Whether the fast path takes a request under this encoding: none,
 * "identity", "gzip" or "br". Other names go to connect-es, which answers
 * UNIMPLEMENTED naming the ones it accepts, without reading the body.
 */
export function takesEncoding(name: string | null | undefined): boolean {
  return name === undefined || name === null || name === "identity" || ENCODINGS.has(name);
}

function compression(name: string | null | undefined): Compression | undefined {
  return name === undefined || name === null ? undefined : ENCODINGS.get(name);
}

/** A Connect body (or GET message) under `name`, decompressed; errors as ConnectErrors. */
export async function decodeConnectBody(
  name: string | null | undefined,
  body: Uint8Array,
  readMaxBytes: number,
): Promise<Uint8Array | ConnectError> {
  const c = compression(name);
  if (c === undefined) return body;
  try {
    return await c.decompress(body, readMaxBytes);
  } catch (e) {
    return decompressionError(e);
  }
}

/**
 * A gRPC (or gRPC-web) unary body under `name`: an envelope with the
 * compressed flag is decompressed and framed again with flags 0; anything
 * else is returned as it is, for `unwrapUnary` to judge (a message with
 * flags 0 is allowed under any grpc-encoding).
 */
export async function decodeGrpcBody(
  name: string | null | undefined,
  body: Uint8Array,
  readMaxBytes: number,
): Promise<Uint8Array | ConnectError> {
  const c = compression(name);
  if (c === undefined || body.length < 5 || body[0] !== 1) return body;
  const length = ((body[1] << 24) | (body[2] << 16) | (body[3] << 8) | body[4]) >>> 0;
  if (body.length !== 5 + length || length > readMaxBytes) {
    // Torn, trailing or too large: unwrapUnary names it (as if uncompressed).
    const copy = body.slice();
    copy[0] = 0;
    return copy;
  }
  let message: Uint8Array;
  try {
    message = await c.decompress(body.subarray(5), readMaxBytes);
  } catch (e) {
    return decompressionError(e);
  }
  const out = new Uint8Array(5 + message.length);
  new DataView(out.buffer).setUint32(1, message.length);
  out.set(message, 5);
  return out;
}

/** connect-node's decompression errors, with the ones it calls INTERNAL made the client's. */
function decompressionError(e: unknown): ConnectError {
  const err = ConnectError.from(e, Code.InvalidArgument);
  if (err.code !== Code.Internal) return err;
  const cause = err.cause instanceof Error ? `: ${err.cause.message}` : "";
  return new ConnectError(`decompression failed${cause}`, Code.InvalidArgument);
}
