import assert from "node:assert/strict";
import {
  clone,
  create,
  createRegistry,
  fromBinary,
  toBinary,
  toJsonString,
} from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  GetMessageRequestSchema,
  GetMessagesRequestSchema,
  GetMessagesResponseSchema,
  MessagesService,
} from "../../gen/dataservices/v1/messages_pb.ts";
import {
  ConformanceService,
  UnaryRequestSchema,
  UnaryResponseSchema,
} from "../../gen/connectrpc/conformance/v1/service_pb.ts";
import { ProcedureTable } from "./procedures.ts";

const P = "/dataservices.v1.MessagesService";
const empty = () => ({});

/** The ConnectError `fn` throws (failing when it returns or throws something else). */
function thrown(fn: () => unknown, what = ""): ConnectError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ConnectError, `a ConnectError: ${e}`);
    return e;
  }
  assert.fail(`no error ${what}`);
}

Deno.test("ProcedureTable: a path per implemented unary method, GET allowed by idempotency", () => {
  const t = new ProcedureTable().add(MessagesService, {
    getMessages: empty,
    getMessage: empty,
    createMessage: empty,
    getStats: empty,
  });
  assert.deepEqual(t.paths().sort(), [
    `${P}/CreateMessage`,
    `${P}/GetMessage`,
    `${P}/GetMessages`,
    `${P}/GetStats`,
  ]);
  const get = t.get(`${P}/GetMessages`)!;
  assert.equal(get.path, `${P}/GetMessages`);
  assert.equal(get.method, MessagesService.method.getMessages);
  assert.equal(get.noSideEffects, true);
  assert.equal(t.get(`${P}/CreateMessage`)!.noSideEffects, false);
  assert.equal(t.get(`${P}/Nope`), undefined);
  assert.equal(t.get("dataservices.v1.MessagesService/GetMessages"), undefined);
});

Deno.test("ProcedureTable: methods the implementation lacks are not served", () => {
  const t = new ProcedureTable().add(MessagesService, { getStats: empty });
  assert.deepEqual(t.paths(), [`${P}/GetStats`]);
});

Deno.test("ProcedureTable: streaming methods are left to the fallback", () => {
  const stream = async function* () {};
  const t = new ProcedureTable().add(ConformanceService, {
    unary: empty,
    serverStream: stream,
    clientStream: () => Promise.resolve({}),
    bidiStream: stream,
    idempotentUnary: empty,
  });
  const C = "/connectrpc.conformance.v1.ConformanceService";
  assert.deepEqual(t.paths().sort(), [`${C}/IdempotentUnary`, `${C}/Unary`]);
  assert.equal(t.get(`${C}/IdempotentUnary`)!.noSideEffects, true);
  assert.equal(t.get(`${C}/Unary`)!.noSideEffects, false);
});

Deno.test("ProcedureTable: the implementation runs with its own `this`", async () => {
  class Impl {
    name = "impl";
    getStats() {
      return { instance: this.name };
    }
  }
  const t = new ProcedureTable().add(MessagesService, new Impl());
  const p = t.get(`${P}/GetStats`)!;
  // deno-lint-ignore no-explicit-any
  assert.deepEqual(await p.impl({}, undefined as any), { instance: "impl" });
});

// --- decode -----------------------------------------------------------------------------------

const getMessages = () => new ProcedureTable().add(MessagesService, { getMessages: empty });

Deno.test("decode: binary and JSON requests", () => {
  const p = getMessages().get(`${P}/GetMessages`)!;
  const want = create(GetMessagesRequestSchema, { channelId: 7n, limit: 3 });
  assert.deepEqual(p.decode(toBinary(GetMessagesRequestSchema, want), true), want);
  const json = new TextEncoder().encode('{"channelId":"7","limit":3}');
  assert.deepEqual(p.decode(json, false), want);
});

Deno.test("decode: malformed input is INVALID_ARGUMENT naming the type and the format", () => {
  const p = getMessages().get(`${P}/GetMessages`)!;
  const cases: [Uint8Array, boolean, string][] = [
    [new Uint8Array([0xff, 0xff]), true, "binary"],
    [new Uint8Array([0x08]), true, "binary"], // truncated varint
    [new TextEncoder().encode("{"), false, "JSON"],
    [new TextEncoder().encode('{"limit":"many"}'), false, "JSON"],
    [new Uint8Array([0x7b, 0xff, 0x7d]), false, "JSON"], // not UTF-8
  ];
  for (const [bytes, binary, format] of cases) {
    const e = thrown(() => p.decode(bytes, binary), `${format} ${bytes}`);
    assert.equal(e.code, Code.InvalidArgument, e.rawMessage);
    assert.match(e.rawMessage, new RegExp(`dataservices.v1.GetMessagesRequest from ${format}`));
  }
});

Deno.test("decode: JSON that is not UTF-8 is INVALID_ARGUMENT, not replaced characters", () => {
  const p = new ProcedureTable().add(MessagesService, { createMessage: empty })
    .get(`${P}/CreateMessage`)!;
  const prefix = new TextEncoder().encode('{"content":"a');
  const json = new Uint8Array([...prefix, 0xff, 0x22, 0x7d]); // a, invalid byte, "}
  assert.equal(thrown(() => p.decode(json, false)).code, Code.InvalidArgument);
});

