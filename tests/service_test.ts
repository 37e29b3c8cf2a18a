/**
 * Integration tests of a data-service instance against the real Cassandra:
 * every RPC through every protocol and HTTP version, history across time
 * buckets, coalescing under 1,000 identical concurrent reads, Cassandra
 * failures and a missing schema. What needs no database (bad input, CORS,
 * health and metrics, getAndResetMetrics, hang-ups, a failed start) is
 * tested over a MemoryStore in server/app_test.ts.
 *
 * Sanitizers are off: cassandra-driver and node:http keep-alive agents hold
 * sockets and timers beyond a test's body by design; every test closes what
 * it opened in `finally`.
 */
import assert from "node:assert/strict";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { MessagesService } from "../gen/dataservices/v1/messages_pb.ts";
import { MessagesService as CompatService } from "../gen/messages/messages_pb.ts";
import {
  Health,
  HealthCheckResponse_ServingStatus as Status,
} from "../gen/grpc/health/v1/health_pb.ts";
import { CassandraStore } from "../server/store.ts";
import { BUCKET_MS, firstIdAt } from "../server/snowflake.ts";
import { withTimeout } from "../lib/wait.ts";
import {
  cassandraInfo,
  FAST_PROTOCOLS,
  PROTOCOLS,
  randomChannel,
  READY_TIMEOUT_MS,
  startInstance,
  transportFor,
} from "./_util.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

async function rejectsWith(p: Promise<unknown>, code: Code): Promise<ConnectError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ConnectError, `not a ConnectError: ${err}`);
    assert.equal(Code[err.code], Code[code], err.message);
    return err;
  }
  assert.fail(`expected ${Code[code]}, got success`);
}

Deno.test({
  name: "every RPC through every protocol and HTTP version, on both listeners",
  ...opts,
  async fn(t) {
    const svc = await startInstance();
    assert.ok(svc.fastUrl, "the fast listener runs");
    const cases = [
      ...PROTOCOLS.map((protocol) => ({ protocol, url: svc.url, port: "main" })),
      ...FAST_PROTOCOLS.map((protocol) => ({ protocol, url: svc.fastUrl!, port: "fast" })),
    ];
    try {
      for (const { protocol, url, port } of cases) {
        await t.step(`${port} ${protocol}`, async () => {
          const { transport, close } = transportFor(url, protocol);
          try {
            const api = createClient(MessagesService, transport);
            const compat = createClient(CompatService, transport);
            const health = createClient(Health, transport);
            const channelId = randomChannel();
            const before = await api.getStats({});

            const created = [];
            for (const n of [1, 2, 3]) {
              const { message } = await api.createMessage({
                channelId,
                authorId: 7n,
                content: `hello ${n} via ${protocol} ✓`,
              });
              assert.ok(message && message.messageId > 0n);
              created.push(message);
            }
            const one = await api.getMessage({ channelId, messageId: created[1].messageId });
            assert.equal(one.message?.content, `hello 2 via ${protocol} ✓`);
            assert.equal(one.message?.authorId, 7n);
            assert.ok(one.message?.createdAt, "createdAt is set");

            const page = await api.getMessages({ channelId, limit: 2 });
            assert.deepEqual(
              page.messages.map((m) => m.messageId),
              [created[2].messageId, created[1].messageId],
              "newest first, limited",
            );
            const rest = await api.getMessages({ channelId, before: created[1].messageId });
            assert.deepEqual(rest.messages.map((m) => m.messageId), [created[0].messageId]);

            const reply = await compat.getMessage({ channelId, messageId: created[0].messageId });
            assert.equal(reply.content, `hello 1 via ${protocol} ✓`);
            assert.equal(reply.authorId, 7n);

            await rejectsWith(api.getMessage({ channelId, messageId: 12345n }), Code.NotFound);
            // The original's contract: a missing row is an empty success, as the original sent.
            const empty = await compat.getMessage({ channelId, messageId: 12345n });
            assert.deepEqual(
              [empty.channelId, empty.messageId, empty.authorId, empty.content],
              [0n, 0n, 0n, ""],
            );
            await rejectsWith(
              compat.getMessage({ channelId: 0n, messageId: 1n }),
              Code.InvalidArgument,
            );
            await rejectsWith(api.getMessages({ channelId: 0n }), Code.InvalidArgument);
            await rejectsWith(api.getMessages({ channelId, limit: 101 }), Code.InvalidArgument);
            await rejectsWith(
              api.createMessage({ channelId, authorId: 1n, content: "" }),
              Code.InvalidArgument,
            );

            const after = await api.getStats({});
            // 3 creates, 1 get, 2 pages, 1 compat get, 2 missing (one NOT_FOUND, one empty
            // success), 4 invalid = 13 requests, 5 errors
            assert.equal(after.requests - before.requests, 13n);
            assert.equal(after.errors - before.errors, 5n);
            assert.ok(after.queries - before.queries >= 8n, "each read and write queried");

            const status = await health.check({});
            assert.equal(status.status, Status.SERVING);
            const win = await compat.getAndResetMetrics({});
            assert.ok(win.totalRequests >= 0n);
          } finally {
            close();
          }
        });
      }
    } finally {
      await svc.close(1000);
    }
  },
});

