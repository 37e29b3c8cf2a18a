import assert from "node:assert/strict";
import { waitExec } from "./jvm.ts";
import { DbError } from "./settings.ts";
import { MAIN_CLASS } from "./templates.ts";
import { fakeProcess } from "./_test_util.ts";

Deno.test("waitExec: waits while the pid still runs sh, returns once it runs our node", async () => {
  const dir = "/tmp/waitexec/n1/node1";
  // sh that first prints "ready" under its own command line, then execs a "node" of ours
  // when released through its stdin-less trigger: a file that appears later
  const trigger = await Deno.makeTempFile();
  await Deno.remove(trigger);
  const child = new Deno.Command("sh", {
    args: [
      "-c",
      `echo ready; while [ ! -e "${trigger}" ]; do sleep 0.01; done; ` +
      `exec sh -c 'while :; do sleep 0.2; done' sh -Dcassandra.storagedir=${dir} ${MAIN_CLASS}`,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.getReader();
  await reader.read();
  await reader.cancel();
  try {
    let done = false;
    const waiting = waitExec(child.pid, dir, 10_000).then(() => done = true);
    await new Promise((r) => setTimeout(r, 0));
    assert.equal(done, false, "returned while the process was still sh");
    await Deno.writeTextFile(trigger, "");
    await waiting;
    assert.equal(done, true);
  } finally {
    child.kill("SIGKILL");
    await child.status;
    await Deno.remove(trigger).catch(() => {});
  }
});

Deno.test("waitExec: a process that never execs is reported after the timeout", async () => {
  const p = await fakeProcess(["not-cassandra"]);
  try {
    await assert.rejects(waitExec(p.pid, "/tmp/none", 50), (e: unknown) => {
      assert.ok(e instanceof DbError);
      assert.match(e.message, new RegExp(`pid ${p.pid} did not exec java`));
      return true;
    });
  } finally {
    p.kill("SIGKILL");
    await p.status;
  }
});
