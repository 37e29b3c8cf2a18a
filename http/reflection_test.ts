import assert from "node:assert/strict";
import { create, createFileRegistry, fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { MessagesService } from "../gen/dataservices/v1/messages_pb.ts";
import { Health } from "../gen/grpc/health/v1/health_pb.ts";
import * as v1 from "../gen/grpc/reflection/v1/reflection_pb.ts";
import * as v1alpha from "../gen/grpc/reflection/v1alpha/reflection_pb.ts";
import { answer, ReflectionIndex, reflectionServices } from "./reflection.ts";

const index = new ReflectionIndex([MessagesService, Health, v1.ServerReflection]);

function ask(
  messageRequest: v1.ServerReflectionRequest["messageRequest"],
  sent = new Set<string>(),
): v1.ServerReflectionResponse {
  return answer(index, create(v1.ServerReflectionRequestSchema, { messageRequest }), sent);
}

/** The file names of a file_descriptor_response, in order. */
function fileNames(res: v1.ServerReflectionResponse): string[] {
  assert.equal(res.messageResponse.case, "fileDescriptorResponse", JSON.stringify(res));
  return res.messageResponse.value.fileDescriptorProto.map((b) =>
    fromBinary(FileDescriptorProtoSchema, b).name
  );
}

Deno.test("list_services: every service, sorted", () => {
  const res = ask({ case: "listServices", value: "" });
  assert.equal(res.messageResponse.case, "listServicesResponse");
  assert.deepEqual(res.messageResponse.value.service.map((s) => s.name), [
    "dataservices.v1.MessagesService",
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
  ]);
});

Deno.test("file_containing_symbol: the file first, then its dependencies, each once per stream", () => {
  const sent = new Set<string>();
  assert.deepEqual(
    fileNames(
      ask({ case: "fileContainingSymbol", value: "dataservices.v1.MessagesService" }, sent),
    ),
    [
      "dataservices/v1/messages.proto",
      "buf/validate/validate.proto",
      "google/protobuf/timestamp.proto",
      "google/protobuf/descriptor.proto",
      "google/protobuf/duration.proto",
      "google/protobuf/field_mask.proto",
    ],
  );
  // Asked again on the same stream: the file alone (its dependencies were sent).
  assert.deepEqual(
    fileNames(ask({ case: "fileContainingSymbol", value: ".dataservices.v1.Message" }, sent)),
    ["dataservices/v1/messages.proto"],
  );
  // Every kind of symbol resolves to its file.
  const kinds: [string, string][] = [
    ["dataservices.v1.MessagesService.GetMessage", "dataservices/v1/messages.proto"], // method
    ["dataservices.v1.GetMessagesRequest.limit", "dataservices/v1/messages.proto"], // field
    ["grpc.health.v1.HealthCheckResponse.ServingStatus", "grpc/health/v1/health.proto"], // nested enum
    ["grpc.health.v1.HealthCheckResponse.SERVING", "grpc/health/v1/health.proto"], // enum value
    [
      "grpc.reflection.v1.ServerReflectionRequest.message_request",
      "grpc/reflection/v1/reflection.proto",
    ], // oneof
    ["buf.validate.field", "buf/validate/validate.proto"], // extension
    ["google.protobuf.Timestamp", "google/protobuf/timestamp.proto"], // a dependency's message
  ];
  for (const [symbol, file] of kinds) {
    assert.equal(index.fileContainingSymbol(symbol)?.proto.name, file, symbol);
  }
});

Deno.test("the files sent describe the service completely (a registry builds from them)", () => {
  const res = ask({ case: "fileByFilename", value: "dataservices/v1/messages.proto" });
  assert.equal(res.messageResponse.case, "fileDescriptorResponse");
  const [file, ...deps] = res.messageResponse.value.fileDescriptorProto.map((b) =>
    fromBinary(FileDescriptorProtoSchema, b)
  );
  const byName = new Map(deps.map((d) => [d.name, d]));
  // Resolves imports from the response only: a missing file fails here.
  const registry = createFileRegistry(file, (name) => byName.get(name));
  const service = registry.getService("dataservices.v1.MessagesService");
  assert.deepEqual(service?.methods.map((m) => m.name), [
    "GetMessages",
    "GetMessage",
    "CreateMessage",
    "GetStats",
    "GetHotKeys",
  ]);
  assert.equal(registry.getExtension("buf.validate.field")?.number, 1159);
});

Deno.test("extensions: by containing type and number, and all numbers of a type", () => {
  assert.deepEqual(
    fileNames(ask({
      case: "fileContainingExtension",
      value: create(v1.ExtensionRequestSchema, {
        containingType: "google.protobuf.FieldOptions",
        extensionNumber: 1159,
      }),
    }))[0],
    "buf/validate/validate.proto",
  );
  const res = ask({ case: "allExtensionNumbersOfType", value: "google.protobuf.FieldOptions" });
  assert.equal(res.messageResponse.case, "allExtensionNumbersResponse");
  assert.deepEqual(res.messageResponse.value.extensionNumber, [1159, 1160]);
  assert.equal(res.messageResponse.value.baseTypeName, "google.protobuf.FieldOptions");
});

Deno.test("unknown names get NOT_FOUND in an error_response; no question ends the stream", () => {
  for (
    const q of [
      { case: "fileContainingSymbol", value: "nope.Nothing" },
      { case: "fileByFilename", value: "nope.proto" },
      { case: "allExtensionNumbersOfType", value: "nope.Nothing" },
    ] as const
  ) {
    const res = ask(q);
    assert.equal(res.messageResponse.case, "errorResponse", q.value);
    assert.equal(res.messageResponse.value.errorCode, Code.NotFound);
    assert.match(res.messageResponse.value.errorMessage, /nope.* not found/);
  }
  assert.throws(
    () => ask({ case: undefined }),
    (e) => e instanceof ConnectError && e.code === Code.InvalidArgument,
  );
});

Deno.test("v1alpha answers with v1alpha messages, echoing the request and host", async () => {
  const [, alpha] = reflectionServices([MessagesService]);
  assert.equal(alpha.service, v1alpha.ServerReflection);
  const req = create(v1alpha.ServerReflectionRequestSchema, {
    host: "example:1",
    messageRequest: { case: "listServices", value: "*" },
  });
  async function* requests() {
    yield req;
  }
  const impl = alpha.impl.serverReflectionInfo as (
    r: AsyncIterable<v1alpha.ServerReflectionRequest>,
  ) => AsyncIterable<v1alpha.ServerReflectionResponse>;
  const out: v1alpha.ServerReflectionResponse[] = [];
  for await (const res of impl(requests())) out.push(res);
  assert.equal(out.length, 1);
  assert.equal(out[0].$typeName, "grpc.reflection.v1alpha.ServerReflectionResponse");
  assert.equal(out[0].validHost, "example:1");
  assert.equal(out[0].originalRequest, req);
  assert.equal(out[0].messageResponse.case, "listServicesResponse");
  assert.equal(
    out[0].messageResponse.value.$typeName,
    "grpc.reflection.v1alpha.ListServiceResponse",
  );
  assert.deepEqual(out[0].messageResponse.value.service.map((s) => s.name), [
    "dataservices.v1.MessagesService",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
  ]);
});
