import assert from "node:assert/strict";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  parseContentType as parseGrpcWebType,
  trailerFlag,
  trailerParse,
} from "@connectrpc/connect/protocol-grpc-web";
import {
  findTrailerError,
  parseContentType as parseGrpcType,
} from "@connectrpc/connect/protocol-grpc";
import { GetMessageRequestSchema } from "../../gen/dataservices/v1/messages_pb.ts";
import { envelope, grpcError, grpcOk, grpcType, unwrapUnary } from "./grpc_wire.ts";
import { testContext } from "./_testing.ts";
import { forEachField, type Reply } from "./reply.ts";

const bytes = (...b: number[]) => new Uint8Array(b);

/** The frames of a gRPC-web body: data messages, then the trailer frame parsed by connect-es. */
function webFrames(body: Uint8Array): { messages: Uint8Array[]; trailer: Headers | undefined } {
  const messages: Uint8Array[] = [];
  let trailer: Headers | undefined;
  for (let at = 0; at < body.length;) {
    assert.ok(body.length >= at + 5, "a whole frame header");
    const view = new DataView(body.buffer, body.byteOffset + at);
    const flags = body[at];
    const length = view.getUint32(1);
    const data = body.subarray(at + 5, at + 5 + length);
    assert.equal(data.length, length, "a whole frame");
    assert.equal(trailer, undefined, "nothing after the trailer frame");
    if (flags === trailerFlag) trailer = trailerParse(data);
    else {
      assert.equal(flags, 0);
      messages.push(data);
    }
    at += 5 + length;
  }
  return { messages, trailer };
}

function fields(f: Reply["trailers"]): [string, string][] {
  const out: [string, string][] = [];
  if (f !== undefined) forEachField(f, (v, k) => out.push([k, v]));
  return out.sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0);
}

function codeOf(fn: () => unknown): Code | "ok" {
  try {
    fn();
    return "ok";
  } catch (e) {
    assert.ok(e instanceof ConnectError, `a ConnectError: ${e}`);
    return e.code;
  }
}

// --- content types ----------------------------------------------------------------------------

const TYPES: (string | null)[] = [
  "application/grpc",
  "application/grpc+proto",
  "application/grpc+json",
  "application/grpc+json; charset=utf-8",
  "application/grpc+json;charset=utf8",
  "application/grpc+JSON",
  "application/grpc+thrift",
  "application/grpc+jsonx",
  "application/grpc+json; charset=latin1",
  "application/grpc-web",
  "application/grpc-web+proto",
  "application/grpc-web+json",
  "application/grpc-web+json; charset=utf-8",
  "application/grpc-web-text",
  "application/grpc-web-text+proto",
  "application/grpc-web-text+json",
  "application/grpc-webby",
  "application/json",
  null,
];

Deno.test("grpcType: binary and JSON of each protocol; -text and others left out", () => {
  const want: Record<string, [boolean | undefined, boolean | undefined]> = {
    "application/grpc": [true, undefined],
    "application/grpc+proto": [true, undefined],
    "application/grpc+json": [false, undefined],
    "application/grpc+json; charset=utf-8": [false, undefined],
    "application/grpc+json;charset=utf8": [false, undefined],
    "application/grpc+JSON": [false, undefined],
    "application/grpc-web": [undefined, true],
    "application/grpc-web+proto": [undefined, true],
    "application/grpc-web+json": [undefined, false],
    "application/grpc-web+json; charset=utf-8": [undefined, false],
  };
  for (const type of TYPES) {
    const [grpc, web] = want[type ?? ""] ?? [undefined, undefined];
    assert.equal(grpcType("grpc", type), grpc, `grpc ${type}`);
    assert.equal(grpcType("grpc-web", type), web, `grpc-web ${type}`);
  }
});

Deno.test("grpcType: what it takes, connect-es takes alike", () => {
  for (const type of TYPES) {
    const grpc = grpcType("grpc", type);
    if (grpc !== undefined) assert.equal(parseGrpcType(type)?.binary, grpc, `grpc ${type}`);
    const web = grpcType("grpc-web", type);
    if (web !== undefined) {
      const es = parseGrpcWebType(type);
      assert.equal(es?.binary, web, `grpc-web ${type}`);
      assert.equal(es?.text, false, `grpc-web ${type}`);
    }
  }
});

// --- envelopes --------------------------------------------------------------------------------

