/**
 * Integration test of `deno task db` against the running Cassandra (the
 * `test` task runs `db up` first): write and read `dataservices.messages`
 * with cassandra-driver under Deno, `db status`, a second `db up` (no-op),
 * and the foreign-port check.
 */
import assert from "node:assert/strict";
import cassandra from "cassandra-driver";
import {
  clientOptions,
  type ClusterInfo,
  contactPoints,
  DbError,
  ensureUp,
  REPO_ROOT,
  settingsFromEnv,
  tcpOpen,
} from "../db/cluster.ts";

const Long = cassandra.types.Long;

async function cluster(): Promise<ClusterInfo> {
  const info = await contactPoints();
  assert.ok(info, "no Cassandra running: run `deno task db up` (deno task test does)");
  return info;
}

/** Runs `deno run -A db/main.ts ...args` from the repository root. */
async function db(...args: string[]): Promise<{ code: number; out: string }> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "db/main.ts", ...args],
    cwd: REPO_ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const d = new TextDecoder();
  return { code: r.code, out: d.decode(r.stdout) + d.decode(r.stderr) };
}

Deno.test("messages: prepared writes, newest-first reads", async () => {
  const info = await cluster();
  const client = new cassandra.Client({ ...clientOptions(info), keyspace: "dataservices" });
  try {
    await client.connect();
    const channel = Long.fromString(
      String(1n + BigInt(Math.floor(Math.random() * 2 ** 52)) * 1024n + BigInt(Date.now() % 1024)),
    );
    const bucket = 7;
    const ids = [101, 105, 103, 104, 102].map((i) => Long.fromNumber(1_000_000_000 + i));
    for (const id of ids) {
      await client.execute(
        "INSERT INTO messages (channel_id, bucket, message_id, author_id, content) " +
          "VALUES (?, ?, ?, ?, ?)",
        [channel, bucket, id, Long.fromNumber(42), `hello ${id.toString()}`],
        { prepare: true, consistency: cassandra.types.consistencies.localQuorum },
      );
    }
    const rs = await client.execute(
      "SELECT message_id, author_id, content FROM messages WHERE channel_id = ? AND bucket = ?",
      [channel, bucket],
      { prepare: true, consistency: cassandra.types.consistencies.localQuorum },
    );
    const got = rs.rows.map((r) => (r.get("message_id") as cassandra.types.Long).toString());
    const want = ids.map((i) => i.toString()).sort().reverse();
    assert.deepEqual(got, want, "clustering order is message_id DESC");
    assert.equal(rs.rows[0].get("content"), `hello ${want[0]}`);
    assert.equal((rs.rows[0].get("author_id") as cassandra.types.Long).toNumber(), 42);

    const page = await client.execute(
      "SELECT message_id FROM messages WHERE channel_id = ? AND bucket = ? AND message_id < ? LIMIT 2",
      [channel, bucket, Long.fromString(want[1])],
      { prepare: true },
    );
    assert.deepEqual(page.rows.map((r) => r.get("message_id").toString()), want.slice(2, 4));

    const other = await client.execute(
      "SELECT count(*) AS n FROM messages WHERE channel_id = ? AND bucket = ?",
      [channel, bucket + 1],
      { prepare: true },
    );
    assert.equal((other.first().get("n") as cassandra.types.Long).toNumber(), 0);
  } finally {
    await client.shutdown();
  }
});

Deno.test("the driver sees every node up", async () => {
  const info = await cluster();
  const client = new cassandra.Client(clientOptions(info));
  try {
    await client.connect();
    const up = client.hosts.values().filter((h) => h.isUp());
    assert.equal(up.length, info.nodes);
    for (const h of up) assert.equal(h.datacenter, info.localDataCenter);
    const ks = await client.execute(
      "SELECT keyspace_name FROM system_schema.keyspaces WHERE keyspace_name = 'dataservices'",
    );
    assert.equal(ks.rowLength, 1);
  } finally {
    await client.shutdown();
  }
});

Deno.test("db status exits 0 and prints the contact points", async () => {
  const info = await cluster();
  const r = await db("status");
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /status: up/);
  assert.ok(r.out.includes(`CASSANDRA_CONTACT_POINTS=${info.contactPoints.join(",")}`), r.out);
});

Deno.test("a second db up is a no-op", async () => {
  const info = await cluster();
  const r = await db("up");
  assert.equal(r.code, 0, r.out);
  assert.match(
    r.out,
    info.source === "external" ? /using CASSANDRA_CONTACT_POINTS/ : /already up .*nothing to start/,
  );
  assert.ok(r.out.includes(`CASSANDRA_CONTACT_POINTS=${info.contactPoints.join(",")}`), r.out);
  assert.doesNotMatch(r.out, /starting|fetching/);
});

Deno.test({
  name: "up refuses a port taken by a Cassandra that is not ours",
  // our running node1 owns 127.0.0.1:9042; seen from another state dir it is foreign
  ignore: Deno.env.get("CASSANDRA_CONTACT_POINTS") !== undefined,
  async fn() {
    assert.ok(await tcpOpen("127.0.0.1", 9042), "nothing listens on 127.0.0.1:9042");
    const stateDir = await Deno.makeTempDir({ prefix: "db-foreign-" });
    try {
      const settings = settingsFromEnv({ stateDir, mode: "java", log: () => {} });
      await assert.rejects(ensureUp(1, { settings }), (e: unknown) => {
        assert.ok(e instanceof DbError);
        assert.match(e.message, /Port 127\.0\.0\.1:(9042|7000) is in use by a process that is not/);
        return true;
      });
    } finally {
      await Deno.remove(stateDir, { recursive: true });
    }
  },
});
