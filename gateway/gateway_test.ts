/**
 * The gateway over two in-memory instances (server/memory_store.ts, no
 * Cassandra): channel affinity through every protocol family, errors keep
 * their codes, and its HTTP routes. Sanitizers are on.
 */
import assert from "node:assert/strict";
import { ViolationsSchema } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createAsyncIterable } from "@connectrpc/connect/protocol";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
  Http2SessionManager,
} from "@connectrpc/connect-node";
import { MessagesService } from "../gen/dataservices/v1/messages_pb.ts";
import { ServerReflection } from "../gen/grpc/reflection/v1/reflection_pb.ts";
import { startMemoryInstance } from "../server/_memory_instance.ts";
import { startGateway } from "./gateway.ts";

Deno.test("gateway: each channel's calls reach its owner; codes and HTTP routes", async () => {
  const instances = [await startMemoryInstance(), await startMemoryInstance()];
  const targets = instances.map((s) => new URL(s.url).host);
  const gw = await startGateway({ port: 0, targets });
  try {
    const channelId = 4242n;
    const owner = gw.router.ownerOf(channelId).index;
    for (
      const transport of [
        createGrpcWebTransport({ baseUrl: gw.url, httpVersion: "1.1" }),
        createConnectTransport({ baseUrl: gw.url, httpVersion: "1.1" }),
      ]
    ) {
      const api = createClient(MessagesService, transport);
      const before = instances.map((s) => s.store.calls.getMessage);
      const { message } = await api.createMessage({ channelId, authorId: 9n, content: "via gw" });
      const got = await api.getMessage({ channelId, messageId: message!.messageId });
      assert.equal(got.message?.content, "via gw");
      await assert.rejects(
        api.getMessage({ channelId, messageId: 1n }),
        (e) => e instanceof ConnectError && e.code === Code.NotFound,
      );
      await assert.rejects(api.getMessage({ channelId, messageId: 0n }), (e) => {
        assert.ok(e instanceof ConnectError && e.code === Code.InvalidArgument, String(e));
        const [v] = e.findDetails(ViolationsSchema)[0].violations;
        assert.equal(v.field?.elements[0].fieldName, "message_id");
        return true;
      });
      const reads = instances.map((s, k) => s.store.calls.getMessage - before[k]);
      assert.deepEqual(reads, instances.map((_, k) => (k === owner ? 2 : 0)));
      assert.equal(instances[owner].store.size > 0, true, "the write went to the owner too");
    }
    assert.equal(instances[1 - owner].store.size, 0, "nothing reached the other instance");

    const cfg = await (await fetch(`${gw.url}/config.json`)).json();
    assert.deepEqual(cfg, { instances: targets, gateway: gw.url });
    for (const path of ["/healthz", "/readyz"]) {
      const r = await fetch(`${gw.url}${path}`);
      assert.equal(r.status, 200, path);
      await r.body?.cancel();
    }
    const missing = await fetch(`${gw.url}/nothing-here`);
    assert.equal(missing.status, 404);
    await missing.body?.cancel();

    // Server reflection (a bidi stream: gRPC over HTTP/2) lists what the gateway serves.
    const sessions = new Http2SessionManager(gw.url);
    try {
      const reflection = createClient(
        ServerReflection,
        createGrpcTransport({ baseUrl: gw.url, sessionManager: sessions }),
      );
      const names: string[] = [];
      const requests = createAsyncIterable([
        { messageRequest: { case: "listServices" as const, value: "" } },
      ]);
      for await (const res of reflection.serverReflectionInfo(requests)) {
        if (res.messageResponse.case === "listServicesResponse") {
          names.push(...res.messageResponse.value.service.map((s) => s.name));
        }
      }
      assert.ok(names.includes(MessagesService.typeName), names.join());
    } finally {
      sessions.abort();
    }
  } finally {
    await gw.close(500);
    await Promise.all(instances.map((s) => s.close(500)));
  }
});
