import assert from "node:assert/strict";
import {
  clusterDir,
  isOurNode,
  knownSizes,
  localContactPoints,
  nodeDir,
  nodeStates,
  ourProcesses,
  runningSizes,
  storageDirOf,
} from "./state.ts";
import { MAIN_CLASS } from "./templates.ts";
import { fakeProcess, tmpSettings } from "./_test_util.ts";

Deno.test("layout: directories and contact points", async () => {
  const s = await tmpSettings();
  try {
    assert.equal(clusterDir(s, 3), `${s.stateDir}/n3`);
    assert.equal(nodeDir(s, 3, 2), `${s.stateDir}/n3/node2`);
    assert.deepEqual(localContactPoints(3), ["127.0.0.1", "127.0.0.2", "127.0.0.3"]);
    assert.deepEqual(localContactPoints(2, "127.0.1"), ["127.0.1.1", "127.0.1.2"]);
    const other = { ...s, ipBase: "127.0.1" };
    assert.deepEqual((await nodeStates(other, 3)).map((x) => x.ip), [
      "127.0.1.1",
      "127.0.1.2",
      "127.0.1.3",
    ]);
    assert.deepEqual(await knownSizes(s), []);
    await Deno.mkdir(clusterDir(s, 3), { recursive: true });
    await Deno.mkdir(clusterDir(s, 1), { recursive: true });
    await Deno.mkdir(`${s.stateDir}/lib-5.0.8`, { recursive: true });
    assert.deepEqual(await knownSizes(s), [1, 3]);
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

Deno.test("discovery: our node by pid file and /proc cmdline, not a foreign pid", async () => {
  const s = await tmpSettings();
  const dir = nodeDir(s, 1, 1);
  const dir3 = nodeDir(s, 3, 1);
  await Deno.mkdir(dir, { recursive: true });
  await Deno.mkdir(dir3, { recursive: true });
  const ours = await fakeProcess([`-Dcassandra.storagedir=${dir}`, MAIN_CLASS]);
  const foreign = await fakeProcess(["not-cassandra"]);
  try {
    await Deno.writeTextFile(`${dir}/cassandra.pid`, `${ours.pid}\n`);
    await Deno.writeTextFile(`${dir3}/cassandra.pid`, `${foreign.pid}\n`);
    assert.equal(await isOurNode(ours.pid, dir), true);
    assert.equal(await isOurNode(ours.pid, dir3), false);
    assert.equal(await isOurNode(foreign.pid, dir3), false);
    assert.deepEqual(await ourProcesses(s), [{ pid: ours.pid, dir }]);
    assert.deepEqual(await runningSizes(s), [1]);
    const [n1] = await nodeStates(s, 1);
    assert.deepEqual(n1, { index: 1, ip: "127.0.0.1", dir, pid: ours.pid, alive: true });
    const [n3] = await nodeStates(s, 3);
    assert.equal(n3.pid, foreign.pid);
    assert.equal(n3.alive, false);
  } finally {
    ours.kill("SIGKILL");
    foreign.kill("SIGKILL");
    await ours.status;
    await foreign.status;
    await Deno.remove(s.stateDir, { recursive: true });
  }
  // a dead pid is not alive either
  assert.equal(await isOurNode(ours.pid, dir), false);
});
