/**
 * runLoad and the command line against real data-service instances whose
 * store is a MemoryStore (no Cassandra needed): routing, counting, errors,
 * exit codes. Sanitizers are on. The run against Cassandra is
 * tests/load_test.ts.
 */
import assert from "node:assert/strict";
import { startMemoryInstance } from "../server/_memory_instance.ts";
import type { DataService } from "../server/app.ts";
import { originalRow } from "../server/demo.ts";
import { MemoryStore, type StoreCall } from "../server/memory_store.ts";
import { LoadError, main, runLoad } from "./load.ts";
import type { DnsResolver } from "../router/dns.ts";

/**
 * An instance whose reads take 20 ms (so concurrent ones coalesce), with the
 * original's rows of channels 1..20; GetMessage fails in channel 13 (to count
 * errors).
 */
function startFake(): Promise<DataService> {
  const store = new MemoryStore({
    latencyMs: 20,
    messages: Array.from({ length: 20 }, (_, i) => originalRow(i + 1)),
  });
  store.failWith(
    "getMessage",
    (call: StoreCall) =>
      call.op === "getMessage" && call.channelId === 13n ? new Error("disk on fire") : undefined,
  );
  return startMemoryInstance({ store });
}

Deno.test("runLoad against in-memory instances", async (t) => {
  const a = await startFake();
  const b = await startFake();
  const targets = [a.url, b.url];
  try {
    await t.step("jump: every channel's requests land on one instance", async () => {
      const r = await runLoad({ targets, requests: 2000, channels: 20, method: "history" });
      assert.equal(r.client.failed, 0);
      assert.equal(r.totalRequests, 2000);
      assert.ok(r.totalQueries < 2000, `${r.totalQueries} queries`);
      assert.equal(r.savedQueries, 2000 - r.totalQueries);
      // 100 requests per channel: an instance's count is a multiple of 100 iff no channel is split.
      for (const d of r.instances) assert.equal(d.requests % 100, 0, `${d.id}: ${d.requests}`);
      assert.deepEqual(r.instances.map((d) => d.id), targets);
      assert.equal(r.latencyMs?.count, 2000);
    });

    await t.step("a dns+srv: target is resolved once, in sorted order", async () => {
      const ports = [a, b].map((s) => Number(new URL(s.url).port));
      const ids = ports.map((p) => `127.0.0.1:${p}`).sort((x, y) => x < y ? -1 : 1);
      const queried: string[] = [];
      const resolver = ((name: string, type: string) => {
        queried.push(`${type} ${name}`);
        return Promise.resolve(
          ports.toReversed().map((port) => ({
            priority: 0,
            weight: 1,
            port,
            target: "127.0.0.1.",
          })),
        );
      }) as DnsResolver;
      const r = await runLoad(
        { targets: ["dns+srv:///_grpc._tcp.ds"], requests: 200, method: "history" },
        { resolver },
      );
      assert.deepEqual(queried, ["SRV _grpc._tcp.ds"]);
      assert.deepEqual(r.instances.map((d) => d.id), ids);
      assert.equal(r.client.failed, 0);
      await assert.rejects(
        runLoad({ targets: ["dns:///ds:1"], requests: 1 }, {
          resolver: ((): Promise<never> =>
            Promise.reject(new Deno.errors.NotFound("nxdomain"))) as DnsResolver,
        }),
        (e) => e instanceof LoadError && /Cannot resolve --targets dns:\/\/\/ds:1/.test(e.message),
      );
    });

    await t.step("round-robin: each instance gets half of every channel", async () => {
      const r = await runLoad({
        targets,
        requests: 2000,
        routing: "round-robin",
        method: "history",
        concurrency: 50,
      });
      assert.deepEqual(r.instances.map((d) => d.requests), [1000, 1000]);
    });

    await t.step("single: everything on the first target", async () => {
      const r = await runLoad({ targets, requests: 300, routing: "single", protocol: "connect" });
      assert.deepEqual(r.instances.map((d) => d.requests), [300, 0]);
      assert.equal(r.client.failed, 15); // channel 13 fails: 300 / 20
    });

    await t.step("failures are counted by code; warmup is not counted", async () => {
      const r = await runLoad({
        targets,
        requests: 400,
        warmup: 100,
        method: "compat",
        protocol: "grpc-web",
      });
      assert.equal(r.totalRequests, 400);
      assert.equal(r.client.sent, 400);
      assert.equal(r.client.failed, 20);
      // One code for all of them (the server maps a store failure to a Connect code).
      assert.deepEqual(Object.values(r.client.errors), [20]);
      assert.deepEqual(r.client.warmup, { sent: 100, failed: 5 });
    });

    await t.step(
      "workers: the requests split over threads, each sent once, figures merged",
      async () => {
        for (const workers of [1, 3]) {
          const r = await runLoad({ targets, requests: 2001, warmup: 41, workers });
          assert.equal(r.config.workers, workers);
          assert.equal(r.client.sent, 2001);
          assert.equal(r.totalRequests, 2001, `${workers} workers`);
          assert.equal(r.latencyMs?.count, 2001);
          // Channel 13 is request i with i % 20 === 12: 100 of 2001, 2 of the 41 warmups.
          assert.equal(r.client.failed, 100, `${workers} workers`);
          assert.deepEqual(Object.values(r.client.errors), [100]);
          assert.equal(r.client.errorSamples.length, 1);
          assert.deepEqual(r.client.warmup, { sent: 41, failed: 2 });
          // Jump routing still sees every channel on one instance only.
          for (const d of r.instances) {
            assert.equal(d.requests % 100 <= 1, true, `${d.id}: ${d.requests}`);
          }
        }
        // A concurrency of 2 can use 2 threads at most.
        const capped = await runLoad({ targets, requests: 50, concurrency: 2, workers: 4 });
        assert.equal(capped.config.workers, 2);
        assert.equal(capped.client.sent, 50);
      },
    );

    await t.step("open loop: rps and duration", async () => {
      const r = await runLoad({
        targets,
        rps: 200,
        durationMs: 500,
        method: "history",
        protocol: "connect-json",
      });
      assert.equal(r.client.sent, 100);
      assert.equal(r.totalRequests, 100);
      assert.ok(r.totalTimeMs >= 495, `${r.totalTimeMs} ms`);
    });

    await t.step("gateway: requests go to one URL, stats from the targets", async () => {
      const r = await runLoad({ targets, gateway: b.url, requests: 200, method: "history" });
      assert.deepEqual(
        r.instances.map((d) => d.requests),
        [0, 200],
      );
      assert.equal(r.config.routing, "gateway");
      assert.ok(r.notes.some((n) => n.includes("through the gateway")));
    });

    await t.step(
      "an instance that dies during the run is reported missing, not fatal",
      async () => {
        const c = await startFake();
        const r = await runLoad(
          { targets: [a.url, c.url], routing: "single", requests: 200, concurrency: 10 },
          { onStart: () => void c.close(0) },
        );
        assert.deepEqual(r.instances.map((d) => [d.id, d.requests]), [[a.url, 200]]);
        const prefix = `Missing from the counts: Cannot read GetStats from instance ${c.url}`;
        assert.ok(r.notes.some((n) => n.startsWith(prefix)), r.notes.join("\n"));
      },
    );

    await t.step(
      "main: exit 1 when requests fail, 0 with --allow-errors; json on stdout",
      async () => {
        const out: string[] = [];
        const log = console.log;
        const error = console.error;
        console.log = (s: string) => out.push(s);
        console.error = () => {};
        try {
          const args = ["--targets", targets.join(","), "--requests", "40", "--format", "json"];
          assert.equal(await main(args), 1);
          assert.equal(await main([...args, "--allow-errors"]), 0);
          assert.equal(await main([...args, "--method", "history"]), 0);
        } finally {
          console.log = log;
          console.error = error;
        }
        const last = JSON.parse(out.at(-1)!);
        assert.equal(last.totalRequests, 40);
        assert.equal(last.client.failed, 0);
        assert.equal(last.unique, 20);
      },
    );
  } finally {
    await Promise.all([a.close(0), b.close(0)]);
  }
});

Deno.test("an unreachable target fails fast with a clear LoadError", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close(); // nothing listens there now
  await assert.rejects(
    runLoad({ targets: [`127.0.0.1:${port}`], requests: 10 }),
    (err) => {
      assert.ok(err instanceof LoadError);
      assert.match(
        err.message,
        new RegExp(`Cannot read GetStats from instance 127\\.0\\.0\\.1:${port}`),
      );
      assert.match(err.message, /unavailable/);
      assert.match(err.message, /--targets/);
      return true;
    },
  );
});
