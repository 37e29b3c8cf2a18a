/**
 * The cases of `deno task bench:rpc`: which protocol, HTTP version and port
 * each one drives, the exact request it repeats (the hot key, GetMessage
 * {channelId 1, messageId 1000}), and the h2load command line for it.
 *
 * Case names are `protocol/http/port`, e.g. `connect-proto/h2c/main`,
 * `grpc-web/h1/fast`, `grpc/h2c/floor`; `--cases` selects by substring.
 *
 * @module
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { GetMessageRequestSchema, MessagesService } from "../gen/dataservices/v1/messages_pb.ts";

/** Wire protocols and encodings, as h2load sends them. */
export const RPC_PROTOCOLS = [
  "connect-proto", // Connect unary POST, binary
  "connect-json", // Connect unary POST, JSON
  "connect-get", // Connect unary GET (?connect=v1&encoding=proto&base64=1&message=...)
  "grpc-web", // gRPC-web, binary (application/grpc-web+proto)
  "grpc", // gRPC over HTTP/2 only
] as const;
export type RpcProtocol = typeof RPC_PROTOCOLS[number];

export type HttpVersion = "h2c" | "h1";

/**
 * main: the instance's advertised port (node:http2 + node:http, every
 * protocol); fast: its second listener, when `/healthz` announces one
 * (`"fastPort"`; Connect and gRPC-web only); floor: the grpc-go server.
 */
export type PortKind = "main" | "fast" | "floor";

/** One measured case. */
export interface RpcCase {
  readonly name: string;
  readonly protocol: RpcProtocol;
  readonly http: HttpVersion;
  readonly port: PortKind;
}

/** The hot key every case asks for (the demo row of channel 1). */
export const HOT_KEY = { channelId: 1n, messageId: 1000n } as const;

/** h2load's shape per HTTP version: h2c `-c 4 -m 100`, HTTP/1.1 `--h1 -c 16` (one request per connection at a time). */
export const LOAD_SHAPE = {
  h2c: { clients: 4, streams: 100 },
  h1: { clients: 16, streams: 1 },
} as const;

/** The request a case repeats. */
export interface RpcRequest {
  readonly method: "GET" | "POST";
  /** Path and query. */
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  /** POST body; undefined for GET. */
  readonly body?: Uint8Array;
}

const GET_MESSAGE_PATH = `/${MessagesService.typeName}/${MessagesService.method.getMessage.name}`;

/** GetMessageRequest of the hot key, binary. */
export function hotKeyBinary(): Uint8Array {
  return toBinary(GetMessageRequestSchema, create(GetMessageRequestSchema, HOT_KEY));
}

/** A message in gRPC / gRPC-web length-prefixed framing (flag 0, uncompressed). */
export function grpcFrame(message: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + message.length);
  new DataView(out.buffer).setUint32(1, message.length);
  out.set(message, 5);
  return out;
}

