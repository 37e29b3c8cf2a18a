/**
 * The Connect protocol's unary encoding for the fast path: what a request
 * looks like (POST body or GET query) and how replies and errors are written.
 * Error bodies, HTTP statuses and timeouts come from connect-es's own
 * protocol helpers, so both paths answer alike.
 *
 * @module
 */
import { base64Decode } from "@bufbuild/protobuf/wire";
import { Code, ConnectError } from "@connectrpc/connect";
import { mergeNonProtocolHeaders } from "@connectrpc/connect/protocol";
import {
  codeToHttpStatus,
  contentTypeUnaryJson,
  contentTypeUnaryProto,
  errorToJsonBytes,
  trailerMux,
} from "@connectrpc/connect/protocol-connect";
import type { FastContext } from "./context.ts";
import type { Reply } from "./reply.ts";
import { takesEncoding } from "./request_encoding.ts";

/** Connect unary content types the fast path takes: true = binary, false = JSON. */
export function connectUnaryType(contentType: string | null): boolean | undefined {
  switch (contentType) {
    case "application/proto":
      return true;
    case "application/json":
    case "application/json; charset=utf-8":
    case "application/json;charset=utf-8":
      return false;
  }
  if (contentType === null) return undefined;
  // Rare spellings (case, utf8); streaming types go to the fallback.
  const m = /^application\/(?:(proto)|json(?:; ?charset=utf-?8)?)$/i.exec(contentType);
  return m === null ? undefined : m[1] !== undefined;
}

/** A Connect GET request decoded from its query string. */
export interface ConnectGet {
  readonly binary: boolean;
  /** The message, still compressed when `compression` says so. */
  readonly message: Uint8Array;
  /** The `compression` parameter ("gzip", "br", "identity"), if any. */
  readonly compression?: string;
}

const textEncoder = new TextEncoder();

/**
 * Reads `encoding`, `message`, `base64` and `compression` from a GET query
 * (without the leading "?"). Undefined when the fast path does not take it
 * (an unknown encoding or compression: the fallback answers those); throws
 * INVALID_ARGUMENT for a malformed message.
 */
export function parseConnectGet(query: string): ConnectGet | undefined {
  const params = new URLSearchParams(query);
  const encoding = params.get("encoding");
  if (encoding !== "proto" && encoding !== "json") return undefined;
  const compression = params.get("compression");
  if (!takesEncoding(compression)) return undefined;
  const message = params.get("message") ?? "";
  let bytes: Uint8Array;
  if (params.get("base64") === "1") {
    if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(message)) {
      throw new ConnectError("message query parameter is not base64", Code.InvalidArgument);
    }
    try {
      bytes = base64Decode(message);
    } catch (e) {
      throw ConnectError.from(e, Code.InvalidArgument);
    }
  } else {
    bytes = textEncoder.encode(message);
  }
  return { binary: encoding === "proto", message: bytes, compression: compression ?? undefined };
}

/** A successful unary reply. */
export function connectOk(body: Uint8Array, binary: boolean, ctx: FastContext): Reply {
  const contentType = binary ? contentTypeUnaryProto : contentTypeUnaryJson;
  if (!ctx.hasResponseMetadata) return { status: 200, contentType, body };
  return { status: 200, contentType, body, headers: metadata(ctx) };
}

/** An error reply: HTTP status from the code, the error as JSON. */
export function connectError(error: ConnectError, ctx: FastContext | undefined): Reply {
  let headers: Headers | undefined;
  if (ctx?.hasResponseMetadata) headers = metadata(ctx);
  if (!error.isWireError && hasFields(error.metadata)) {
    headers ??= new Headers();
    mergeNonProtocolHeaders(headers, error.metadata);
  }
  return {
    status: codeToHttpStatus(error.code),
    contentType: contentTypeUnaryJson,
    body: errorToJsonBytes(error, undefined),
    headers,
  };
}

/** Response headers and trailers (as `trailer-` headers) the handler set. */
function metadata(ctx: FastContext): Headers {
  return trailerMux(ctx.responseHeader, ctx.responseTrailer);
}

function hasFields(h: Headers): boolean {
  for (const _ of h.keys()) return true;
  return false;
}
