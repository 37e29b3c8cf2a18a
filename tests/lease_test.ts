/**
 * Worker-id leases against the real Cassandra (server/worker_lease.ts,
 * server/lease_store.ts), in a keyspace of their own so that explicit ids
 * never meet another test's or a running stack's: instances get different
 * ids without configuration, a held explicit id makes a second claimant wait
 * and then a start-up error, an expired one is taken over above every id
 * minted under it, and a concurrent burst of writes on two instances mints
 * no id twice.
 *
 * Sanitizers are off: the driver keeps sockets and timers beyond a test's
 * body by design; every test closes what it opened.
 */
import assert from "node:assert/strict";
import cassandra from "cassandra-driver";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { MessagesService } from "../gen/dataservices/v1/messages_pb.ts";
import { applySchema } from "../db/schema.ts";
import { spawnInstance } from "../cli/child.ts";
import { withTimeout } from "../lib/wait.ts";
import { CassandraLeaseStore } from "../server/lease_store.ts";
import type { LeaseStore } from "../server/lease_contract.ts";
import { WorkerLease } from "../server/worker_lease.ts";
import { cassandraInfo, randomChannel, startInstance, transportFor } from "./_util.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const KEYSPACE = `lease_test_${Math.floor(Math.random() * 1e9)}`;
const unavailable = new ConnectError("no Cassandra host answered", Code.Unavailable);

/** The worker id inside a Snowflake id. */
const workerOf = (id: bigint) => Number((id >> 12n) & 1023n);

let setup: Promise<cassandra.Client> | undefined;

/** A client on the test Cassandra with the test keyspace created (once per run). */
function client(): Promise<cassandra.Client> {
  setup ??= (async () => {
    const info = await cassandraInfo();
    const c = new cassandra.Client({
      contactPoints: info.contactPoints,
      localDataCenter: info.localDataCenter,
      encoding: { useBigIntAsLong: true },
    });
    await c.connect();
    await applySchema(c, {
      keyspace: KEYSPACE,
      dataCenter: info.localDataCenter,
      replicationFactor: Math.min(3, info.nodes),
    });
    return c;
  })();
  return setup;
}

/** Resolves once `lease` is valid; rejects naming what did not happen. */
function valid(lease: WorkerLease, timeoutMs: number, what: string): Promise<void> {
  const { promise, resolve } = Promise.withResolvers<void>();
  const off = lease.onChange(() => lease.valid && resolve());
  if (lease.valid) resolve();
  return withTimeout(promise, timeoutMs, what).finally(off);
}

Deno.test({
  name: "two instances with no --worker-id get different ids and mint under them",
  ...opts,
  async fn() {
    await client();
    const args = ["--cassandra-keyspace", KEYSPACE, "--no-schema"];
    const [a, b] = await Promise.all([startInstance(args), startInstance(args)]);
    try {
      assert.ok(a.lease.valid && b.lease.valid, "ready means a lease is held");
      assert.notEqual(a.lease.workerId, b.lease.workerId);
      for (const svc of [a, b]) {
        const { transport, close } = transportFor(svc.url, "connect-binary/h2");
        try {
          const api = createClient(MessagesService, transport);
          const { message } = await api.createMessage({
            channelId: randomChannel(),
            authorId: 1n,
            content: "x",
          });
          assert.equal(workerOf(message!.messageId), svc.lease.workerId);
          const stats = await api.getStats({});
          assert.match(stats.instance, new RegExp(`#${svc.lease.workerId}$`));
        } finally {
          close();
        }
      }
    } finally {
      await Promise.all([a.close(1000), b.close(1000)]);
    }
  },
});

Deno.test({
  name: "a held --worker-id: the second claimant waits, then it is a conflict; " +
    "it takes the id once released, above every id minted before",
  ...opts,
  async fn() {
    const store = new CassandraLeaseStore(await client(), { keyspace: KEYSPACE, timeoutMs: 5000 });
    const first = new WorkerLease({ store, workerId: 5, ttlMs: 3000, holder: "first" });
    const conflict = Promise.withResolvers<Error>();
    const second = new WorkerLease({
      store,
      workerId: 5,
      ttlMs: 3000,
      holder: "second",
      onConflict: conflict.resolve,
    });
    try {
      first.start();
      await valid(first, 10_000, "the first lease of worker id 5");
      const minted = Array.from({ length: 5000 }, () => first.next());
      second.start();
      const err = await withTimeout(conflict.promise, 20_000, "the second claimant's conflict");
      assert.match(err.message, /worker id 5 is held by another running instance \(first\)/);
      assert.equal(second.valid, false, "never both");
      assert.equal(first.valid, true);

      await first.close();
      await valid(second, 10_000, "the second lease once the first released worker id 5");
      assert.equal(second.workerId, 5);
      assert.ok(second.next() > minted.at(-1)!, "above the first holder's ids");
    } finally {
      await Promise.all([first.close(), second.close()]);
    }
  },
});

