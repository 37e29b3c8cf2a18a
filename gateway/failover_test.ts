/**
 * Losing an instance mid-burst, through the gateway (issue 10 item 4): two
 * instances over MemoryStore as real processes (server/_memory_main.ts), a
 * burst of reads from a gRPC client to the gateway, and one instance killed
 * (SIGKILL) or stopped (SIGTERM, a drain) once a share of the burst is done.
 * Reads in flight on the lost instance must come back as UNAVAILABLE at
 * worst (the router retries them once on the fallback), never INTERNAL,
 * UNKNOWN or CANCELED; a drain must cost nothing.
 */
import assert from "node:assert/strict";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { MessagesService } from "../gen/dataservices/v1/messages_pb.ts";
import { type ChildService, spawnService } from "../cli/child.ts";
import { createLogger } from "../lib/log.ts";
import { withTimeout } from "../lib/wait.ts";
import { startGateway } from "./gateway.ts";
import type { UpstreamProtocol } from "./upstream.ts";

const BURST = 2000;
const CONCURRENCY = 100;
/** The instance goes away after this many answers. */
const LOSE_AFTER = 400;

async function spawnInstance(name: string): Promise<ChildService> {
  const child = spawnService(name, "server/_memory_main.ts", ["--port", "0"]);
  try {
    await child.ready("/readyz", 30_000);
  } catch (err) {
    await child.stop(0);
    throw err;
  }
  return child;
}

interface Outcome {
  readonly ok: number;
  readonly failed: Record<string, number>;
  readonly wallMs: number;
}

/** Sends the burst; calls `lose` once LOSE_AFTER answers are in. */
async function burst(baseUrl: string, lose: () => Promise<unknown>): Promise<Outcome> {
  const sessions = new Http2SessionManager(baseUrl);
  const api = createClient(
    MessagesService,
    createGrpcTransport({ baseUrl, sessionManager: sessions }),
  );
  let sent = 0;
  let answered = 0;
  let ok = 0;
  const failed: Record<string, number> = {};
  let lost: Promise<unknown> | undefined;
  const t0 = performance.now();
  const worker = async () => {
    while (sent < BURST) {
      const channelId = BigInt(1 + (sent++ % 64));
      try {
        await api.getMessages({ channelId }, { timeoutMs: 10_000 });
        ok++;
      } catch (e) {
        const code = Code[ConnectError.from(e).code];
        failed[code] = (failed[code] ?? 0) + 1;
      }
      if (++answered === LOSE_AFTER) lost = lose();
    }
  };
  try {
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    await lost;
  } finally {
    sessions.abort();
  }
  return { ok, failed, wallMs: Math.round(performance.now() - t0) };
}

const cases: [UpstreamProtocol, "SIGKILL" | "SIGTERM"][] = [
  ["fast", "SIGKILL"],
  ["fast", "SIGTERM"],
  ["grpc", "SIGKILL"],
];

for (const [protocol, signal] of cases) {
  Deno.test(`gateway (${protocol} upstream): ${signal} of an instance mid-burst of reads`, async () => {
    const instances = await Promise.all([spawnInstance("a"), spawnInstance("b")]);
    const targets = await Promise.all(instances.map(async (c) => new URL(await c.listening).host));
    const gw = await startGateway({
      port: 0,
      targets,
      protocol,
      log: createLogger({}, { level: "error", write: () => {} }),
    });
    try {
      const ready = Promise.withResolvers<void>();
      const off = gw.readiness.onChange(() => gw.readiness.ready && ready.resolve());
      if (gw.readiness.ready) ready.resolve();
      await withTimeout(ready.promise, 10_000, "the gateway to be ready").finally(off);

      const victim = instances[0];
      const outcome = await burst(gw.url, async () => {
        if (signal === "SIGKILL") {
          Deno.kill(victim.pid, "SIGKILL");
          await victim.exited;
        } else {
          await victim.stop(15_000);
        }
      });
      console.log(
        `${protocol} ${signal}: ${BURST} reads, ${outcome.ok} ok, failed ${
          JSON.stringify(outcome.failed)
        }, ${outcome.wallMs} ms`,
      );
      assert.equal(outcome.ok + Object.values(outcome.failed).reduce((a, b) => a + b, 0), BURST);
      if (signal === "SIGTERM") {
        assert.deepEqual(outcome.failed, {}, "a drain costs no call");
      } else {
        const wrong = Object.keys(outcome.failed).filter((c) => c !== "Unavailable");
        assert.deepEqual(wrong, [], "a killed instance surfaces as UNAVAILABLE only");
      }
      assert.equal(gw.router.instances[0].up, false, "the lost instance is marked down");
    } finally {
      await gw.close(500);
      await Promise.all(instances.map((c) => c.stop(5000)));
    }
  });
}
