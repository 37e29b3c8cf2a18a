import assert from "node:assert/strict";
import { waitExec } from "./jvm.ts";
import { DbError } from "./settings.ts";
import { MAIN_CLASS } from "./templates.ts";

const DIR = "/state/n3/node2";
const JAVA = "/usr/lib/jvm/java-17-openjdk-amd64/bin/java";
const node = [`-Dcassandra.storagedir=${DIR}`, "-cp", "x", MAIN_CLASS];

Deno.test("waitExec: returns only once the pid runs java, not sh or setsid with the same arguments", async () => {
  // what /proc shows for $! while sh forks, execs setsid, setsid execs java
  const seen = [
    ["sh", "-c", "log=$1; ...", "sh"],
    ["setsid", JAVA, ...node], // names our node already: not java yet
    [], // a read in the middle of an exec
    [JAVA, ...node],
  ];
  let reads = 0;
  await waitExec(4242, DIR, JAVA, { readArgs: () => Promise.resolve(seen[reads++]) });
  assert.equal(reads, 4);
});

Deno.test("waitExec: java for another node directory is not ours", async () => {
  const other = [JAVA, "-Dcassandra.storagedir=/state/n1/node1", MAIN_CLASS];
  await assert.rejects(
    waitExec(4242, DIR, JAVA, { timeoutMs: 30, readArgs: () => Promise.resolve(other) }),
    (e: unknown) => {
      assert.ok(e instanceof DbError);
      assert.match(e.message, /pid 4242 did not exec .*java for \/state\/n3\/node2/);
      return true;
    },
  );
});

Deno.test("waitExec: a process that is gone returns at once (waitNode reports it)", async () => {
  const child = new Deno.Command("true").spawn();
  const pid = child.pid;
  await child.status; // reaped: /proc/<pid> no longer exists
  let reads = 0;
  await waitExec(pid, DIR, JAVA, {
    readArgs: () => {
      reads++;
      return Promise.resolve(undefined);
    },
  });
  assert.equal(reads, 1);
});
