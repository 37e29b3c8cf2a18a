/**
 * One checked call before each case of `deno task bench:rpc`: the hot-key
 * GetMessage in the case's protocol, over HTTP/1.1 with fetch, decoded and
 * compared with the demo row. It proves that the server answers this
 * request correctly, and gives the exact size of a good response body,
 * which the bench then requires of every call h2load made (h2load sees HTTP
 * statuses only, and gRPC answers errors with HTTP 200).
 *
 * gRPC itself needs HTTP/2 trailers, which fetch cannot read: its good body
 * is the Connect binary body in one gRPC frame (5 more bytes).
 *
 * @module
 */
import { fromBinary, fromJsonString } from "@bufbuild/protobuf";
import {
  type GetMessageResponse,
  GetMessageResponseSchema,
} from "../gen/dataservices/v1/messages_pb.ts";
import { HOT_KEY, requestFor, type RpcProtocol } from "./bench_rpc_cases.ts";

/** A message of a gRPC-web body: data (flag 0) or trailers (flag 0x80). */
export interface GrpcWebFrame {
  readonly flags: number;
  readonly data: Uint8Array;
}

/** Splits a gRPC-web body into its length-prefixed frames. @throws {Error} when truncated. */
export function grpcWebFrames(body: Uint8Array): GrpcWebFrame[] {
  const out: GrpcWebFrame[] = [];
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  let at = 0;
  while (at < body.length) {
    if (at + 5 > body.length) throw new Error(`gRPC-web body: truncated frame header at ${at}`);
    const len = view.getUint32(at + 1);
    if (at + 5 + len > body.length) throw new Error(`gRPC-web body: truncated frame at ${at}`);
    out.push({ flags: body[at], data: body.subarray(at + 5, at + 5 + len) });
    at += 5 + len;
  }
  return out;
}

/** The `grpc-status` of a gRPC-web trailer frame's text, or undefined. */
export function trailerStatus(text: string): string | undefined {
  const m = /^grpc-status:\s*(\d+)\s*$/im.exec(text);
  return m?.[1];
}

/** Throws unless the response carries the hot key's demo row. */
export function checkHotKeyResponse(r: GetMessageResponse, where: string): void {
  const m = r.message;
  if (m?.channelId !== HOT_KEY.channelId || m.messageId !== HOT_KEY.messageId) {
    throw new Error(
      `${where}: expected message ${HOT_KEY.channelId}/${HOT_KEY.messageId}, got ${
        m ? `${m.channelId}/${m.messageId}` : "none"
      } (is the demo data loaded? deno task start writes it)`,
    );
  }
}

/**
 * Makes the hot-key call once in `protocol` (not gRPC) and checks the answer.
 * Returns the size of the response body in bytes.
 *
 * @throws {Error} naming the protocol and URL when the answer is not the demo row.
 */
export async function probe(
  baseUrl: string,
  protocol: Exclude<RpcProtocol, "grpc">,
): Promise<number> {
  const req = requestFor(protocol);
  const url = baseUrl + req.path;
  const where = `${protocol} probe of ${url}`;
  const res = await fetch(url, {
    method: req.method,
    headers: req.headers,
    body: req.body as BodyInit | undefined,
    signal: AbortSignal.timeout(10_000),
  }).catch((err) => {
    throw new Error(`${where}: ${(err as Error).message}`);
  });
  const body = new Uint8Array(await res.arrayBuffer());
  const type = res.headers.get("content-type") ?? "";
  if (res.status !== 200) {
    throw new Error(`${where}: HTTP ${res.status} ${new TextDecoder().decode(body).slice(0, 200)}`);
  }
  switch (protocol) {
    case "connect-proto":
    case "connect-get":
      if (!type.startsWith("application/proto")) throw new Error(`${where}: content-type ${type}`);
      checkHotKeyResponse(fromBinary(GetMessageResponseSchema, body), where);
      break;
    case "connect-json":
      if (!type.startsWith("application/json")) throw new Error(`${where}: content-type ${type}`);
      checkHotKeyResponse(
        fromJsonString(GetMessageResponseSchema, new TextDecoder().decode(body)),
        where,
      );
      break;
    case "grpc-web": {
      if (!type.startsWith("application/grpc-web")) {
        throw new Error(`${where}: content-type ${type}`);
      }
      const headerStatus = res.headers.get("grpc-status");
      if (headerStatus !== null && headerStatus !== "0") {
        throw new Error(`${where}: grpc-status ${headerStatus} ${res.headers.get("grpc-message")}`);
      }
      const frames = grpcWebFrames(body);
      const data = frames.filter((f) => (f.flags & 0x80) === 0);
      const trailers = frames.filter((f) => (f.flags & 0x80) !== 0);
      if (data.length !== 1) throw new Error(`${where}: ${data.length} data frames`);
      const status = trailers.length === 1
        ? trailerStatus(new TextDecoder().decode(trailers[0].data))
        : undefined;
      if (status !== "0") throw new Error(`${where}: trailer grpc-status ${status}`);
      checkHotKeyResponse(fromBinary(GetMessageResponseSchema, data[0].data), where);
      break;
    }
  }
  return body.length;
}
