/**
 * Admission before work, on a real instance over the in-memory store: past
 * --max-inflight-requests a call is answered RESOURCE_EXHAUSTED at once (on
 * both listeners, in the caller's protocol) while health and GetStats keep
 * answering; past the write queue a CreateMessage is answered
 * RESOURCE_EXHAUSTED instead of reaching the driver.
 */
import assert from "node:assert/strict";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  Http2SessionManager,
} from "@connectrpc/connect-node";
import { MessagesService } from "../gen/dataservices/v1/messages_pb.ts";
import { withTimeout } from "../lib/wait.ts";
import { startMemoryInstance } from "./_memory_instance.ts";

function h2(url: string, kind: "grpc" | "connect"): { t: Transport; close: () => void } {
  const sessionManager = new Http2SessionManager(url);
  const t = kind === "grpc"
    ? createGrpcTransport({ baseUrl: url, sessionManager })
    : createConnectTransport({ baseUrl: url, httpVersion: "2", sessionManager });
  return { t, close: () => sessionManager.abort() };
}

async function codeOf(p: Promise<unknown>): Promise<Code | "ok"> {
  try {
    await p;
    return "ok";
  } catch (e) {
    return ConnectError.from(e).code;
  }
}

Deno.test("past --max-inflight-requests: RESOURCE_EXHAUSTED at once; health and GetStats answer", async () => {
  const svc = await startMemoryInstance({ args: ["--max-inflight-requests", "2"] });
  const gate = svc.store.hold("getMessage");
  const clients = [h2(svc.url, "grpc"), h2(svc.fastUrl!, "connect")];
  try {
    const [main, fast] = clients.map((c) => createClient(MessagesService, c.t));
    // Two reads (distinct keys) held in the store fill the bound.
    const held = [
      main.getMessage({ channelId: 1n, messageId: 1n }),
      fast.getMessage({ channelId: 2n, messageId: 2n }),
    ];
    await withTimeout(gate.arrived(2), 5000, "two reads to reach the store");
    // A third data call is shed on either listener, without waiting for the held ones.
    assert.equal(
      await withTimeout(codeOf(main.getMessage({ channelId: 3n, messageId: 3n })), 2000, "shed"),
      Code.ResourceExhausted,
    );
    assert.equal(
      await withTimeout(codeOf(fast.getMessages({ channelId: 3n })), 2000, "shed"),
      Code.ResourceExhausted,
    );
    // Exempt: GetStats and the plain routes.
    const stats = await withTimeout(main.getStats({}), 2000, "GetStats under load");
    assert.ok(stats.rejected >= 2n, `rejected counts the shed calls: ${stats.rejected}`);
    const health = await fetch(`${svc.url}/healthz`);
    assert.equal(health.status, 200);
    await health.body?.cancel();
    gate.open();
    for (const code of await Promise.all(held.map(codeOf))) assert.equal(code, Code.NotFound);
    // Room again: a call is admitted.
    assert.equal(await codeOf(main.getMessage({ channelId: 4n, messageId: 4n })), Code.NotFound);
  } finally {
    gate.open();
    for (const c of clients) c.close();
    await svc.close(0);
  }
});

Deno.test("past the write queue: CreateMessage gets RESOURCE_EXHAUSTED, not a driver error", async () => {
  const svc = await startMemoryInstance({
    args: ["--max-concurrent-writes", "1", "--max-queued-writes", "1"],
  });
  const gate = svc.store.hold("createMessage");
  const c = h2(svc.url, "connect");
  try {
    const api = createClient(MessagesService, c.t);
    const write = (n: number) =>
      api.createMessage({ channelId: 9n, authorId: 1n, content: `m${n}` });
    const running = write(1);
    await withTimeout(gate.arrived(1), 5000, "the first write to reach the store");
    const queued = write(2); // waits for the slot
    assert.equal(
      await withTimeout(codeOf(write(3)), 2000, "the third write to be refused"),
      Code.ResourceExhausted,
    );
    gate.open();
    assert.equal(await codeOf(running), "ok");
    assert.equal(await codeOf(queued), "ok");
    const stats = await api.getStats({});
    assert.equal(stats.errors, 1n, "one write failed");
  } finally {
    gate.open();
    c.close();
    await svc.close(0);
  }
});