Deno.test({
  name: "history pages newest first across time buckets",
  ...opts,
  async fn() {
    const info = await cassandraInfo();
    const store = new CassandraStore({
      contactPoints: info.contactPoints,
      localDataCenter: info.localDataCenter,
      keyspace: "dataservices",
    });
    const svc = await startInstance();
    const { transport, close } = transportFor(svc.url, "connect-binary/h2");
    try {
      await store.connect();
      const channelId = randomChannel();
      const now = Date.now();
      // 5 buckets, 3 messages in each, written straight to the store.
      const ids: bigint[] = [];
      for (let b = 0; b < 5; b++) {
        for (let k = 0; k < 3; k++) {
          const id = firstIdAt(now - b * BUCKET_MS - k * 1000) | BigInt(k);
          ids.push(id);
          await store.createMessage({
            channelId,
            messageId: id,
            authorId: 1n,
            content: `${b}/${k}`,
          });
        }
      }
      ids.sort((a, b) => (a < b ? 1 : a > b ? -1 : 0));
      const api = createClient(MessagesService, transport);
      const seen: bigint[] = [];
      let before = 0n;
      for (;;) {
        const page = await api.getMessages({ channelId, before, limit: 4 });
        if (page.messages.length === 0) break;
        seen.push(...page.messages.map((m) => m.messageId));
        before = page.messages.at(-1)!.messageId;
      }
      assert.deepEqual(seen, ids);
      const window = await api.getMessages({ channelId, after: ids[10], before: ids[4] });
      assert.deepEqual(window.messages.map((m) => m.messageId), ids.slice(5, 10));
    } finally {
      close();
      await svc.close(1000);
      await store.close();
    }
  },
});

Deno.test({
  name: "1,000 identical concurrent reads share far fewer queries and get the same rows",
  ...opts,
  async fn() {
    const svc = await startInstance();
    const { transport, close } = transportFor(svc.url, "connect-binary/h2");
    try {
      const api = createClient(MessagesService, transport);
      const channelId = randomChannel();
      for (let i = 0; i < 5; i++) {
        await api.createMessage({ channelId, authorId: 3n, content: `storm ${i}` });
      }
      const before = await api.getStats({});
      const results = await Promise.all(
        Array.from({ length: 1000 }, () => api.getMessages({ channelId, limit: 10 })),
      );
      const after = await api.getStats({});
      const rows = results.map((r) => r.messages.map((m) => `${m.messageId}:${m.content}`));
      assert.equal(rows[0].length, 5);
      for (const r of rows) assert.deepEqual(r, rows[0]);
      const requests = after.requests - before.requests;
      const queries = after.queries - before.queries;
      const coalesced = after.coalesced - before.coalesced;
      assert.equal(requests, 1000n);
      assert.ok(
        queries * 10n < requests,
        `queries ${queries} should be far fewer than ${requests}`,
      );
      assert.equal(queries + coalesced, requests, "each request either queried or joined");
      assert.equal(after.errors - before.errors, 0n);
    } finally {
      close();
      await svc.close(1000);
    }
  },
});