Deno.test("decode: unknown JSON fields are ignored unless the options say otherwise", () => {
  const json = new TextEncoder().encode('{"channelId":"7","color":"red"}');
  const lenient = getMessages().get(`${P}/GetMessages`)!;
  assert.equal((lenient.decode(json, false) as unknown as { channelId: bigint }).channelId, 7n);
  const strict = new ProcedureTable({ ignoreUnknownFields: false })
    .add(MessagesService, { getMessages: empty }).get(`${P}/GetMessages`)!;
  assert.equal(thrown(() => strict.decode(json, false)).code, Code.InvalidArgument);
});

const C_UNARY = "/connectrpc.conformance.v1.ConformanceService/Unary";

Deno.test("JSON options: a registry resolves google.protobuf.Any both ways", () => {
  const registry = createRegistry(GetMessageRequestSchema);
  const withRegistry = new ProcedureTable({ registry }).add(ConformanceService, { unary: empty })
    .get(C_UNARY)!;
  const without = new ProcedureTable().add(ConformanceService, { unary: empty }).get(C_UNARY)!;

  const request = new TextEncoder().encode(JSON.stringify({
    responseDefinition: {
      error: {
        code: "CODE_NOT_FOUND",
        details: [{
          "@type": "type.googleapis.com/dataservices.v1.GetMessageRequest",
          channelId: "7",
        }],
      },
    },
  }));
  const decoded = withRegistry.decode(request, false);
  assert.deepEqual(
    JSON.parse(toJsonString(UnaryRequestSchema, decoded as never, { registry })),
    JSON.parse(new TextDecoder().decode(request)),
  );
  assert.equal(thrown(() => without.decode(request, false)).code, Code.InvalidArgument);

  const response = create(UnaryResponseSchema, {
    payload: {
      requestInfo: {
        requests: [
          anyPack(GetMessageRequestSchema, create(GetMessageRequestSchema, { channelId: 7n })),
        ],
      },
    },
  });
  const json = JSON.parse(new TextDecoder().decode(withRegistry.encode(response, false)));
  assert.deepEqual(json.payload.requestInfo.requests, [
    { "@type": "type.googleapis.com/dataservices.v1.GetMessageRequest", channelId: "7" },
  ]);
  const fresh = clone(UnaryResponseSchema, response); // not cached yet
  assert.equal(thrown(() => without.encode(fresh, false)).code, Code.Internal);
});

// --- encode -----------------------------------------------------------------------------------

Deno.test("encode: once per response object and format", () => {
  const p = getMessages().get(`${P}/GetMessages`)!;
  const response = create(GetMessagesResponseSchema, {
    messages: [{ channelId: 1n, messageId: 2n, content: "hi" }],
  });
  const binary = p.encode(response, true);
  assert.deepEqual(fromBinary(GetMessagesResponseSchema, binary), response);
  assert.equal(p.encode(response, true), binary, "the cached bytes");
  const json = p.encode(response, false);
  assert.equal(
    new TextDecoder().decode(json),
    '{"messages":[{"channelId":"1","messageId":"2","content":"hi"}]}',
  );
  assert.equal(p.encode(response, false), json);
  const twin = clone(GetMessagesResponseSchema, response);
  assert.notEqual(p.encode(twin, true), binary, "another object is encoded anew");
  assert.deepEqual(p.encode(twin, true), binary);
});

Deno.test("encode: an init object is normalized like a message", () => {
  const p = getMessages().get(`${P}/GetMessages`)!;
  const init = { messages: [{ channelId: 1n, content: "hi" }] };
  assert.deepEqual(
    p.encode(init, true),
    toBinary(GetMessagesResponseSchema, create(GetMessagesResponseSchema, init)),
  );
  assert.equal(new TextDecoder().decode(p.encode({}, false)), "{}");
});

Deno.test("encode: no response object is INTERNAL", () => {
  const p = getMessages().get(`${P}/GetMessages`)!;
  for (const output of [undefined, null, "text", 3]) {
    const e = thrown(() => p.encode(output, true), String(output));
    assert.equal(e.code, Code.Internal, String(output));
    assert.match(e.rawMessage, /handler returned no dataservices.v1.GetMessagesResponse/);
  }
});

// JSON integers and malformed bodies (issue 10, item 6; the fuzz test's cases).

const strictTable = new ProcedureTable().add(MessagesService, {
  getMessage: () => ({}),
});
const proc = strictTable.get("/dataservices.v1.MessagesService/GetMessage")!;
const json = (s: string) => proc.decode(new TextEncoder().encode(s), false);

function decodeCode(fn: () => unknown): string {
  try {
    fn();
    return "ok";
  } catch (e) {
    assert.ok(e instanceof ConnectError, String(e));
    return Code[e.code];
  }
}

Deno.test("ProcedureTable decode: JSON ids are decimal strings or safe integers, nothing else", () => {
  assert.deepEqual(
    { ...json('{"channelId":"16","messageId":7}') },
    { ...json('{"channel_id":16,"message_id":"7"}') },
  );
  // protobuf-es alone reads these as 16, 1, 1 and 9007199254740992.
  for (const id of ['"0x10"', '" 1"', '"1 "', "9007199254740993"]) {
    assert.equal(
      decodeCode(() => json(`{"channelId":${id},"messageId":"1"}`)),
      "InvalidArgument",
      id,
    );
  }
});

Deno.test("ProcedureTable decode: malformed binary and JSON are INVALID_ARGUMENT", () => {
  assert.equal(
    decodeCode(() => proc.decode(new Uint8Array([0x08, ...Array(11).fill(0xff)]), true)),
    "InvalidArgument",
  );
  assert.equal(decodeCode(() => json("{not json")), "InvalidArgument");
  assert.equal(
    decodeCode(() => proc.decode(new Uint8Array([0xff, 0xfe]), false)),
    "InvalidArgument",
  );
});
