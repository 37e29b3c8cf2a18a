import assert from "node:assert/strict";
import { FlagError } from "../lib/flags.ts";
import { parseCommitlogBenchArgs } from "./bench_commitlog_flags.ts";
import { REPO_ROOT } from "./settings.ts";

Deno.test("parseCommitlogBenchArgs: defaults", () => {
  assert.deepEqual(parseCommitlogBenchArgs([]), {
    help: false,
    nodes: 3,
    writes: 3000,
    concurrencies: [1, 16, 128],
    modes: ["periodic", "batch", "group"],
    stateDir: `${REPO_ROOT}/.cassandra-bench`,
    ipBase: "127.0.2",
    out: `${REPO_ROOT}/bench/commitlog.json`,
    keep: false,
  });
});

Deno.test("parseCommitlogBenchArgs: every flag", () => {
  assert.deepEqual(
    parseCommitlogBenchArgs([
      "--nodes",
      "1",
      "--writes",
      "10",
      "--concurrency",
      "4, 2",
      "--modes",
      "group",
      "--state-dir",
      "/tmp/s",
      "--ip-base",
      "127.0.9",
      "--out",
      "/tmp/o.json",
      "--keep",
    ]),
    {
      help: false,
      nodes: 1,
      writes: 10,
      concurrencies: [4, 2],
      modes: ["group"],
      stateDir: "/tmp/s",
      ipBase: "127.0.9",
      out: "/tmp/o.json",
      keep: true,
    },
  );
  assert.equal(parseCommitlogBenchArgs(["--writes", "x", "-h"]).help, true);
});

Deno.test("parseCommitlogBenchArgs rejects bad flags with a one-line FlagError naming them", () => {
  const bad = (args: string[], re: RegExp) =>
    assert.throws(
      () => parseCommitlogBenchArgs(args),
      (e) => e instanceof FlagError && re.test(e.message) && !e.message.includes("\n"),
    );
  bad(["--bogus"], /^Unknown option '--bogus'$/);
  bad(["--nodes", "4"], /^--nodes must be an integer in 1\.\.3, got "4"$/);
  bad(["--writes", "0"], /^--writes must be an integer >= 1/);
  bad(["--concurrency", "1,0"], /^--concurrency must be whole numbers >= 1.*got "0"$/);
  bad(["--concurrency", "1.5"], /^--concurrency must be whole numbers >= 1.*got "1\.5"$/);
  bad(["--concurrency", ""], /^--concurrency must be whole numbers >= 1/);
  bad(["--modes", "batch,fast"], /^--modes must be some of batch, group, periodic, got "fast"$/);
  bad(["--ip-base", "10.0.0"], /^--ip-base must be three octets of a loopback address/);
});
