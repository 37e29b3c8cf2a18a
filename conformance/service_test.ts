// The conformance service in memory (createRouterTransport): what the suite's
// reference client checks, on a few cases. The suite itself covers the rest.
import assert from "node:assert/strict";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { anyUnpack } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import {
  type BidiStreamRequestSchema,
  ConformancePayload_RequestInfoSchema,
  ConformanceService,
  UnaryRequestSchema,
} from "../gen/connectrpc/conformance/v1/service_pb.ts";
import { Code as ProtoCode } from "../gen/connectrpc/conformance/v1/config_pb.ts";
import { conformanceRoutes, toProtoHeaders } from "./service.ts";

const client = () => createClient(ConformanceService, createRouterTransport(conformanceRoutes));
const data = (s: string) => new TextEncoder().encode(s);
const headerValue = (headers: { name: string; value: string[] }[], name: string) =>
  headers.find((h) => h.name === name)?.value;

Deno.test("unary echoes headers, timeout and the request; sends headers, trailers and data", async () => {
  const headers = new Headers();
  const trailers = new Headers();
  const req = {
    responseDefinition: {
      responseHeaders: [{ name: "x-h", value: ["a", "b"] }],
      responseTrailers: [{ name: "x-t", value: ["c"] }],
      response: { case: "responseData" as const, value: data("hi") },
    },
    requestData: data("pad"),
  };
  const res = await client().unary(req, {
    headers: { "x-in": "1" },
    timeoutMs: 5000,
    onHeader: (h) => h.forEach((v, k) => headers.set(k, v)),
    onTrailer: (t) => t.forEach((v, k) => trailers.set(k, v)),
  });
  assert.deepEqual(res.payload?.data, data("hi"));
  const info = res.payload!.requestInfo!;
  assert.deepEqual(headerValue(info.requestHeaders, "x-in"), ["1"]);
  assert.ok(info.timeoutMs! > 0n && info.timeoutMs! <= 5000n);
  assert.equal(info.requests.length, 1);
  assert.deepEqual(anyUnpack(info.requests[0], UnaryRequestSchema)?.requestData, data("pad"));
  assert.equal(headers.get("x-h"), "a, b");
  assert.equal(trailers.get("x-t"), "c");
});

Deno.test("unary error carries the code, message and the request info as a detail", async () => {
  const err = await client().unary({
    responseDefinition: {
      responseHeaders: [{ name: "x-h", value: ["a"] }],
      response: {
        case: "error",
        value: { code: ProtoCode.RESOURCE_EXHAUSTED, message: "too much", details: [] },
      },
    },
  }, { headers: { "x-in": "2" } }).then(() => assert.fail("no error"), (e) => ConnectError.from(e));
  assert.equal(err.code, Code.ResourceExhausted);
  assert.equal(err.rawMessage, "too much");
  const [info] = err.findDetails(ConformancePayload_RequestInfoSchema);
  assert.deepEqual(headerValue(info.requestHeaders, "x-in"), ["2"]);
  assert.equal(err.metadata.get("x-h"), "a");
});

Deno.test("server stream: request info in the first response only, then the error without it", async () => {
  const responses: { data: string; info: boolean }[] = [];
  const stream = client().serverStream({
    responseDefinition: {
      responseData: [data("one"), data("two")],
      error: { code: ProtoCode.ABORTED, message: "after two", details: [] },
    },
  });
  const err = await (async () => {
    for await (const res of stream) {
      responses.push({
        data: new TextDecoder().decode(res.payload!.data),
        info: res.payload!.requestInfo !== undefined,
      });
    }
  })().then(() => assert.fail("no error"), (e) => ConnectError.from(e));
  assert.deepEqual(responses, [{ data: "one", info: true }, { data: "two", info: false }]);
  assert.equal(err.code, Code.Aborted);
  assert.equal(err.findDetails(ConformancePayload_RequestInfoSchema).length, 0);
});

Deno.test("full-duplex bidi: one response per request; later ones echo only the new request", async () => {
  // The in-memory transport reads the whole request stream first: send both
  // requests up front; the server still answers them one by one.
  async function* requests(): AsyncGenerator<MessageInitShape<typeof BidiStreamRequestSchema>> {
    yield { fullDuplex: true, responseDefinition: { responseData: [data("r1"), data("r2")] } };
    yield { requestData: data("second") };
  }
  const payloads = [];
  for await (const res of client().bidiStream(requests(), { headers: { "x-in": "3" } })) {
    payloads.push(res.payload!);
  }
  const [r1, r2] = payloads;
  assert.equal(payloads.length, 2);
  assert.deepEqual(headerValue(r1.requestInfo!.requestHeaders, "x-in"), ["3"]);
  assert.equal(r1.requestInfo!.requests.length, 1);
  assert.deepEqual(r2.requestInfo!.requestHeaders, []);
  assert.equal(r2.requestInfo!.requests.length, 1);
  assert.deepEqual(r2.data, data("r2"));
});

Deno.test("Unimplemented is left to the framework", async () => {
  const err = await client().unimplemented({}).then(
    () => assert.fail("no error"),
    (e) => ConnectError.from(e),
  );
  assert.equal(err.code, Code.Unimplemented);
});

Deno.test("toProtoHeaders lists each header once, values joined as Headers joins them", () => {
  const h = new Headers([["a", "1"], ["a", "2"], ["b", "3"]]);
  assert.deepEqual(toProtoHeaders(h).map((x) => [x.name, x.value]), [["a", ["1, 2"]], ["b", [
    "3",
  ]]]);
});
