import assert from "node:assert/strict";
import { base64Encode } from "@bufbuild/protobuf/wire";
import { Code, ConnectError } from "@connectrpc/connect";
import { errorToJsonBytes, parseContentType } from "@connectrpc/connect/protocol-connect";
import { GetMessageRequestSchema } from "../../gen/dataservices/v1/messages_pb.ts";
import { connectError, connectOk, connectUnaryType, parseConnectGet } from "./connect_wire.ts";
import { testContext } from "./_testing.ts";

const CONTENT_TYPES: [string | null, boolean | undefined][] = [
  ["application/proto", true],
  ["application/json", false],
  ["application/json; charset=utf-8", false],
  ["application/json;charset=utf-8", false],
  ["application/json; charset=utf8", false],
  ["Application/JSON; Charset=UTF-8", false],
  ["APPLICATION/PROTO", true],
  // Streaming, other protocols and unknown types go to the fallback.
  ["application/connect+proto", undefined],
  ["application/connect+json", undefined],
  ["application/grpc", undefined],
  ["application/grpc-web+proto", undefined],
  ["application/json; charset=latin1", undefined],
  ["application/json; charset=utf-8; x=y", undefined],
  ["application/protobuf", undefined],
  ["text/plain", undefined],
  ["", undefined],
  [null, undefined],
];

Deno.test("connectUnaryType: binary, JSON and its charset/case variants; the rest left out", () => {
  for (const [type, want] of CONTENT_TYPES) {
    assert.equal(connectUnaryType(type), want, `content type ${JSON.stringify(type)}`);
  }
});

Deno.test("connectUnaryType: takes exactly what connect-es takes as unary", () => {
  for (const [type] of CONTENT_TYPES) {
    const es = parseContentType(type);
    const want = es === undefined || es.stream ? undefined : es.binary;
    assert.equal(connectUnaryType(type), want, `content type ${JSON.stringify(type)}`);
  }
});

const bytes = (...b: number[]) => new Uint8Array(b);

Deno.test("parseConnectGet: proto in url-safe base64, padded or not", () => {
  // 0xfb 0xff 0xfe encodes to "+//+" in standard, "-__-" in url-safe base64.
  const message = bytes(0xfb, 0xff, 0xfe, 0x01);
  const std = base64Encode(message, "std"); // "+//+AQ=="
  const url = base64Encode(message, "url"); // "-__-AQ"
  assert.match(std, /=$/);
  assert.doesNotMatch(url, /=/);
  for (const m of [url, `${url}==`, encodeURIComponent(std)]) {
    const got = parseConnectGet(`encoding=proto&base64=1&message=${m}&connect=v1`);
    assert.deepEqual(got, { binary: true, message, compression: undefined }, `message=${m}`);
  }
});

Deno.test("parseConnectGet: JSON as percent-encoded text or base64", () => {
  const json = '{"channelId":"7"}';
  const want = { binary: false, message: new TextEncoder().encode(json), compression: undefined };
  assert.deepEqual(parseConnectGet(`encoding=json&message=${encodeURIComponent(json)}`), want);
  const b64 = base64Encode(new TextEncoder().encode(json), "url");
  assert.deepEqual(parseConnectGet(`message=${b64}&encoding=json&base64=1`), want);
  // Only base64=1 means base64.
  const plain = `encoding=json&base64=0&message=${encodeURIComponent(json)}`;
  assert.deepEqual(parseConnectGet(plain), want);
});

Deno.test("parseConnectGet: no message is an empty one", () => {
  const empty = { binary: true, message: bytes(), compression: undefined };
  assert.deepEqual(parseConnectGet("encoding=proto"), empty);
  assert.deepEqual(parseConnectGet("encoding=proto&base64=1"), empty);
});

Deno.test("parseConnectGet: broken base64 is INVALID_ARGUMENT", () => {
  for (const m of ["ab$c", "ab=c", "abc===", "a%20b", "ab+c"]) { // "+" in a query is a space
    assert.throws(
      () => parseConnectGet(`encoding=proto&base64=1&message=${m}`),
      (e: unknown) => e instanceof ConnectError && e.code === Code.InvalidArgument,
      `message=${m}`,
    );
  }
});

Deno.test("parseConnectGet: unknown encodings and compression are left to the fallback", () => {
  for (
    const q of [
      "",
      "message=x",
      "encoding=xml&message=x",
      "encoding=PROTO&message=",
      "encoding=proto&compression=snappy&message=",
      "encoding=json&compression=zstd&message=%7B%7D",
    ]
  ) {
    assert.equal(parseConnectGet(q), undefined, q);
  }
  // gzip and br are taken, still compressed (the fast path inflates them within readMaxBytes).
  assert.deepEqual(
    parseConnectGet("encoding=proto&compression=gzip&message="),
    { binary: true, message: bytes(), compression: "gzip" },
  );
  assert.deepEqual(
    parseConnectGet("encoding=json&compression=br&message=%7B%7D"),
    { binary: false, message: new TextEncoder().encode("{}"), compression: "br" },
  );
  assert.deepEqual(
    parseConnectGet("encoding=json&compression=identity&message=%7B%7D"),
    { binary: false, message: new TextEncoder().encode("{}"), compression: "identity" },
  );
});

