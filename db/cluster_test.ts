import assert from "node:assert/strict";
import {
  clientOptions,
  clusterDir,
  contactPointLines,
  contactPoints,
  DbError,
  DEFAULT_VERSION,
  down,
  isOurNode,
  localContactPoints,
  nodeDir,
  nodeStates,
  ourProcesses,
  runningSizes,
  type Settings,
  settingsFromEnv,
  status,
  storageDirOf,
  tailFile,
} from "./cluster.ts";
import { MAIN_CLASS } from "./templates.ts";

/** Settings on a fresh temporary state directory, no external cluster. */
async function tmpSettings(): Promise<Settings> {
  const stateDir = await Deno.makeTempDir({ prefix: "db-cluster-test-" });
  return settingsFromEnv({
    stateDir,
    externalContactPoints: undefined,
    localDataCenter: "datacenter1",
    mode: "java",
    log: () => {},
  });
}

function withEnv<T>(vars: Record<string, string | undefined>, fn: () => T): T {
  const old: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(vars)) {
    old[k] = Deno.env.get(k);
    if (v === undefined) Deno.env.delete(k);
    else Deno.env.set(k, v);
  }
  try {
    return fn();
  } finally {
    for (const [k, v] of Object.entries(old)) {
      if (v === undefined) Deno.env.delete(k);
      else Deno.env.set(k, v);
    }
  }
}

Deno.test("settingsFromEnv: defaults and environment", () => {
  const s = withEnv({
    DB_STATE_DIR: undefined,
    CASSANDRA_VERSION: undefined,
    CASSANDRA_CONTACT_POINTS: undefined,
    CASSANDRA_LOCAL_DC: undefined,
    CASSANDRA_HEAP: undefined,
    DB_MODE: undefined,
  }, () => settingsFromEnv());
  assert.equal(s.version, DEFAULT_VERSION);
  assert.equal(s.stateDir, `${s.repoRoot}/.cassandra`);
  assert.ok(s.repoRoot.endsWith("/main") || s.repoRoot.startsWith("/"));
  assert.equal(s.mode, "auto");
  assert.equal(s.localDataCenter, "datacenter1");
  assert.equal(s.externalContactPoints, undefined);

  const e = withEnv({
    DB_STATE_DIR: "/tmp/x/",
    CASSANDRA_VERSION: "5.0.7",
    CASSANDRA_CONTACT_POINTS: "10.0.0.1, 10.0.0.2",
    CASSANDRA_LOCAL_DC: "dc2",
    CASSANDRA_HEAP: "768M",
    CASSANDRA_JVM_OPTS: " -XX:TieredStopAtLevel=1  -Dfoo=1 ",
    DB_MODE: "java",
  }, () => settingsFromEnv());
  assert.equal(e.stateDir, "/tmp/x");
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
    ]
  ) {
    assert.throws(() => withEnv(env, () => settingsFromEnv()), (e: unknown) => {
      assert.ok(e instanceof DbError);
      assert.equal(e.exitCode, 2);
      return true;
    });
  }
});

Deno.test("layout: directories, contact points, client options", async () => {
  const s = await tmpSettings();
  try {
    assert.equal(clusterDir(s, 3), `${s.stateDir}/n3`);
    assert.equal(nodeDir(s, 3, 2), `${s.stateDir}/n3/node2`);
    assert.deepEqual(localContactPoints(3), ["127.0.0.1", "127.0.0.2", "127.0.0.3"]);
    const info = {
      contactPoints: ["127.0.0.1", "127.0.0.2"],
      localDataCenter: "datacenter1",
      nodes: 2,
      source: "java" as const,
    };
    assert.deepEqual(contactPointLines(info), [
      "CASSANDRA_CONTACT_POINTS=127.0.0.1,127.0.0.2",
      "CASSANDRA_LOCAL_DC=datacenter1",
    ]);
    const o = clientOptions(info);
    assert.deepEqual(o.contactPoints, info.contactPoints);
    assert.equal(o.localDataCenter, "datacenter1");
    assert.equal(o.protocolOptions?.maxVersion, 4);
  } finally {
    await Deno.remove(s.stateDir, { recursive: true });
  }
});

Deno.test("storageDirOf: only CassandraDaemon command lines", () => {
  assert.equal(
    storageDirOf(["java", "-Xmx1G", "-Dcassandra.storagedir=/s/n1/node1", "-cp", "x", MAIN_CLASS]),
    "/s/n1/node1",
  );
  assert.equal(storageDirOf(["java", "-Dcassandra.storagedir=/s/n1/node1", "Other"]), undefined);
  assert.equal(storageDirOf(["java", MAIN_CLASS]), undefined);
});

