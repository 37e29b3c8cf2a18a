import assert from "node:assert/strict";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { base64Encode } from "@bufbuild/protobuf/wire";
import { Code, type HandlerContext } from "@connectrpc/connect";
import { findTrailerError } from "@connectrpc/connect/protocol-grpc";
import { trailerFlag, trailerParse } from "@connectrpc/connect/protocol-grpc-web";
import {
  type GetMessagesRequest,
  GetMessagesRequestSchema,
  GetMessagesResponseSchema,
  MessagesService,
} from "../../gen/dataservices/v1/messages_pb.ts";
import { createFastFetchHandler, type FastFetchOptions } from "./fetch_handler.ts";
import { envelope } from "./grpc_wire.ts";
import { ProcedureTable } from "./procedures.ts";
import { UnaryEngine } from "./unary.ts";

const BASE = "http://127.0.0.1:1";
const GET_MESSAGES = `${BASE}/dataservices.v1.MessagesService/GetMessages`;
const CREATE = `${BASE}/dataservices.v1.MessagesService/CreateMessage`;
const READ_MAX = 64;
const REQUEST = toBinary(
  GetMessagesRequestSchema,
  create(GetMessagesRequestSchema, { channelId: 7n }),
);

/** A fast handler over GetMessages/CreateMessage; records the calls and what fell back. */
function setup(options: Partial<FastFetchOptions> = {}) {
  const calls: { channelId: bigint; method: string; protocol: string }[] = [];
  const fallen: Request[] = [];
  const procedures = new ProcedureTable().add(MessagesService, {
    getMessages(req: GetMessagesRequest, ctx: HandlerContext) {
      calls.push({
        channelId: req.channelId,
        method: ctx.requestMethod,
        protocol: ctx.protocolName,
      });
      if (req.limit === 1) {
        ctx.responseHeader.set("x-h", "1");
        ctx.responseTrailer.set("x-t", "2");
      }
      return { messages: [{ channelId: req.channelId, content: "hi" }] };
    },
    createMessage: () => ({}),
  });
  const handler = createFastFetchHandler({
    engine: new UnaryEngine({ readMaxBytes: READ_MAX }),
    procedures,
    fallback: (req) => {
      fallen.push(req);
      return new Response("fallback", { status: 418 });
    },
    ...options,
  });
  return { handler: (req: Request) => Promise.resolve(handler(req)), calls, fallen };
}

function post(
  url: string,
  type: string | null,
  body: BodyInit | Uint8Array,
  headers: HeadersInit = {},
) {
  const h = new Headers(headers);
  if (type !== null) h.set("content-type", type);
  return new Request(url, { method: "POST", headers: h, body: body as BodyInit });
}

/** A body without a content length, in the given chunks. */
function streamed(...chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(c) {
      for (const chunk of chunks) c.enqueue(chunk);
      c.close();
    },
  });
}

async function json(res: Response) {
  return JSON.parse(await res.text());
}

/** The gRPC-web status of a response body (the trailer frame, read back by connect-es). */
async function webStatus(res: Response) {
  const body = await res.bytes();
  let at = 0;
  while (body[at] !== trailerFlag) at += 5 + new DataView(body.buffer, at + 1).getUint32(0);
  const trailer = trailerParse(body.subarray(at + 5));
  return { trailer, error: findTrailerError(trailer) };
}

// --- routing ----------------------------------------------------------------------------------

Deno.test("fetch handler: Connect POST to a served path is answered on the fast path", async () => {
  const s = setup();
  const res = await s.handler(post(GET_MESSAGES, "application/proto", REQUEST));
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "application/proto");
  const out = fromBinary(GetMessagesResponseSchema, await res.bytes());
  assert.equal(out.messages[0].channelId, 7n);
  assert.deepEqual(s.calls, [{ channelId: 7n, method: "POST", protocol: "connect" }]);
  assert.equal(s.fallen.length, 0);
});

