import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { ClientCompatRequestSchema } from "../gen/connectrpc/conformance/v1/client_compat_pb.ts";
import {
  Codec,
  Compression,
  HTTPVersion,
  Protocol,
} from "../gen/connectrpc/conformance/v1/config_pb.ts";
import { clientConfig } from "./client.ts";
import { InvalidRequestError } from "./invoke.ts";

const base = {
  host: "127.0.0.1",
  port: 1234,
  protocol: Protocol.GRPC_WEB,
  httpVersion: HTTPVersion.HTTP_VERSION_1,
  codec: Codec.JSON,
  compression: Compression.GZIP,
};

Deno.test("clientConfig maps a ClientCompatRequest to transport settings", () => {
  const { registry: _, ...config } = clientConfig(create(ClientCompatRequestSchema, {
    ...base,
    messageReceiveLimit: 1024,
    useGetHttpMethod: true,
  }));
  assert.deepEqual(config, {
    host: "127.0.0.1",
    port: 1234,
    protocol: "grpc-web",
    httpVersion: "1.1",
    binary: false,
    compression: "gzip",
    readMaxBytes: 1024,
    useHttpGet: true,
  });
  const plain = clientConfig(create(ClientCompatRequestSchema, {
    ...base,
    protocol: Protocol.CONNECT,
    httpVersion: HTTPVersion.HTTP_VERSION_2,
    codec: Codec.PROTO,
    compression: Compression.IDENTITY,
  }));
  assert.deepEqual(
    [plain.protocol, plain.httpVersion, plain.binary, plain.compression, plain.readMaxBytes],
    ["connect", "2", true, "identity", undefined],
  );
});

Deno.test("clientConfig refuses what the client does not claim (TLS, HTTP/3, brotli)", () => {
  for (
    const init of [
      { serverTlsCert: new Uint8Array([1]) },
      { httpVersion: HTTPVersion.HTTP_VERSION_3 },
      { compression: Compression.BR },
    ]
  ) {
    assert.throws(
      () => clientConfig(create(ClientCompatRequestSchema, { ...base, ...init })),
      InvalidRequestError,
    );
  }
});