Deno.test("envelope: flags 0, big-endian length, the message", () => {
  assert.deepEqual(envelope(bytes()), bytes(0, 0, 0, 0, 0));
  assert.deepEqual(envelope(bytes(7, 8)), bytes(0, 0, 0, 0, 2, 7, 8));
  const big = envelope(new Uint8Array(0x01_11_70));
  assert.deepEqual(big.subarray(0, 5), bytes(0, 0, 1, 0x11, 0x70));
  assert.equal(big.length, 5 + 0x01_11_70);
  const huge = envelope(new Uint8Array(0x01_00_00_01)); // past 16 MiB: the top byte counts
  assert.deepEqual(huge.subarray(0, 5), bytes(0, 1, 0, 0, 1));
});

Deno.test("unwrapUnary: the message of one envelope", () => {
  assert.deepEqual(unwrapUnary(envelope(bytes(1, 2, 3)), 100), bytes(1, 2, 3));
  assert.deepEqual(unwrapUnary(envelope(bytes()), 100), bytes());
  assert.deepEqual(unwrapUnary(envelope(new Uint8Array(100)), 100), new Uint8Array(100));
});

Deno.test("unwrapUnary: malformed bodies get the codes connect-es gives (torn bytes after a message: INVALID_ARGUMENT)", () => {
  const cases: [string, Uint8Array, Code][] = [
    ["empty body", bytes(), Code.Unimplemented],
    ["1-byte body", bytes(0), Code.InvalidArgument],
    ["4-byte body", bytes(0, 0, 0, 0), Code.InvalidArgument],
    ["compressed (flags 1)", bytes(1, 0, 0, 0, 1, 9), Code.Internal],
    ["flags 2", bytes(2, 0, 0, 0, 1, 9), Code.InvalidArgument],
    ["trailer flag 0x80", bytes(0x80, 0, 0, 0, 1, 9), Code.InvalidArgument],
    ["flags 255", bytes(255, 0, 0, 0, 1, 9), Code.InvalidArgument],
    ["truncated", bytes(0, 0, 0, 0, 3, 1, 2), Code.InvalidArgument],
    // connect-es: UNIMPLEMENTED; a client mistake, so INVALID_ARGUMENT here (issue 10, item 6).
    ["trailing bytes", bytes(0, 0, 0, 0, 1, 1, 2), Code.InvalidArgument],
    ["two messages", bytes(0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 1, 2), Code.Unimplemented],
    ["over readMaxBytes", envelope(new Uint8Array(101)), Code.ResourceExhausted],
    ["announces too much, sends little", bytes(0, 0, 0, 101), Code.InvalidArgument],
    ["announces too much", bytes(0, 0, 0, 0, 101, 1), Code.ResourceExhausted],
    ["announces 2 GiB and more", bytes(0, 0x80, 0, 0, 0, 1), Code.ResourceExhausted],
    ["announces 4 GiB", bytes(0, 0xff, 0xff, 0xff, 0xff), Code.ResourceExhausted],
  ];
  for (const [what, body, code] of cases) {
    assert.equal(codeOf(() => unwrapUnary(body, 100)), code, what);
  }
});

// --- success ----------------------------------------------------------------------------------

Deno.test("grpcOk gRPC: the enveloped message, grpc-status 0 as a trailer", () => {
  const message = bytes(1, 2);
  for (const binary of [true, false]) {
    const reply = grpcOk("grpc", message, binary, testContext());
    assert.equal(reply.status, 200);
    assert.equal(reply.contentType, binary ? "application/grpc+proto" : "application/grpc+json");
    assert.deepEqual(reply.body, envelope(message));
    assert.equal(reply.headers, undefined);
    assert.deepEqual(fields(reply.trailers), [["grpc-status", "0"]]);
    assert.ok(!reply.trailersOnly);
  }
});

Deno.test("grpcOk gRPC-web: the enveloped message, then a trailer frame with grpc-status 0", () => {
  const message = bytes(1, 2, 3);
  for (const binary of [true, false]) {
    const reply = grpcOk("grpc-web", message, binary, testContext());
    assert.equal(
      reply.contentType,
      binary ? "application/grpc-web+proto" : "application/grpc-web+json",
    );
    assert.equal(reply.trailers, undefined);
    assert.equal(reply.headers, undefined);
    const { messages, trailer } = webFrames(reply.body);
    assert.deepEqual(messages, [message]);
    assert.deepEqual([...trailer!], [["grpc-status", "0"]]);
    assert.equal(findTrailerError(trailer!), undefined);
  }
});