Deno.test("fetch handler: JSON, charset variants and a query string on POST", async () => {
  const s = setup();
  for (const type of ["application/json", "application/json; charset=utf-8"]) {
    const res = await s.handler(post(`${GET_MESSAGES}?x=1`, type, '{"channelId":"3"}'));
    assert.equal(res.status, 200, type);
    assert.equal(res.headers.get("content-type"), "application/json");
    assert.deepEqual(await json(res), { messages: [{ channelId: "3", content: "hi" }] });
  }
  assert.equal(s.fallen.length, 0);
});

Deno.test("fetch handler: what it does not take goes to the fallback untouched", async () => {
  const s = setup();
  const cases: [string, Request][] = [
    ["unknown path", post(`${BASE}/dataservices.v1.MessagesService/Nope`, "application/proto", "")],
    ["plain route", new Request(`${BASE}/healthz`)],
    [
      "path under a prefix",
      post(`${BASE}/api${new URL(GET_MESSAGES).pathname}`, "application/proto", ""),
    ],
    ["PUT", new Request(GET_MESSAGES, { method: "PUT", body: REQUEST })],
    ["no content type", post(GET_MESSAGES, null, REQUEST)],
    ["Connect streaming", post(GET_MESSAGES, "application/connect+proto", REQUEST)],
    ["native gRPC (no trailers in Deno.serve)", post(GET_MESSAGES, "application/grpc", REQUEST)],
    ["gRPC-web text", post(GET_MESSAGES, "application/grpc-web-text", "AAAAAAA=")],
    ["text/plain", post(GET_MESSAGES, "text/plain", "hi")],
    [
      "Connect compressed with an unknown encoding",
      post(GET_MESSAGES, "application/proto", REQUEST, { "content-encoding": "zstd" }),
    ],
    [
      "gRPC-web compressed with an unknown encoding",
      post(GET_MESSAGES, "application/grpc-web", REQUEST, { "grpc-encoding": "snappy" }),
    ],
    ["GET without a query", new Request(GET_MESSAGES)],
    ["GET of a method with side effects", new Request(`${CREATE}?encoding=json&message=%7B%7D`)],
    [
      "GET with an unknown compression",
      new Request(`${GET_MESSAGES}?encoding=proto&compression=snappy&message=`),
    ],
    ["GET of an unknown encoding", new Request(`${GET_MESSAGES}?encoding=xml&message=`)],
  ];
  for (const [what, req] of cases) {
    const res = await s.handler(req);
    assert.equal(res.status, 418, what);
    assert.equal(s.fallen.at(-1), req, `${what}: the same request`);
    await res.body?.cancel();
  }
  assert.equal(s.fallen.length, cases.length);
  assert.deepEqual(s.calls, []);
});

Deno.test("fetch handler: identity encodings are taken", async () => {
  const s = setup();
  const connect = await s.handler(
    post(GET_MESSAGES, "application/proto", REQUEST, { "content-encoding": "identity" }),
  );
  assert.equal(connect.status, 200);
  await connect.body?.cancel();
  const web = await s.handler(
    post(GET_MESSAGES, "application/grpc-web", envelope(REQUEST), { "grpc-encoding": "identity" }),
  );
  assert.equal((await webStatus(web)).error, undefined);
  assert.equal(s.calls.length, 2);
});

Deno.test("fetch handler: Connect GET, base64 proto or JSON text", async () => {
  const s = setup();
  const b64 = base64Encode(REQUEST, "url");
  const proto = await s.handler(
    new Request(`${GET_MESSAGES}?encoding=proto&base64=1&message=${b64}`),
  );
  assert.equal(proto.status, 200);
  assert.equal(
    fromBinary(GetMessagesResponseSchema, await proto.bytes()).messages[0].channelId,
    7n,
  );
  const text = await s.handler(
    new Request(`${GET_MESSAGES}?encoding=json&message=${encodeURIComponent('{"channelId":"5"}')}`),
  );
  assert.deepEqual(await json(text), { messages: [{ channelId: "5", content: "hi" }] });
  assert.deepEqual(s.calls.map((c) => [c.channelId, c.method]), [[7n, "GET"], [5n, "GET"]]);
});

