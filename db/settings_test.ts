import assert from "node:assert/strict";
import { DbError, DEFAULT_VERSION, heapFor, settingsFromEnv } from "./settings.ts";
import { tmpSettings, withEnv } from "./_test_util.ts";

Deno.test("settingsFromEnv: defaults and environment", () => {
  const s = withEnv({
    DB_STATE_DIR: undefined,
    CASSANDRA_VERSION: undefined,
    CASSANDRA_CONTACT_POINTS: undefined,
    CASSANDRA_LOCAL_DC: undefined,
    CASSANDRA_HEAP: undefined,
    DB_MODE: undefined,
    DB_IP_BASE: undefined,
    CASSANDRA_COMMITLOG_SYNC: undefined,
  }, () => settingsFromEnv());
  assert.equal(s.version, DEFAULT_VERSION);
  const dflt = `${s.repoRoot}/.cassandra`;
  let real = dflt;
  try {
    real = Deno.realPathSync(dflt); // a worktree's .cassandra may be a symlink
  } catch { /* not created yet */ }
  assert.equal(s.stateDir, real);
  assert.ok(s.repoRoot.startsWith("/"));
  assert.equal(s.mode, "auto");
  assert.equal(s.localDataCenter, "datacenter1");
  assert.equal(s.externalContactPoints, undefined);
  assert.equal(s.ipBase, "127.0.0");
  assert.equal(s.commitlogSync, "batch");

  const e = withEnv({
    DB_STATE_DIR: "/tmp/x/",
    CASSANDRA_VERSION: "5.0.7",
    CASSANDRA_CONTACT_POINTS: "10.0.0.1, 10.0.0.2",
    CASSANDRA_LOCAL_DC: "dc2",
    CASSANDRA_HEAP: "768M",
    CASSANDRA_JVM_OPTS: " -XX:TieredStopAtLevel=1  -Dfoo=1 ",
    DB_MODE: "java",
    DB_IP_BASE: "127.0.1",
    CASSANDRA_COMMITLOG_SYNC: "group",
  }, () => settingsFromEnv());
  assert.equal(e.stateDir, "/tmp/x");
  assert.equal(e.ipBase, "127.0.1");
  assert.equal(e.commitlogSync, "group");
  assert.equal(e.version, "5.0.7");
  assert.deepEqual(e.externalContactPoints, ["10.0.0.1", "10.0.0.2"]);
  assert.equal(e.localDataCenter, "dc2");
  assert.equal(e.heap, "768M");
  assert.deepEqual(e.jvmExtra, ["-XX:TieredStopAtLevel=1", "-Dfoo=1"]);
  assert.equal(e.mode, "java");

  const rel = withEnv({ DB_STATE_DIR: "rel/state" }, () => settingsFromEnv());
  assert.equal(rel.stateDir, `${Deno.cwd()}/rel/state`);
});

Deno.test("settingsFromEnv: rejects bad values with exit code 2", () => {
  for (
    const env of [
      { CASSANDRA_VERSION: "../5.0.8" },
      { CASSANDRA_HEAP: "lots" },
      { DB_MODE: "podman" },
      { DB_IP_BASE: "10.0.0" },
      { DB_IP_BASE: "127.0.1.1" },
      { CASSANDRA_COMMITLOG_SYNC: "never" },
    ]
  ) {
    assert.throws(() => withEnv(env, () => settingsFromEnv()), (e: unknown) => {
      assert.ok(e instanceof DbError);
      assert.equal(e.exitCode, 2);
      return true;
    });
  }
});

Deno.test("heapFor: 1G alone, 768M each in a bigger cluster, overrides win", async () => {
  const s = await tmpSettings();
  try {
    assert.deepEqual(heapFor(s, 1), { heap: "1G", heapMin: "256M" });
    assert.deepEqual(heapFor(s, 3), { heap: "768M", heapMin: "256M" });
    assert.deepEqual(heapFor({ ...s, heap: "2G", heapMin: "1G" }, 3), {
      heap: "2G",
      heapMin: "1G",
    });
  } finally {
    await Deno.remove(s.stateDir, { recursive: true });
  }
});

Deno.test("settingsFromEnv: a state directory behind a symlink is its real path", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/real`);
    await Deno.symlink(`${dir}/real`, `${dir}/link`);
    const s = settingsFromEnv({ stateDir: `${dir}/link/` });
    assert.equal(s.stateDir, Deno.realPathSync(`${dir}/real`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
