import assert from "node:assert/strict";
import {
  clientOptions,
  contactPointLines,
  contactPoints,
  down,
  nodeDir,
  nodeStates,
  status,
} from "./cluster.ts";
import { isOurNode, ourProcesses } from "./state.ts";
import { MAIN_CLASS } from "./templates.ts";
import { fakeProcess, tmpSettings } from "./_test_util.ts";

Deno.test("contact point lines and driver options", () => {
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

Deno.test("down: stops only processes of our state dir, verified by /proc cmdline", async () => {
  const s = await tmpSettings();
  const dir = nodeDir(s, 1, 1);
  await Deno.mkdir(dir, { recursive: true });
  const dir3 = nodeDir(s, 3, 1);
  await Deno.mkdir(dir3, { recursive: true });
  const ours = await fakeProcess([`-Dcassandra.storagedir=${dir}`, MAIN_CLASS]);
  // a process with the right pid file but the wrong command line must survive
  const foreign = await fakeProcess(["not-cassandra"]);
  try {
    await Deno.writeTextFile(`${dir}/cassandra.pid`, `${ours.pid}\n`);
    await Deno.writeTextFile(`${dir3}/cassandra.pid`, `${foreign.pid}\n`);
    assert.deepEqual(await contactPoints(s), {
      contactPoints: ["127.0.0.1"],
      localDataCenter: "datacenter1",
      nodes: 1,
      source: "java",
    });
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
    assert.equal(await contactPoints(s), undefined);
    // the foreign process is still running
    assert.ok((await Deno.readTextFile(`/proc/${foreign.pid}/cmdline`)).includes("not-cassandra"));
    assert.deepEqual(await down(s, 1000), []);
  } finally {
    ours.kill("SIGKILL");
    foreign.kill("SIGKILL");
    await ours.status;
    await foreign.status;
    await Deno.remove(s.stateDir, { recursive: true });
  }
});