Deno.test({
  name: "a crashed holder's --worker-id is taken over after its lease expires, above its ids",
  ...opts,
  async fn() {
    const real = new CassandraLeaseStore(await client(), { keyspace: KEYSPACE, timeoutMs: 5000 });
    let crashed = false;
    // The crashed instance's view: nothing reaches Cassandra any more (no renewal, no release).
    const view: LeaseStore = {
      scan: () => crashed ? Promise.reject(unavailable) : real.scan(),
      claim: (c) => crashed ? Promise.reject(unavailable) : real.claim(c),
      renew: (r) => crashed ? Promise.reject(unavailable) : real.renew(r),
      release: (r) => crashed ? Promise.reject(unavailable) : real.release(r),
    };
    const gone = new WorkerLease({ store: view, workerId: 6, ttlMs: 3000, holder: "gone" });
    const conflicts: Error[] = [];
    const next = new WorkerLease({
      store: real,
      workerId: 6,
      ttlMs: 3000,
      holder: "next",
      onConflict: (e) => conflicts.push(e),
    });
    try {
      gone.start();
      await valid(gone, 10_000, "the lease of worker id 6");
      const last = Array.from({ length: 5000 }, () => gone.next()).at(-1)!;
      crashed = true;
      await gone.close();
      next.start();
      await valid(next, 15_000, "worker id 6 taken over once the crashed holder's lease expired");
      assert.equal(next.workerId, 6);
      assert.ok(next.next() > last, "above the crashed holder's ids");
      assert.deepEqual(conflicts, []);
    } finally {
      await Promise.all([gone.close(), next.close()]);
    }
  },
});

Deno.test({
  name: "a concurrent create burst on two instances mints no id twice",
  ...opts,
  async fn() {
    await client();
    // One channel takes all 2,000 writes (so they can be counted back): its write bucket is off.
    const args = ["--cassandra-keyspace", KEYSPACE, "--no-schema", "--channel-write-rate", "0"];
    const instances = await Promise.all([startInstance(args), startInstance(args)]);
    const transports = instances.map((svc) => transportFor(svc.url, "connect-binary/h2"));
    try {
      const channelId = randomChannel();
      const apis = transports.map(({ transport }) => createClient(MessagesService, transport));
      const outcomes = await Promise.allSettled(
        Array.from(
          { length: 2000 },
          (_, i) => apis[i % 2].createMessage({ channelId, authorId: 1n, content: `burst ${i}` }),
        ),
      );
      const failed = outcomes.filter((o) => o.status === "rejected");
      assert.equal(failed.length, 0, String((failed[0] as PromiseRejectedResult)?.reason));
      const ids = outcomes.map((o) =>
        (o as PromiseFulfilledResult<{ message?: { messageId: bigint } }>)
          .value.message!.messageId
      );
      assert.equal(new Set(ids).size, 2000, "every id unique");
      assert.deepEqual(
        new Set(ids.map(workerOf)),
        new Set(instances.map((s) => s.lease.workerId)),
        "minted under the two leases",
      );
      // Every one of them is stored: none replaced another.
      const c = await client();
      const rs = await c.execute(
        `SELECT COUNT(*) AS n FROM ${KEYSPACE}.messages WHERE channel_id = ? AND bucket IN ?`,
        [channelId, [...new Set(ids.map((id) => Math.floor(Number(id >> 22n) / 864_000_000)))]],
        { prepare: true },
      );
      assert.equal(Number(rs.first().get("n")), 2000);
    } finally {
      for (const t of transports) t.close();
      await Promise.all(instances.map((s) => s.close(1000)));
    }
  },
});

Deno.test({
  name: "deno task serve with a --worker-id another running instance holds exits 1, saying why",
  ...opts,
  async fn() {
    const info = await cassandraInfo();
    await client();
    const args = [
      "--cassandra-keyspace",
      KEYSPACE,
      "--no-schema",
      "--worker-id",
      "9",
      "--worker-lease-ttl",
      "3",
    ];
    const cassandraAt = {
      contactPoints: info.contactPoints,
      localDataCenter: info.localDataCenter,
    };
    const first = spawnInstance("first", {
      host: "127.0.0.1",
      port: 0,
      cassandra: cassandraAt,
      extraArgs: args,
    });
    let second: ReturnType<typeof spawnInstance> | undefined;
    try {
      await first.ready("/readyz", 60_000);
      second = spawnInstance("second", {
        host: "127.0.0.1",
        port: 0,
        cassandra: cassandraAt,
        extraArgs: args,
      });
      const code = await withTimeout(second.exited, 30_000, "the second instance to exit");
      assert.equal(code, 1);
      assert.ok(
        second.tail().some((l) => /worker id 9 is held by another running instance/.test(l)),
        second.tail().join("\n"),
      );
      const r = await fetch(`${await first.listening}/readyz`);
      await r.body?.cancel();
      assert.equal(r.status, 200, "the first one keeps serving");
    } finally {
      await second?.stop(5000);
      await first.stop(5000);
    }
  },
});

Deno.test({
  name: "lease tests: drop their keyspace",
  ...opts,
  async fn() {
    if (!setup) return;
    const c = await setup;
    await c.execute(`DROP KEYSPACE IF EXISTS ${KEYSPACE}`, [], { readTimeout: 60_000 });
    await c.shutdown();
  },
});
