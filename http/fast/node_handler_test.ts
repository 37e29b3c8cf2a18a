/**
 * The node fast handlers on real servers (node:http2 and node:http on port
 * 0), called with node:http2 and fetch: what is taken, what falls back, the
 * gRPC trailers, the body limit and the client hanging up.
 */
import assert from "node:assert/strict";
import * as http from "node:http";
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { Buffer } from "node:buffer";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { findTrailerError } from "@connectrpc/connect/protocol-grpc";
import {
  type GetMessagesRequest,
  GetMessagesRequestSchema,
  GetMessagesResponseSchema,
  MessagesService,
} from "../../gen/dataservices/v1/messages_pb.ts";
import { withTimeout } from "../../lib/wait.ts";
import { envelope } from "./grpc_wire.ts";
import { createFastRequestHandler, createFastStreamHandler } from "./node_handler.ts";
import { ProcedureTable } from "./procedures.ts";
import { UnaryEngine } from "./unary.ts";

const PATH = "/dataservices.v1.MessagesService/GetMessages";
const READ_MAX = 64;
const REQUEST = toBinary(
  GetMessagesRequestSchema,
  create(GetMessagesRequestSchema, { channelId: 7n }),
);

/**
 * GetMessages: channel 1 fails with NOT_FOUND and metadata, channel 2 sets
 * headers and a trailer, channel 3 waits until its caller goes away.
 */
function service() {
  const hungUp = Promise.withResolvers<unknown>();
  const entered = Promise.withResolvers<void>();
  const procedures = new ProcedureTable().add(MessagesService, {
    async getMessages(req: GetMessagesRequest, ctx: HandlerContext) {
      if (req.channelId === 1n) {
        throw new ConnectError("no channel 1", Code.NotFound, { "x-why": "because" });
      }
      if (req.channelId === 2n) {
        ctx.responseHeader.set("x-h", "1");
        ctx.responseHeader.append("set-cookie", "a=1"); // a field Headers keeps apart
        ctx.responseHeader.append("set-cookie", "b=2");
        ctx.responseTrailer.set("x-t", "2");
      }
      if (req.channelId === 3n) {
        entered.resolve();
        await new Promise<void>((resolve) => {
          ctx.signal.addEventListener("abort", () => {
            hungUp.resolve(ctx.signal.reason);
            resolve();
          });
        });
      }
      return { messages: [{ channelId: req.channelId, content: "hi" }] };
    },
  });
  return { procedures, engine: new UnaryEngine({ readMaxBytes: READ_MAX }), hungUp, entered };
}

const request = (channelId: bigint) =>
  toBinary(GetMessagesRequestSchema, create(GetMessagesRequestSchema, { channelId }));

// --- HTTP/2 -----------------------------------------------------------------------------------