Deno.test("fetch handler: a Connect GET with broken base64 is INVALID_ARGUMENT", async () => {
  const s = setup();
  const res = await s.handler(new Request(`${GET_MESSAGES}?encoding=proto&base64=1&message=a$b`));
  assert.equal(res.status, 400);
  assert.equal((await json(res)).code, "invalid_argument");
  assert.equal(s.fallen.length, 0);
  assert.deepEqual(s.calls, []);
});

Deno.test("fetch handler: gRPC-web, binary and JSON", async () => {
  const s = setup();
  const res = await s.handler(post(GET_MESSAGES, "application/grpc-web+proto", envelope(REQUEST)));
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "application/grpc-web+proto");
  const body = await res.clone().bytes();
  const length = new DataView(body.buffer, 1).getUint32(0);
  const out = fromBinary(GetMessagesResponseSchema, body.subarray(5, 5 + length));
  assert.equal(out.messages[0].channelId, 7n);
  const { trailer, error } = await webStatus(res);
  assert.equal(error, undefined);
  assert.equal(trailer.get("grpc-status"), "0");

  const j = await s.handler(
    post(GET_MESSAGES, "application/grpc-web+json", envelope(new TextEncoder().encode("{}"))),
  );
  assert.equal(j.headers.get("content-type"), "application/grpc-web+json");
  assert.equal((await webStatus(j)).error, undefined);
  assert.deepEqual(s.calls.map((c) => c.protocol), ["grpc-web", "grpc-web"]);
});

Deno.test("fetch handler: handler headers and trailers reach the response", async () => {
  const s = setup();
  const req = create(GetMessagesRequestSchema, { channelId: 1n, limit: 1 });
  const res = await s.handler(
    post(GET_MESSAGES, "application/proto", toBinary(GetMessagesRequestSchema, req)),
  );
  assert.equal(res.headers.get("x-h"), "1");
  assert.equal(res.headers.get("trailer-x-t"), "2");
  assert.equal(res.headers.get("content-type"), "application/proto");
  await res.body?.cancel();
});

Deno.test("fetch handler: decorate adds headers to every fast reply, errors included", async () => {
  const seen: Request[] = [];
  const s = setup({
    decorate: (req, headers) => {
      seen.push(req);
      headers.set("access-control-allow-origin", "http://example.com");
    },
  });
  const ok = post(GET_MESSAGES, "application/proto", REQUEST);
  const tooBig = post(GET_MESSAGES, "application/proto", new Uint8Array(READ_MAX + 1));
  for (const req of [ok, tooBig]) {
    const res = await s.handler(req);
    assert.equal(res.headers.get("access-control-allow-origin"), "http://example.com");
    assert.ok(res.headers.get("content-type")?.startsWith("application/"));
    await res.body?.cancel();
  }
  assert.deepEqual(seen, [ok, tooBig]);
});

// --- body limits ------------------------------------------------------------------------------

Deno.test("fetch handler: a Connect body over readMaxBytes is RESOURCE_EXHAUSTED, by content-length or while read", async () => {
  const s = setup();
  const big = new Uint8Array(READ_MAX + 1);
  let pulled = 0;
  const unread = new ReadableStream<Uint8Array>({
    pull(c) {
      pulled++;
      c.enqueue(big);
      c.close();
    },
  }, { highWaterMark: 0 }); // pulled only when read
  const byLength = await s.handler(
    post(GET_MESSAGES, "application/proto", unread, { "content-length": String(big.length) }),
  );
  assert.equal(byLength.status, 429);
  assert.equal((await json(byLength)).code, "resource_exhausted");
  assert.equal(pulled, 0, "refused by its content-length without reading it");

  const half = new Uint8Array(READ_MAX / 2 + 1);
  const whileRead = await s.handler(post(GET_MESSAGES, "application/proto", streamed(half, half)));
  assert.equal(whileRead.status, 429);
  assert.equal((await json(whileRead)).code, "resource_exhausted");
  assert.deepEqual(s.calls, []);
});

