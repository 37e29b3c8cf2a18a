/**
 * Integration tests of how an instance lives through Cassandra failing, with
 * the real driver and the real Cassandra, faults injected by a TCP proxy in
 * front of it (lib/fault_proxy.ts; the shared Cassandra is never touched):
 * frozen (every byte held, connections open: a node under SIGSTOP) and gone
 * (connections closed and refused: a killed node).
 *
 * Needs a one-node Cassandra (the driver would learn other nodes' addresses
 * and bypass the proxy); skipped otherwise. Sanitizers are off: the driver
 * keeps sockets and timers beyond a test's body by design.
 */
import assert from "node:assert/strict";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { MessagesService } from "../gen/dataservices/v1/messages_pb.ts";
import { FaultProxy } from "../lib/fault_proxy.ts";
import { withTimeout } from "../lib/wait.ts";
import type { DataService } from "../server/app.ts";
import { cassandraInfo, randomChannel, startInstance, transportFor } from "./_util.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

/** Resolves once `svc`'s readiness is `ready`; rejects naming what did not happen. */
function readiness(svc: DataService, ready: boolean, timeoutMs: number, what: string) {
  const { promise, resolve } = Promise.withResolvers<void>();
  const off = svc.readiness.onChange(() => svc.readiness.ready === ready && resolve());
  if (svc.readiness.ready === ready) resolve();
  return withTimeout(promise, timeoutMs, what).finally(off);
}

async function codeOf(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
    return { code: "OK", message: "" };
  } catch (err) {
    const e = ConnectError.from(err);
    return { code: Code[e.code], message: e.message };
  }
}

/** A proxy in front of the test Cassandra, or undefined when it has more than one node. */
async function proxyToCassandra(): Promise<FaultProxy | undefined> {
  const info = await cassandraInfo();
  if (info.nodes !== 1) return undefined;
  const [hostname, port = "9042"] = info.contactPoints[0].split(":");
  return await FaultProxy.start({ hostname, port: Number(port) });
}

Deno.test({
  name: "frozen Cassandra: readiness flips while calls wait, calls end at the query timeout",
  ...opts,
  async fn() {
    const proxy = await proxyToCassandra();
    if (!proxy) return;
    // A flight bound far above the query timeout: only the store's bound can end the calls.
    const svc = await startInstance([
      "--cassandra-contact-points",
      proxy.address,
      "--query-timeout-ms",
      "5000",
      "--flight-timeout-ms",
      "60000",
    ]);
    const { transport, close } = transportFor(svc.url, "connect-binary/h2");
    try {
      const api = createClient(MessagesService, transport);
      const channelId = randomChannel();
      await api.getMessages({ channelId });

      proxy.freeze();
      let settled = 0;
      const calls = [
        codeOf(api.getMessage({ channelId, messageId: 1n }, { timeoutMs: 30_000 })),
        codeOf(api.getMessages({ channelId }, { timeoutMs: 30_000 })),
      ].map((p) => p.finally(() => settled++));
      // The probe has its own short timeout: readiness flips long before the calls' 5 s pass.
      await readiness(svc, false, 10_000, "readiness to flip while Cassandra is frozen");
      assert.equal(settled, 0, "readiness flipped only after the frozen calls ended");
      assert.match(svc.readiness.reason, /Cassandra probe/);
      // Ended by the server within the query timeout: by the store's bound, or earlier by the
      // driver dropping the frozen connection (its heartbeat went unanswered): never by the
      // callers' 30 s deadline or the 60 s flight bound.
      for (const r of await Promise.all(calls)) {
        const bounded = r.code === "DeadlineExceeded" &&
          /longer than 5000 ms \(--query-timeout-ms\)/.test(r.message);
        assert.ok(bounded || r.code === "Unavailable", `${r.code}: ${r.message}`);
      }

      proxy.thaw();
      await readiness(svc, true, 10_000, "readiness to come back after Cassandra thawed");
      const again = await api.getMessages({ channelId }, { timeoutMs: 10_000 });
      assert.deepEqual(again.messages, []);
    } finally {
      close();
      await svc.close(1000);
      await proxy.close();
    }
  },
});

Deno.test({
  name:
    "Cassandra gone for a while: UNAVAILABLE at once, serving again within seconds of its return",
  ...opts,
  async fn() {
    const proxy = await proxyToCassandra();
    if (!proxy) return;
    const svc = await startInstance(["--cassandra-contact-points", proxy.address]);
    const { transport, close } = transportFor(svc.url, "connect-binary/h2");
    try {
      const api = createClient(MessagesService, transport);
      const channelId = randomChannel();
      await api.getMessages({ channelId });

      await proxy.down({ reset: true });
      await readiness(svc, false, 10_000, "readiness to flip once Cassandra is gone");
      const gone = await codeOf(api.getMessages({ channelId }, { timeoutMs: 10_000 }));
      assert.equal(gone.code, "Unavailable", gone.message);
      // The driver keeps trying at least every second (its default policy backs off: 1, 2, 4,
      // 8, 16 s ... up to 10 minutes, so an instance served again ~25 s after the cluster).
      await withTimeout(proxy.turnedAway(8), 30_000, "eight reconnection attempts");
      await withTimeout(
        proxy.turnedAway(11),
        5_000,
        "three more reconnection attempts within 5 s (one a second at most)",
      );

      await proxy.up();
      await readiness(
        svc,
        true,
        5_000,
        "readiness within 5 s of Cassandra answering again (reconnection every second)",
      );
      const back = await api.getMessages({ channelId }, { timeoutMs: 5_000 });
      assert.deepEqual(back.messages, []);
    } finally {
      close();
      await svc.close(1000);
      await proxy.close();
    }
  },
});