Deno.test("grpcOk: callers of the same message share one framed body", () => {
  for (const kind of ["grpc", "grpc-web"] as const) {
    const message = bytes(4, 5);
    const a = grpcOk(kind, message, true, testContext()).body;
    const b = grpcOk(kind, message, true, testContext()).body;
    assert.equal(a, b, `${kind}: the same object`);
    const other = grpcOk(kind, bytes(4, 5), true, testContext()).body;
    assert.notEqual(other, a, `${kind}: another message, another body`);
    assert.deepEqual(other, a);
  }
});

Deno.test("grpcOk: handler headers and trailers, without touching the shared bodies", () => {
  const message = bytes(9);
  const plainWeb = grpcOk("grpc-web", message, true, testContext()).body;

  const ctx = testContext();
  ctx.responseHeader.set("x-h", "1");
  ctx.responseTrailer.set("x-t", "2");
  const grpc = grpcOk("grpc", message, true, ctx);
  assert.equal(grpc.headers, ctx.responseHeader);
  assert.deepEqual(fields(grpc.trailers), [["grpc-status", "0"], ["x-t", "2"]]);
  assert.deepEqual([...ctx.responseTrailer], [["x-t", "2"]], "the handler's trailers unchanged");

  const web = grpcOk("grpc-web", message, true, ctx);
  assert.equal(web.headers, ctx.responseHeader);
  const { messages, trailer } = webFrames(web.body);
  assert.deepEqual(messages, [message]);
  assert.deepEqual([...trailer!], [["grpc-status", "0"], ["x-t", "2"]]);

  const again = grpcOk("grpc-web", message, true, testContext());
  assert.equal(again.body, plainWeb, "the shared body has no handler trailers");
  assert.deepEqual([...webFrames(again.body).trailer!], [["grpc-status", "0"]]);
});

// --- errors -----------------------------------------------------------------------------------

const DETAILED = () =>
  new ConnectError("bad request: ü 100% /x", Code.InvalidArgument, undefined, [
    { desc: GetMessageRequestSchema, value: { channelId: 7n } },
  ]);

Deno.test("grpcError gRPC: trailers-only, the status read back by connect-es", () => {
  for (const binary of [true, false]) {
    const reply = grpcError("grpc", DETAILED(), binary, undefined);
    assert.equal(reply.status, 200);
    assert.equal(reply.contentType, binary ? "application/grpc+proto" : "application/grpc+json");
    assert.equal(reply.body.length, 0);
    assert.equal(reply.trailersOnly, true);
    assert.equal(reply.headers, undefined);
    const t = new Headers();
    forEachField(reply.trailers!, (v, k) => t.append(k, v));
    assert.equal(t.get("grpc-status"), String(Code.InvalidArgument));
    const back = findTrailerError(t);
    assert.equal(back?.code, Code.InvalidArgument);
    assert.equal(back?.rawMessage, "bad request: ü 100% /x");
    assert.equal(back?.details.length, 1);
    assert.equal(back?.findDetails(GetMessageRequestSchema)[0].channelId, 7n);
  }
});

Deno.test("grpcError gRPC-web: a trailer frame carrying the status", () => {
  for (const binary of [true, false]) {
    const reply = grpcError("grpc-web", DETAILED(), binary, undefined);
    assert.equal(
      reply.contentType,
      binary ? "application/grpc-web+proto" : "application/grpc-web+json",
    );
    assert.equal(reply.trailers, undefined);
    assert.ok(!reply.trailersOnly);
    const { messages, trailer } = webFrames(reply.body);
    assert.deepEqual(messages, []);
    const back = findTrailerError(trailer!);
    assert.equal(back?.code, Code.InvalidArgument);
    assert.equal(back?.rawMessage, "bad request: ü 100% /x");
    assert.equal(back?.findDetails(GetMessageRequestSchema)[0].channelId, 7n);
  }
});

Deno.test("grpcError: every code comes back as itself", () => {
  for (let code = Code.Canceled; code <= Code.Unauthenticated; code++) {
    for (const kind of ["grpc", "grpc-web"] as const) {
      const reply = grpcError(kind, new ConnectError("m", code), true, undefined);
      const t = kind === "grpc" ? new Headers(reply.trailers) : webFrames(reply.body).trailer!;
      assert.equal(findTrailerError(t)?.code, code, `${kind} ${Code[code]}`);
    }
  }
});

