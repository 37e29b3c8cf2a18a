/**
 * Validation from the proto on a real instance (MemoryStore): an invalid
 * request gets INVALID_ARGUMENT with a `buf.validate.Violations` detail naming
 * the field, through every protocol, on both listeners, on the fast path and
 * on the connect-es path (`--no-fast-path`); the call is counted like any
 * failed call, and never reaches the store.
 */
import assert from "node:assert/strict";
import { ViolationsSchema } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import {
  createConnectTransport as createH2ConnectTransport,
  createGrpcTransport,
  Http2SessionManager,
} from "@connectrpc/connect-node";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
import { MessagesService } from "../gen/dataservices/v1/messages_pb.ts";
import { MessagesService as CompatService } from "../gen/messages/messages_pb.ts";
import { startMemoryInstance } from "./_memory_instance.ts";

/**
 * Every protocol a listener serves, by name: HTTP/1.1 through fetch
 * (connect-web), HTTP/2 through node:http2 (connect-node). (Not connect-node's
 * HTTP/1.1 transports: in Deno 2.9.6, after two Connect GETs on a keep-alive
 * node:http connection, the next POST fails or hangs, with or without this
 * server's validation.)
 */
function transports(url: string, listener: "main" | "fast") {
  const sessions: Http2SessionManager[] = [];
  const h2 = () => {
    const m = new Http2SessionManager(url);
    sessions.push(m);
    return m;
  };
  const list: [string, Transport][] = [
    ["gRPC-web", createGrpcWebTransport({ baseUrl: url })],
    ["Connect JSON", createConnectTransport({ baseUrl: url })],
    ["Connect binary", createConnectTransport({ baseUrl: url, useBinaryFormat: true })],
    ["Connect GET", createConnectTransport({ baseUrl: url, useHttpGet: true })],
    [
      "Connect JSON, HTTP/2",
      createH2ConnectTransport({ baseUrl: url, httpVersion: "2", sessionManager: h2() }),
    ],
  ];
  if (listener === "main") {
    list.push(["gRPC", createGrpcTransport({ baseUrl: url, sessionManager: h2() })]);
  }
  return { list, close: () => sessions.forEach((s) => s.abort()) };
}

/** Asserts `err` is INVALID_ARGUMENT with one violation of `field` by `ruleId`. */
function assertViolation(err: unknown, field: string, ruleId: string, where: string): void {
  assert.ok(err instanceof ConnectError, `${where}: not a ConnectError: ${err}`);
  assert.equal(Code[err.code], Code[Code.InvalidArgument], `${where}: ${err.message}`);
  const details = err.findDetails(ViolationsSchema);
  assert.equal(details.length, 1, `${where}: one buf.validate.Violations detail`);
  const [v] = details[0].violations;
  assert.deepEqual(
    { field: v.field?.elements.map((e) => e.fieldName), ruleId: v.ruleId },
    { field: [field], ruleId },
    where,
  );
  assert.match(err.rawMessage, new RegExp(`^${field}: `), `${where}: ${err.rawMessage}`);
}

/** grpc_server_handled_total of GetMessage with code InvalidArgument. */
async function invalidCount(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split("\n").find((l) =>
    l.startsWith("grpc_server_handled_total{") && l.includes('grpc_method="GetMessage"') &&
    l.includes('grpc_service="dataservices.v1.MessagesService"') &&
    l.includes('grpc_code="InvalidArgument"')
  );
  return line === undefined ? 0 : Number(line.split(" ").at(-1));
}

for (const fastPath of [true, false]) {
  const path = fastPath ? "fast path" : "connect-es path";
  Deno.test(`invalid requests: INVALID_ARGUMENT with violations, every protocol (${path})`, async () => {
    const svc = await startMemoryInstance({ args: fastPath ? [] : ["--no-fast-path"] });
    const listeners = [
      ["main", svc.url],
      ["fast", svc.fastUrl!],
    ] as const;
    let calls = 0;
    try {
      for (const [listener, url] of listeners) {
        const { list, close } = transports(url, listener);
        try {
          for (const [protocol, transport] of list) {
            const where = `${listener} listener, ${protocol}`;
            const api = createClient(MessagesService, transport);
            await assert.rejects(api.getMessage({ channelId: 0n, messageId: 7n }), (err) => {
              assertViolation(err, "channel_id", "int64.gt", where);
              return true;
            });
            calls++;
            await assert.rejects(api.getMessages({ channelId: 1n, limit: 101 }), (err) => {
              assertViolation(err, "limit", "int32.gte_lte", where);
              return true;
            });
            if (protocol === "Connect GET") continue; // CreateMessage has side effects: POST only
            await assert.rejects(
              api.createMessage({ channelId: 1n, authorId: 1n, content: " \n " }),
              (err) => {
                assertViolation(err, "content", "content_not_blank", where);
                return true;
              },
            );
          }
          // The original's API has no rules in its proto and keeps its own check.
          const compat = createClient(CompatService, list[0][1]);
          await assert.rejects(compat.getMessage({ channelId: 0n, messageId: 1n }), (err) => {
            assert.ok(err instanceof ConnectError);
            assert.equal(err.code, Code.InvalidArgument, err.message);
            assert.equal(err.rawMessage, "channel_id must be > 0, got 0");
            assert.equal(err.findDetails(ViolationsSchema).length, 0);
            return true;
          });
        } finally {
          close();
        }
      }
      assert.deepEqual(
        [svc.store.calls.getMessage, svc.store.calls.getMessages, svc.store.calls.createMessage],
        [0, 0, 0],
        "invalid requests never reach the store",
      );
      assert.equal(await invalidCount(svc.url), calls, "every rejected GetMessage is counted");
    } finally {
      await svc.close(1000);
    }
  });
}

Deno.test("a valid request passes validation (limit 0 means the default page)", async () => {
  const svc = await startMemoryInstance();
  try {
    const api = createClient(MessagesService, createConnectTransport({ baseUrl: svc.fastUrl! }));
    const created = await api.createMessage({ channelId: 5n, authorId: 2n, content: " hi " });
    assert.equal(created.message?.content, " hi ");
    const page = await api.getMessages({ channelId: 5n, limit: 0 });
    assert.deepEqual(page.messages.map((m) => m.messageId), [created.message!.messageId]);
    assert.equal(svc.store.calls.createMessage, 1);
  } finally {
    await svc.close(1000);
  }
});
