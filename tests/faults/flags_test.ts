import assert from "node:assert/strict";
import { REPO_ROOT } from "../../db/cluster.ts";
import { FlagError } from "../../lib/flags.ts";
import { parseFaultArgs } from "./flags.ts";

Deno.test("parseFaultArgs: defaults", () => {
  assert.deepEqual(parseFaultArgs([]), {
    help: false,
    reduced: false,
    only: undefined,
    out: `${REPO_ROOT}/bench/faults.json`,
    stateDir: `${REPO_ROOT}/.cassandra-faults`,
    ipBase: "127.0.1",
    basePort: 0,
    keepCluster: false,
    allowFailures: false,
  });
});

Deno.test("parseFaultArgs: every flag", () => {
  assert.deepEqual(
    parseFaultArgs([
      "--reduced",
      "--only",
      "freeze-all-nodes, overload-reads",
      "--out",
      "/tmp/f.json",
      "--state-dir",
      "/tmp/s",
      "--ip-base",
      "127.0.7",
      "--base-port",
      "47100",
      "--keep-cluster",
      "--allow-failures",
    ]),
    {
      help: false,
      reduced: true,
      only: ["freeze-all-nodes", "overload-reads"],
      out: "/tmp/f.json",
      stateDir: "/tmp/s",
      ipBase: "127.0.7",
      basePort: 47100,
      keepCluster: true,
      allowFailures: true,
    },
  );
  assert.equal(parseFaultArgs(["--only", "nope", "-h"]).help, true);
});

Deno.test("parseFaultArgs rejects bad flags with a one-line FlagError naming them", () => {
  const bad = (args: string[], re: RegExp) =>
    assert.throws(
      () => parseFaultArgs(args),
      (e) => e instanceof FlagError && re.test(e.message) && !e.message.includes("\n"),
    );
  bad(["--bogus"], /^Unknown option '--bogus'$/);
  bad(["--only", "overload-reads,nope"], /^--only: unknown experiment nope; known: node-kill/);
  bad(["--base-port", "65534"], /^--base-port must be an integer in 0\.\.65533, got "65534"$/);
  bad(["--base-port", "x"], /^--base-port must be an integer/);
  bad(["--ip-base", "10.0.1"], /^--ip-base must be three octets of a loopback address/);
});