Deno.test("grpcError: error metadata once, protocol headers dropped, wire metadata not relayed", () => {
  const error = new ConnectError("draining", Code.Unavailable, {
    "x-dataservices-retry": "elsewhere",
    "grpc-status": "0",
    "content-type": "text/html",
  });
  for (const kind of ["grpc", "grpc-web"] as const) {
    const reply = grpcError(kind, error, true, undefined);
    const t = kind === "grpc" ? new Headers(reply.trailers) : webFrames(reply.body).trailer!;
    assert.equal(t.get("x-dataservices-retry"), "elsewhere", kind);
    assert.equal(t.get("grpc-status"), String(Code.Unavailable), kind);
    assert.equal(t.get("content-type"), null, kind);
  }
  const wire = new ConnectError("upstream", Code.Unavailable, { "x-upstream": "1" });
  wire.isWireError = true;
  for (const kind of ["grpc", "grpc-web"] as const) {
    const reply = grpcError(kind, wire, true, undefined);
    const t = kind === "grpc" ? new Headers(reply.trailers) : webFrames(reply.body).trailer!;
    assert.equal(t.get("x-upstream"), null, kind);
  }
});

Deno.test("grpcError: handler headers and trailers (folded into trailers-only for gRPC)", () => {
  const ctx = testContext();
  ctx.responseHeader.set("x-h", "1");
  ctx.responseTrailer.set("x-t", "2");
  const grpc = grpcError("grpc", new ConnectError("x", Code.NotFound), true, ctx);
  assert.equal(grpc.headers, undefined);
  assert.deepEqual(fields(grpc.trailers), [
    ["grpc-message", "x"],
    ["grpc-status", String(Code.NotFound)],
    ["x-h", "1"],
    ["x-t", "2"],
  ]);
  const web = grpcError("grpc-web", new ConnectError("x", Code.NotFound), true, ctx);
  assert.equal(web.headers, ctx.responseHeader);
  assert.deepEqual([...webFrames(web.body).trailer!], [
    ["grpc-message", "x"],
    ["grpc-status", String(Code.NotFound)],
    ["x-t", "2"],
  ]);
  assert.deepEqual([...ctx.responseTrailer], [["x-t", "2"]], "the handler's trailers unchanged");
});

// Malformed gRPC bodies (issue 10, item 6; the fuzz test's cases).

/** The code `unwrapUnary` throws for `body` (limit 100 bytes), or "ok". */
function unwrapCode(body: Uint8Array): string {
  try {
    unwrapUnary(body, 100);
    return "ok";
  } catch (e) {
    assert.ok(e instanceof ConnectError);
    return Code[e.code];
  }
}

function framed(flags: number, payload: number[], announced = payload.length): Uint8Array {
  const out = new Uint8Array(5 + payload.length);
  out[0] = flags;
  new DataView(out.buffer).setUint32(1, announced);
  out.set(payload, 5);
  return out;
}

Deno.test("unwrapUnary: one envelope with flags 0 is the message", () => {
  assert.deepEqual(unwrapUnary(envelope(new Uint8Array([8, 1])), 100), new Uint8Array([8, 1]));
  assert.equal(unwrapCode(framed(0, [])), "ok");
});

Deno.test("unwrapUnary: malformed bodies are INVALID_ARGUMENT", () => {
  for (const flags of [2, 3, 0x7f, 0x80, 0xff]) {
    assert.equal(unwrapCode(framed(flags, [8, 1])), "InvalidArgument", `flags ${flags}`);
  }
  assert.equal(unwrapCode(new Uint8Array([0, 0, 0])), "InvalidArgument"); // torn header
  assert.equal(unwrapCode(framed(0, [8], 2)), "InvalidArgument"); // announces more than sent
  // Bytes after the message that are no envelope: torn, not "an extra message".
  assert.equal(unwrapCode(new Uint8Array([...framed(0, [8, 1]), 0, 0])), "InvalidArgument");
  assert.equal(
    unwrapCode(new Uint8Array([...framed(0, [8, 1]), ...framed(0, [1, 2, 3], 9)])),
    "InvalidArgument",
  );
});

Deno.test("unwrapUnary: size, absence, a second message and flags 1 keep their codes", () => {
  // A compressed message without grpc-encoding: INTERNAL, as the protocols (and the conformance suite) say.
  assert.equal(unwrapCode(framed(1, [8, 1])), "Internal");
  assert.equal(unwrapCode(framed(0, [], 101)), "ResourceExhausted");
  assert.equal(unwrapCode(framed(0, [], 2 ** 32 - 1)), "ResourceExhausted");
  assert.equal(unwrapCode(new Uint8Array(0)), "Unimplemented");
  assert.equal(
    unwrapCode(new Uint8Array([...framed(0, [8, 1]), ...framed(0, [8, 2])])),
    "Unimplemented",
  );
});
