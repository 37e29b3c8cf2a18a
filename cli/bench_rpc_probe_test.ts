import assert from "node:assert/strict";
import { create, toBinary, toJsonString } from "@bufbuild/protobuf";
import { GetMessageResponseSchema } from "../gen/dataservices/v1/messages_pb.ts";
import { grpcFrame } from "./bench_rpc_cases.ts";
import { checkHotKeyResponse, grpcWebFrames, probe, trailerStatus } from "./bench_rpc_probe.ts";

const reply = (channelId: bigint, messageId: bigint) =>
  create(GetMessageResponseSchema, { message: { channelId, messageId, content: "x" } });

Deno.test("grpcWebFrames splits data and trailer frames, and rejects a truncated body", () => {
  const trailer = new TextEncoder().encode("grpc-status: 0\r\n");
  const body = new Uint8Array([
    ...grpcFrame(new Uint8Array([1, 2, 3])),
    0x80,
    0,
    0,
    0,
    trailer.length,
    ...trailer,
  ]);
  const frames = grpcWebFrames(body);
  assert.equal(frames.length, 2);
  assert.deepEqual([frames[0].flags, ...frames[0].data], [0, 1, 2, 3]);
  assert.equal(frames[1].flags, 0x80);
  assert.equal(trailerStatus(new TextDecoder().decode(frames[1].data)), "0");
  assert.throws(() => grpcWebFrames(body.subarray(0, 7)), /truncated frame at 0/);
  assert.throws(() => grpcWebFrames(new Uint8Array([0, 0])), /truncated frame header/);
});

Deno.test("trailerStatus finds grpc-status among other trailers, any case", () => {
  assert.equal(trailerStatus("grpc-message: no\r\nGrpc-Status: 5\r\n"), "5");
  assert.equal(trailerStatus("grpc-message: grpc-status: 0\r\n"), undefined);
});

Deno.test("checkHotKeyResponse accepts the demo row of channel 1 only", () => {
  checkHotKeyResponse(reply(1n, 1000n), "t");
  assert.throws(
    () => checkHotKeyResponse(reply(2n, 2000n), "t"),
    /expected message 1\/1000, got 2\/2000/,
  );
  assert.throws(
    () => checkHotKeyResponse(create(GetMessageResponseSchema), "t"),
    /got none \(is the demo data loaded/,
  );
});

Deno.test("probe checks each protocol's answer from a server and returns its body size", async () => {
  let good = true;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    await req.arrayBuffer();
    const r = good ? reply(1n, 1000n) : reply(1n, 7n);
    const type = req.headers.get("content-type") ?? "";
    if (type === "application/json") {
      return new Response(toJsonString(GetMessageResponseSchema, r), {
        headers: { "content-type": "application/json" },
      });
    }
    if (type.startsWith("application/grpc-web")) {
      const trailer = new TextEncoder().encode("grpc-status: 0\r\ngrpc-message: \r\n");
      const body = new Uint8Array([
        ...grpcFrame(toBinary(GetMessageResponseSchema, r)),
        0x80,
        0,
        0,
        0,
        trailer.length,
        ...trailer,
      ]);
      return new Response(body, { headers: { "content-type": "application/grpc-web+proto" } });
    }
    return new Response(toBinary(GetMessageResponseSchema, r), {
      headers: { "content-type": "application/proto" },
    });
  });
  const base = `http://127.0.0.1:${server.addr.port}`;
  try {
    const binary = toBinary(GetMessageResponseSchema, reply(1n, 1000n)).length;
    assert.equal(await probe(base, "connect-proto"), binary);
    assert.equal(await probe(base, "connect-get"), binary);
    assert.equal(
      await probe(base, "connect-json"),
      toJsonString(GetMessageResponseSchema, reply(1n, 1000n)).length,
    );
    assert.equal(await probe(base, "grpc-web"), 5 + binary + 5 + 32);
    good = false;
    await assert.rejects(probe(base, "grpc-web"), /grpc-web probe of .*got 1\/7/);
    await assert.rejects(probe(base, "connect-json"), /connect-json probe of .*got 1\/7/);
  } finally {
    await server.shutdown();
  }
});

Deno.test("probe names the HTTP status of a failed call", async () => {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response('{"code":"not_found"}', { status: 404 }),
  );
  try {
    await assert.rejects(
      probe(`http://127.0.0.1:${server.addr.port}`, "connect-proto"),
      /connect-proto probe of .*: HTTP 404 \{"code":"not_found"\}/,
    );
  } finally {
    await server.shutdown();
  }
});