Deno.test("connectOk: content type by format, the body as given, no headers unless set", () => {
  const body = bytes(1, 2, 3);
  const proto = connectOk(body, true, testContext());
  assert.equal(proto.status, 200);
  assert.equal(proto.contentType, "application/proto");
  assert.equal(proto.body, body);
  assert.equal(proto.headers, undefined);
  assert.equal(connectOk(body, false, testContext()).contentType, "application/json");
});

Deno.test("connectOk: handler headers as they are, trailers as trailer- headers", () => {
  const ctx = testContext();
  ctx.responseHeader.set("x-h", "1");
  ctx.responseTrailer.append("x-t", "a");
  ctx.responseTrailer.append("x-t", "b");
  const reply = connectOk(bytes(), true, ctx);
  assert.deepEqual([...reply.headers!], [["trailer-x-t", "a, b"], ["x-h", "1"]]);
  const onlyTrailer = testContext();
  onlyTrailer.responseTrailer.set("x-t", "1");
  assert.deepEqual([...connectOk(bytes(), true, onlyTrailer).headers!], [["trailer-x-t", "1"]]);
});

const STATUS: [Code, number][] = [
  [Code.Canceled, 499],
  [Code.Unknown, 500],
  [Code.InvalidArgument, 400],
  [Code.DeadlineExceeded, 504],
  [Code.NotFound, 404],
  [Code.AlreadyExists, 409],
  [Code.PermissionDenied, 403],
  [Code.ResourceExhausted, 429],
  [Code.FailedPrecondition, 400],
  [Code.Aborted, 409],
  [Code.OutOfRange, 400],
  [Code.Unimplemented, 501],
  [Code.Internal, 500],
  [Code.Unavailable, 503],
  [Code.DataLoss, 500],
  [Code.Unauthenticated, 401],
];

Deno.test("connectError: HTTP status from the code (Connect protocol table)", () => {
  for (const [code, status] of STATUS) {
    const reply = connectError(new ConnectError("x", code), undefined);
    assert.equal(reply.status, status, Code[code]);
    assert.equal(reply.contentType, "application/json");
  }
});

Deno.test("connectError: the JSON body is connect-es's, details included", () => {
  const plain = new ConnectError("no such message", Code.NotFound);
  const detailed = new ConnectError("bad", Code.InvalidArgument, undefined, [
    { desc: GetMessageRequestSchema, value: { channelId: 7n, messageId: 9n } },
  ]);
  const empty = new ConnectError("", Code.Unavailable);
  for (const error of [plain, detailed, empty]) {
    const reply = connectError(error, undefined);
    assert.deepEqual(reply.body, errorToJsonBytes(error, undefined));
  }
  const json = JSON.parse(new TextDecoder().decode(connectError(detailed, undefined).body));
  assert.equal(json.code, "invalid_argument");
  assert.equal(json.message, "bad");
  assert.equal(json.details[0].type, "dataservices.v1.GetMessageRequest");
  assert.deepEqual(
    JSON.parse(new TextDecoder().decode(connectError(plain, undefined).body)),
    { code: "not_found", message: "no such message" },
  );
});

Deno.test("connectError: no headers for a bare error", () => {
  assert.equal(connectError(new ConnectError("x", Code.Internal), undefined).headers, undefined);
  assert.equal(
    connectError(new ConnectError("x", Code.Internal), testContext()).headers,
    undefined,
  );
});

Deno.test("connectError: error metadata (not protocol headers) and handler metadata", () => {
  const error = new ConnectError("x", Code.Unavailable, {
    "x-dataservices-retry": "elsewhere",
    "content-type": "text/html",
    "grpc-status": "3",
  });
  const bare = connectError(error, undefined);
  assert.deepEqual([...bare.headers!], [["x-dataservices-retry", "elsewhere"]]);

  const ctx = testContext();
  ctx.responseHeader.set("x-h", "1");
  ctx.responseTrailer.set("x-t", "2");
  const both = connectError(error, ctx);
  assert.deepEqual([...both.headers!], [
    ["trailer-x-t", "2"],
    ["x-dataservices-retry", "elsewhere"],
    ["x-h", "1"],
  ]);
});

Deno.test("connectError: metadata of an error read from the wire is not relayed", () => {
  const error = new ConnectError("upstream", Code.Unavailable, { "x-upstream": "1" });
  error.isWireError = true;
  assert.equal(connectError(error, undefined).headers, undefined);
});