Deno.test("fetch handler: a body of exactly readMaxBytes is read whole, in chunks or not", async () => {
  const s = setup({
    procedures: new ProcedureTable().add(MessagesService, {
      createMessage: (req) => ({ message: { content: req.content } }),
    }),
  });
  // A CreateMessageRequest of READ_MAX bytes: field 3 (content), length, text.
  const text = "x".repeat(READ_MAX - 2);
  const body = new Uint8Array([0x1a, text.length, ...new TextEncoder().encode(text)]);
  assert.equal(body.length, READ_MAX);
  for (
    const b of [
      body,
      streamed(body.subarray(0, 10), body.subarray(10, 30), body.subarray(30)),
      streamed(body),
    ]
  ) {
    const res = await s.handler(post(CREATE, "application/proto", b));
    assert.equal(res.status, 200);
    const content = (await res.bytes()).length;
    assert.ok(content > READ_MAX, "the response carries the content back");
  }
});

Deno.test("fetch handler: gRPC-web allows one envelope header more, then RESOURCE_EXHAUSTED", async () => {
  const s = setup();
  const ok = await s.handler(
    post(GET_MESSAGES, "application/grpc-web", envelope(new Uint8Array(READ_MAX))),
  );
  // READ_MAX zero bytes are no valid GetMessagesRequest, but they got past the limit.
  assert.notEqual((await webStatus(ok)).error?.code, Code.ResourceExhausted);
  for (
    const body of [envelope(new Uint8Array(READ_MAX + 1)), streamed(new Uint8Array(READ_MAX + 6))]
  ) {
    const res = await s.handler(post(GET_MESSAGES, "application/grpc-web", body));
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "application/grpc-web+proto");
    assert.equal((await webStatus(res)).error?.code, Code.ResourceExhausted);
  }
});

Deno.test("fetch handler: a body that fails while read is INVALID_ARGUMENT", async () => {
  const s = setup();
  const failing = () =>
    new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new Uint8Array([8]));
      },
      pull(c) {
        c.error(new Error("connection reset"));
      },
    });
  const connect = await s.handler(post(GET_MESSAGES, "application/proto", failing()));
  assert.equal(connect.status, 400);
  assert.equal((await json(connect)).code, "invalid_argument");
  const withLength = await s.handler(
    post(GET_MESSAGES, "application/proto", failing(), { "content-length": "3" }),
  );
  assert.equal(withLength.status, 400);
  await withLength.body?.cancel();
  const web = await s.handler(post(GET_MESSAGES, "application/grpc-web", failing()));
  assert.equal((await webStatus(web)).error?.code, Code.InvalidArgument);
  assert.deepEqual(s.calls, []);
});

Deno.test("fetch handler: no body is an empty message", async () => {
  const s = setup();
  const res = await s.handler(
    new Request(GET_MESSAGES, {
      method: "POST",
      headers: { "content-type": "application/proto" },
    }),
  );
  assert.equal(res.status, 200);
  await res.body?.cancel();
  assert.deepEqual(s.calls.map((c) => c.channelId), [0n]);
});

Deno.test("fetch handler: timeouts are read from the protocol's header", async () => {
  const s = setup();
  const connect = await s.handler(
    post(GET_MESSAGES, "application/proto", REQUEST, { "connect-timeout-ms": "soon" }),
  );
  assert.equal(connect.status, 400);
  await connect.body?.cancel();
  const web = await s.handler(
    post(GET_MESSAGES, "application/grpc-web", envelope(REQUEST), { "grpc-timeout": "soon" }),
  );
  assert.equal((await webStatus(web)).error?.code, Code.InvalidArgument);
  const get = await s.handler(
    new Request(`${GET_MESSAGES}?encoding=json&message=%7B%7D`, {
      headers: { "connect-timeout-ms": "soon" },
    }),
  );
  assert.equal(get.status, 400);
  await get.body?.cancel();
  assert.deepEqual(s.calls, []);
});