/** An h2c server whose streams go to the fast handler, the rest to a 404 fallback. */
async function h2Server() {
  const s = service();
  const fast = createFastStreamHandler(s);
  const server = http2.createServer();
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (session) => {
    sessions.add(session);
    session.on("close", () => sessions.delete(session));
  });
  let fallen = 0;
  server.on("stream", (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => {
    if (fast(stream, headers)) return;
    fallen++;
    stream.respond({ ":status": 404, "content-type": "text/plain" });
    stream.end("fallback");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  const client = http2.connect(`http://127.0.0.1:${port}`);
  client.on("error", () => {}); // reported by the calls
  return {
    ...s,
    fallen: () => fallen,
    client,
    async [Symbol.asyncDispose]() {
      await new Promise<void>((resolve) => client.close(resolve));
      for (const session of sessions) session.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

interface H2Result {
  headers: http2.IncomingHttpHeaders;
  body: Uint8Array;
  trailers: http2.IncomingHttpHeaders | undefined;
}

/** Node's header object as `Headers`, without pseudo-headers. */
function fieldsOf(h: http2.IncomingHttpHeaders): Headers {
  const out = new Headers();
  for (const [k, v] of Object.entries(h)) {
    if (!k.startsWith(":") && v !== undefined) out.append(k, String(v));
  }
  return out;
}

/** One request on `client`; resolves when the stream ends. */
function h2Call(
  client: http2.ClientHttp2Session,
  headers: http2.OutgoingHttpHeaders,
  body?: Uint8Array,
): Promise<H2Result> {
  return withTimeout(
    new Promise<H2Result>((resolve, reject) => {
      const req = client.request({ ":method": "POST", ":path": PATH, ...headers });
      const chunks: Buffer[] = [];
      let head: http2.IncomingHttpHeaders = {};
      let trailers: http2.IncomingHttpHeaders | undefined;
      req.on("response", (h) => head = h);
      req.on("trailers", (t) => trailers = t);
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => resolve({ headers: head, body: Buffer.concat(chunks), trailers }));
      req.on("error", reject);
      req.end(body);
    }),
    5_000,
    `the answer to ${headers[":path"] ?? PATH}`,
  );
}

Deno.test("node h2 handler: gRPC with its trailers; handler metadata; errors trailers-only", async () => {
  await using s = await h2Server();
  const ok = await h2Call(s.client, { "content-type": "application/grpc" }, envelope(request(2n)));
  assert.equal(ok.headers[":status"], 200);
  assert.equal(ok.headers["content-type"], "application/grpc+proto");
  assert.equal(ok.headers["x-h"], "1");
  assert.deepEqual(ok.headers["set-cookie"], ["a=1", "b=2"]);
  assert.equal(
    fromBinary(GetMessagesResponseSchema, ok.body.subarray(5)).messages[0].channelId,
    2n,
  );
  assert.equal(ok.trailers?.["grpc-status"], "0");
  assert.equal(ok.trailers?.["x-t"], "2");

  const failed = await h2Call(
    s.client,
    { "content-type": "application/grpc" },
    envelope(request(1n)),
  );
  assert.equal(failed.body.length, 0);
  assert.equal(failed.trailers, undefined, "trailers-only: the status is in the headers");
  const error = findTrailerError(fieldsOf(failed.headers));
  assert.equal(error?.code, Code.NotFound);
  assert.equal(error?.rawMessage, "no channel 1");
  assert.equal(failed.headers["x-why"], "because");
  assert.equal(s.fallen(), 0);
});

Deno.test("node h2 handler: Connect POST and GET, gRPC-web; the rest falls back", async () => {
  await using s = await h2Server();
  const connect = await h2Call(s.client, { "content-type": "application/proto" }, REQUEST);
  assert.equal(connect.headers[":status"], 200);
  assert.equal(connect.headers["content-length"], String(connect.body.length));
  assert.equal(fromBinary(GetMessagesResponseSchema, connect.body).messages[0].channelId, 7n);

  const get = await h2Call(s.client, {
    ":method": "GET",
    ":path": `${PATH}?encoding=json&message=${encodeURIComponent('{"channelId":"5"}')}`,
  });
  assert.equal(get.headers[":status"], 200);
  assert.equal(JSON.parse(new TextDecoder().decode(get.body)).messages[0].channelId, "5");

  const web = await h2Call(
    s.client,
    { "content-type": "application/grpc-web+proto" },
    envelope(REQUEST),
  );
  assert.equal(web.headers["content-type"], "application/grpc-web+proto");
  assert.equal(web.trailers, undefined);
  assert.ok(web.body.length > 5 + REQUEST.length, "a message and the trailer frame");

  const fallbacks: http2.OutgoingHttpHeaders[] = [
    { ":path": "/nope", "content-type": "application/proto" },
    { "content-type": "application/connect+proto" },
    { "content-type": "application/grpc", "grpc-encoding": "snappy" },
    { "content-type": "application/proto", "content-encoding": "zstd" },
    { ":method": "PUT", "content-type": "application/proto" },
  ];
  for (const headers of fallbacks) {
    const res = await h2Call(s.client, headers, REQUEST);
    assert.equal(res.headers[":status"], 404, JSON.stringify(headers));
  }
  assert.equal(s.fallen(), fallbacks.length);
});

Deno.test("node h2 handler: a body over the limit is RESOURCE_EXHAUSTED", async () => {
  await using s = await h2Server();
  const grpc = await h2Call(
    s.client,
    { "content-type": "application/grpc" },
    new Uint8Array(READ_MAX + 6),
  );
  const error = findTrailerError(fieldsOf(grpc.headers));
  assert.equal(error?.code, Code.ResourceExhausted);
  const connect = await h2Call(
    s.client,
    { "content-type": "application/json" },
    new Uint8Array(READ_MAX + 1),
  );
  assert.equal(connect.headers[":status"], 429);
});

Deno.test("node h2 handler: the handler sees the client hang up", async () => {
  await using s = await h2Server();
  const req = s.client.request({
    ":method": "POST",
    ":path": PATH,
    "content-type": "application/proto",
  });
  req.on("error", () => {});
  req.end(request(3n));
  await withTimeout(s.entered.promise, 5_000, "the handler to start");
  req.close(http2.constants.NGHTTP2_CANCEL);
  const reason = await withTimeout(s.hungUp.promise, 5_000, "the handler's signal to abort");
  assert.ok(reason instanceof ConnectError);
  assert.equal(reason.code, Code.Canceled);
});

// --- HTTP/1.1 ---------------------------------------------------------------------------------

async function h1Server() {
  const s = service();
  const fast = createFastRequestHandler(s);
  let fallen = 0;
  const server = http.createServer((req, res) => {
    if (fast(req, res)) return;
    fallen++;
    req.resume();
    res.writeHead(404, { "content-type": "text/plain" });
    res.end("fallback");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${PATH}`;
  return {
    ...s,
    url,
    fallen: () => fallen,
    async [Symbol.asyncDispose]() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const post = (url: string, type: string, body: Uint8Array, headers: HeadersInit = {}) =>
  fetch(url, {
    method: "POST",
    headers: { "content-type": type, ...headers },
    body: body as Uint8Array<ArrayBuffer>,
  });

Deno.test("node h1 handler: Connect, gRPC-web and gRPC over HTTP/1.1", async () => {
  await using s = await h1Server();
  const connect = await post(s.url, "application/proto", request(2n));
  assert.equal(connect.status, 200);
  assert.equal(connect.headers.get("x-h"), "1");
  assert.deepEqual(connect.headers.getSetCookie(), ["a=1", "b=2"]);
  assert.equal(connect.headers.get("trailer-x-t"), "2");
  assert.equal(
    fromBinary(GetMessagesResponseSchema, await connect.bytes()).messages[0].channelId,
    2n,
  );

  const failed = await post(
    s.url,
    "application/json",
    new TextEncoder().encode('{"channelId":"1"}'),
  );
  assert.equal(failed.status, 404);
  assert.equal(failed.headers.get("x-why"), "because");
  assert.deepEqual(await failed.json(), { code: "not_found", message: "no channel 1" });

  const web = await post(s.url, "application/grpc-web", envelope(REQUEST));
  assert.equal(web.headers.get("content-type"), "application/grpc-web+proto");
  assert.ok((await web.bytes()).length > 5 + REQUEST.length);

  const get = await fetch(`${s.url}?encoding=proto&base64=1&message=$$`);
  assert.equal(get.status, 400);
  assert.equal((await get.json()).code, "invalid_argument");

  const tooBig = await post(s.url, "application/proto", new Uint8Array(READ_MAX + 1));
  assert.equal(tooBig.status, 429);
  await tooBig.body?.cancel();
  assert.equal(s.fallen(), 0);

  // gRPC over HTTP/1.1: its trailers go in the chunked body's trailer section.
  const grpc = await post(s.url, "application/grpc", envelope(REQUEST));
  assert.equal(grpc.status, 200);
  assert.equal(grpc.headers.get("content-type"), "application/grpc+proto");
  assert.ok((await grpc.bytes()).length > 5, "an enveloped message");
  assert.equal(s.fallen(), 0);
});