/** base64url without padding, as Connect GET's `message` parameter wants it. */
export function base64Url(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** The hot-key GetMessage request in a protocol. */
export function requestFor(protocol: RpcProtocol): RpcRequest {
  const msg = hotKeyBinary();
  switch (protocol) {
    case "connect-proto":
      return {
        method: "POST",
        path: GET_MESSAGE_PATH,
        headers: { "content-type": "application/proto", "connect-protocol-version": "1" },
        body: msg,
      };
    case "connect-json":
      return {
        method: "POST",
        path: GET_MESSAGE_PATH,
        headers: { "content-type": "application/json", "connect-protocol-version": "1" },
        body: new TextEncoder().encode(
          JSON.stringify({
            channelId: String(HOT_KEY.channelId),
            messageId: String(HOT_KEY.messageId),
          }),
        ),
      };
    case "connect-get":
      return {
        method: "GET",
        path: `${GET_MESSAGE_PATH}?connect=v1&encoding=proto&base64=1&message=${base64Url(msg)}`,
        headers: {},
      };
    case "grpc-web":
      return {
        method: "POST",
        path: GET_MESSAGE_PATH,
        headers: { "content-type": "application/grpc-web+proto", "x-grpc-web": "1" },
        body: grpcFrame(msg),
      };
    case "grpc":
      return {
        method: "POST",
        path: GET_MESSAGE_PATH,
        headers: { "content-type": "application/grpc", te: "trailers" },
        body: grpcFrame(msg),
      };
  }
}

/** `protocol/http/port`. */
export function caseName(protocol: RpcProtocol, http: HttpVersion, port: PortKind): string {
  return `${protocol}/${http}/${port}`;
}

/** Connect and gRPC-web: the protocols a fast (Deno.serve) listener serves. */
const WEB_PROTOCOLS: readonly RpcProtocol[] = [
  "connect-proto",
  "connect-json",
  "connect-get",
  "grpc-web",
];

/**
 * Every case, in run order: the floor first (when asked), then the main
 * port (Connect and gRPC-web over h2c and HTTP/1.1, gRPC over h2c), then
 * the fast port's Connect and gRPC-web cases when it exists.
 */
export function planCases(o: { floor: boolean; fastPort: boolean }): RpcCase[] {
  const out: RpcCase[] = [];
  const add = (protocol: RpcProtocol, http: HttpVersion, port: PortKind) =>
    out.push({ name: caseName(protocol, http, port), protocol, http, port });
  if (o.floor) add("grpc", "h2c", "floor");
  const ports: PortKind[] = o.fastPort ? ["main", "fast"] : ["main"];
  for (const port of ports) {
    for (const http of ["h2c", "h1"] as const) {
      for (const p of WEB_PROTOCOLS) add(p, http, port);
    }
    if (port === "main") add("grpc", "h2c", "main");
  }
  return out;
}

/** Cases whose name contains any of `filters` (all when there are none). */
export function selectCases<T extends { readonly name: string }>(
  cases: readonly T[],
  filters: readonly string[],
): T[] {
  return filters.length === 0
    ? [...cases]
    : cases.filter((c) => filters.some((f) => c.name.includes(f)));
}

/** Requests of one h2load run and where its measured window lies. */
export interface RunPlan {
  /** `-n`: a multiple of 10 (h2load reports progress every tenth). */
  readonly total: number;
  /** The measured window, in tenths of the run: from the progress line `startTenth`0% to `endTenth`0%. */
  readonly startTenth: number;
  readonly endTenth: number;
  /** Requests finished inside the window (exact: progress lines fall on multiples of total/10). */
  readonly measured: number;
}

/**
 * The warm-up is the first 20% of the same h2load run and the measured
 * window ends at 90%, so that at least `requests` calls are measured.
 */
export function planRun(requests: number): RunPlan {
  const tenth = Math.ceil(requests / 7);
  return { total: tenth * 10, startTenth: 2, endTenth: 9, measured: tenth * 7 };
}

/** Options of {@linkcode h2loadArgs}. */
export interface H2loadArgsOptions {
  /** `http://host:port` of the server. */
  readonly baseUrl: string;
  /** `-n`. */
  readonly total: number;
  /** File holding the request body (POST cases). */
  readonly bodyFile?: string;
  /** Override the shape (the 5,000-stream case). */
  readonly clients?: number;
  readonly streams?: number;
}

/** h2load's arguments for a protocol and HTTP version. */
export function h2loadArgs(
  protocol: RpcProtocol,
  http: HttpVersion,
  o: H2loadArgsOptions,
): string[] {
  const req = requestFor(protocol);
  if (req.method === "POST" && o.bodyFile === undefined) {
    throw new Error(`${protocol} posts a body: bodyFile is required`);
  }
  if (protocol === "grpc" && http !== "h2c") throw new Error("gRPC needs HTTP/2 (h2c)");
  const shape = LOAD_SHAPE[http];
  const args = ["-n", String(o.total), "-c", String(o.clients ?? shape.clients)];
  if (http === "h2c") args.push("-m", String(o.streams ?? shape.streams));
  else args.push("--h1");
  if (req.body !== undefined) args.push("-d", o.bodyFile!);
  for (const [k, v] of Object.entries(req.headers)) args.push("-H", `${k}: ${v}`);
  args.push(o.baseUrl + req.path);
  return args;
}