Deno.test("contactPoints: external override, nothing running", async () => {
  const s = await tmpSettings();
  try {
    assert.equal(await contactPoints(s), undefined);
    const ext = await contactPoints({ ...s, externalContactPoints: ["10.1.1.1:9043"] });
    assert.deepEqual(ext, {
      contactPoints: ["10.1.1.1:9043"],
      localDataCenter: "datacenter1",
      nodes: 1,
      source: "external",
    });
    const st = await status(s);
    assert.equal(st.up, false);
    assert.deepEqual(st.clusters, []);
  } finally {
    await Deno.remove(s.stateDir, { recursive: true });
  }
});

Deno.test("tailFile: last lines of small and large files, missing file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assert.equal(await tailFile(`${dir}/none.log`, 5), undefined);
    await Deno.writeTextFile(`${dir}/small.log`, "a\nb\nc\n");
    assert.deepEqual(await tailFile(`${dir}/small.log`, 2), ["b", "c"]);
    assert.deepEqual(await tailFile(`${dir}/small.log`, 10), ["a", "b", "c"]);
    const big = Array.from({ length: 20_000 }, (_, i) => `line ${i} ${"x".repeat(40)}`);
    await Deno.writeTextFile(`${dir}/big.log`, big.join("\n") + "\n");
    assert.deepEqual(await tailFile(`${dir}/big.log`, 3), big.slice(-3));
    // more lines than fit in the 256 KiB window: only whole lines come back
    const many = (await tailFile(`${dir}/big.log`, 100_000))!;
    assert.ok(many.length < big.length);
    assert.deepEqual(many, big.slice(-many.length));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Spawns `sh` with a command line that looks like a node of ours (or not) and keeps running. */
function fakeNode(args: string[]): Deno.ChildProcess {
  return new Deno.Command("sh", {
    args: ["-c", "while :; do sleep 0.2; done", ...args],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
}

Deno.test("down: stops only processes of our state dir, verified by /proc cmdline", async () => {
  const s = await tmpSettings();
  const dir = nodeDir(s, 1, 1);
  await Deno.mkdir(dir, { recursive: true });
  const ours = fakeNode([`-Dcassandra.storagedir=${dir}`, MAIN_CLASS]);
  // a process with the right pid file but the wrong command line must survive
  const foreign = fakeNode(["not-cassandra"]);
  const dir3 = nodeDir(s, 3, 1);
  await Deno.mkdir(dir3, { recursive: true });
  try {
    await Deno.writeTextFile(`${dir}/cassandra.pid`, `${ours.pid}\n`);
    await Deno.writeTextFile(`${dir3}/cassandra.pid`, `${foreign.pid}\n`);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(await isOurNode(ours.pid, dir), true);
    assert.equal(await isOurNode(ours.pid, dir3), false);
    assert.equal(await isOurNode(foreign.pid, dir3), false);
    assert.deepEqual(await ourProcesses(s), [{ pid: ours.pid, dir }]);
    assert.deepEqual(await runningSizes(s), [1]);
    const [n1] = await nodeStates(s, 1);
    assert.equal(n1.alive, true);
    assert.equal(n1.pid, ours.pid);
    const st = await status(s);
    assert.deepEqual(st.clusters.map((c) => c.nodes), [1, 3]);
    assert.equal(st.clusters[0].states[0].alive, true);
    assert.equal(st.clusters[1].states[0].alive, false);

    const stopped = await down(s, 5000);
    assert.deepEqual(stopped, [ours.pid]);
    const { signal } = await ours.status;
    assert.equal(signal, "SIGTERM");
    assert.equal(await isOurNode(ours.pid, dir), false);
    assert.deepEqual(await ourProcesses(s), []);
    assert.equal((await nodeStates(s, 1))[0].pid, undefined); // pid file removed
    // the foreign process is still running
    assert.ok((await Deno.readTextFile(`/proc/${foreign.pid}/cmdline`)).includes("not-cassandra"));
    assert.deepEqual(await down(s, 1000), []);
  } finally {
    try {
      ours.kill("SIGKILL");
    } catch { /* already gone */ }
    foreign.kill("SIGKILL");
    await ours.status;
    await foreign.status;
    await Deno.remove(s.stateDir, { recursive: true });
  }
});