Deno.test({
  name: "with --no-coalesce every read queries",
  ...opts,
  async fn() {
    const svc = await startInstance(["--no-coalesce"]);
    const { transport, close } = transportFor(svc.url, "connect-binary/h2");
    try {
      const api = createClient(MessagesService, transport);
      const channelId = randomChannel();
      const before = await api.getStats({});
      await Promise.all(Array.from({ length: 50 }, () => api.getMessages({ channelId })));
      const after = await api.getStats({});
      assert.equal(after.queries - before.queries, 50n);
      assert.equal(after.coalesced - before.coalesced, 0n);
    } finally {
      close();
      await svc.close(1000);
    }
  },
});

Deno.test({
  name:
    "a Cassandra failure reaches every waiter as UNAVAILABLE, and the next request queries again",
  ...opts,
  async fn() {
    const info = await cassandraInfo();
    // A consistency level the keyspace's replicas cannot meet: Cassandra itself
    // answers every read with an Unavailable error.
    const level = ["TWO", "THREE", "ALL"][0];
    const rf = Math.min(3, info.nodes);
    if (rf >= 2) return; // only a 1-node cluster cannot meet TWO (see README, db up --nodes 3)
    const svc = await startInstance(["--cassandra-consistency", level, "--no-schema"], {
      waitReady: false,
    });
    const { transport, close } = transportFor(svc.url, "grpc/h2");
    try {
      const api = createClient(MessagesService, transport);
      const channelId = randomChannel();
      const before = await api.getStats({});
      const outcomes = await Promise.allSettled(
        Array.from({ length: 200 }, () => api.getMessages({ channelId })),
      );
      for (const o of outcomes) {
        assert.equal(o.status, "rejected", "never an empty success");
        const err = ConnectError.from((o as PromiseRejectedResult).reason);
        assert.equal(Code[err.code], "Unavailable", err.message);
      }
      const mid = await api.getStats({});
      const firstQueries = mid.queries - before.queries;
      assert.ok(firstQueries >= 1n && firstQueries < 200n, `queries: ${firstQueries}`);
      assert.equal(mid.errors - before.errors, 200n);
      await rejectsWith(api.getMessages({ channelId }), Code.Unavailable);
      const after = await api.getStats({});
      assert.equal(after.queries - mid.queries, 1n, "errors are not cached");
    } finally {
      close();
      await svc.close(1000);
    }
  },
});

Deno.test({
  name: "no Cassandra: readiness 503 / NOT_SERVING and reads fail UNAVAILABLE",
  ...opts,
  async fn() {
    const svc = await startInstance(["--cassandra-contact-points", "127.0.0.1:1"], {
      waitReady: false,
    });
    const { transport, close } = transportFor(svc.url, "grpc/h2");
    try {
      const api = createClient(MessagesService, transport);
      await rejectsWith(api.getMessage({ channelId: 1n, messageId: 1000n }), Code.Unavailable);
      const health = createClient(Health, transport);
      assert.equal((await health.check({})).status, Status.NOT_SERVING);
      const r = await fetch(`${svc.url}/readyz`);
      assert.equal(r.status, 503);
      assert.match((await r.json()).reason, /.+/);
      const h = await fetch(`${svc.url}/healthz`);
      assert.equal(h.status, 200);
      await h.body?.cancel();
    } finally {
      close();
      await svc.close(1000);
    }
  },
});

Deno.test({
  name: "readiness stays 503 when the keyspace has no messages table",
  ...opts,
  async fn() {
    const svc = await startInstance(["--cassandra-keyspace", "no_such_keyspace", "--no-schema"], {
      waitReady: false,
    });
    try {
      // The first probe outcome: ready (the bug this guards against) or a reason.
      const { promise, resolve } = Promise.withResolvers<void>();
      const off = svc.readiness.onChange(resolve);
      if (svc.readiness.reason !== "store not probed yet") resolve();
      await withTimeout(promise, READY_TIMEOUT_MS, `the first store probe of ${svc.url}`);
      off();
      assert.equal(svc.readiness.ready, false);
      const r = await fetch(`${svc.url}/readyz`);
      assert.equal(r.status, 503);
      assert.match((await r.json()).reason, /no_such_keyspace\.messages does not exist/);
    } finally {
      await svc.close(500);
    }
  },
});
