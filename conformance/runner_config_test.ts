import assert from "node:assert/strict";
import { COMBINATIONS } from "./combinations.ts";
import { runnerConfig } from "./runner_config.ts";

const connect2 = { protocol: "connect", http: "2" } as const;
const grpcWeb11 = { protocol: "grpc-web", http: "1.1" } as const;

Deno.test("runnerConfig: one protocol and HTTP version; TLS for the server when asked; gRPC needs HTTP/2", () => {
  assert.ok(COMBINATIONS.every((c) => c.protocol !== "grpc" || c.http === "2"));
  const server = JSON.parse(runnerConfig("server", grpcWeb11, true)).features;
  assert.deepEqual(server.versions, ["HTTP_VERSION_1"]);
  assert.deepEqual(server.protocols, ["PROTOCOL_GRPC_WEB"]);
  assert.deepEqual(server.codecs, ["CODEC_PROTO", "CODEC_JSON"]);
  assert.equal(server.supportsH2c, false);
  assert.equal(server.supportsTls, true);
  assert.equal(server.supportsMessageReceiveLimit, true);
  assert.equal(JSON.parse(runnerConfig("server", grpcWeb11, false)).features.supportsTls, false);
  const client = JSON.parse(runnerConfig("client", connect2, true)).features;
  assert.deepEqual([client.versions, client.supportsH2c, client.supportsTls], [
    ["HTTP_VERSION_2"],
    true,
    false,
  ]);
});
