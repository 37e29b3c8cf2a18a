import assert from "node:assert/strict";
import { FlagError } from "../lib/flags.ts";
import { COMBINATIONS, label } from "./combinations.ts";
import { parseConformanceArgs } from "./run_flags.ts";

Deno.test("parseConformanceArgs: defaults are both modes, every combination, 240 s", () => {
  assert.deepEqual(parseConformanceArgs([]), {
    help: false,
    modes: ["server", "client"],
    full: false,
    combinations: COMBINATIONS,
    stacks: ["main", "fast"],
    transports: ["router", "lean"],
    run: [],
    watchdogSeconds: 240,
    verbose: false,
  });
});

Deno.test("parseConformanceArgs: every flag; --only and --run repeat, a bare --watchdog is seconds", () => {
  const o = parseConformanceArgs([
    "--mode",
    "client",
    "--full",
    "--only",
    "connect/1,grpc/2",
    "--only",
    "grpc-web/2",
    "--stack",
    "connect-node",
    "--transport",
    "lean",
    "--run",
    "a/b,c",
    "--run",
    "d",
    "--watchdog",
    "30",
    "-v",
  ]);
  assert.deepEqual(o.modes, ["client"]);
  assert.equal(o.full, true);
  assert.deepEqual(o.combinations.map(label), ["connect/1.1", "grpc/2", "grpc-web/2"]);
  assert.deepEqual(o.stacks, ["connect-node"]);
  assert.deepEqual(o.transports, ["lean"]);
  assert.deepEqual(o.run, ["a/b,c", "d"]);
  assert.equal(o.watchdogSeconds, 30);
  assert.equal(o.verbose, true);
  assert.equal(parseConformanceArgs(["--watchdog", "2m"]).watchdogSeconds, 120);
  assert.equal(parseConformanceArgs(["--watchdog", "500ms"]).watchdogSeconds, 0.5);
  assert.equal(parseConformanceArgs(["--mode", "x", "-h"]).help, true);
});

Deno.test("parseConformanceArgs rejects bad flags with a one-line FlagError naming them", () => {
  const bad = (args: string[], re: RegExp) =>
    assert.throws(
      () => parseConformanceArgs(args),
      (e) => e instanceof FlagError && re.test(e.message) && !e.message.includes("\n"),
    );
  bad(["--mode", "x"], /^--mode must be one of server, client, both, got "x"$/);
  bad(["--only", "grpc/1"], /^unknown --only grpc\/1\.1; known: connect\/1\.1, /);
  bad(["--stack", "nope"], /^unknown --stack nope; known: main, fast/);
  bad(["--transport", "nope"], /^unknown --transport nope; known: router, lean$/);
  bad(["--watchdog", "0"], /^--watchdog must be > 0ms/);
  bad(["--bogus"], /^Unknown option '--bogus'$/);
  bad(["extra"], /^Unexpected argument 'extra'/);
});
