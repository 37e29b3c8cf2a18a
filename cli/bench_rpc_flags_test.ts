import assert from "node:assert/strict";
import { parseBenchRpcArgs } from "./bench_rpc_flags.ts";
import { FlagError } from "../lib/flags.ts";

Deno.test("parseBenchRpcArgs: defaults", () => {
  assert.deepEqual(parseBenchRpcArgs([]), {
    help: false,
    requests: 50_000,
    cases: [],
    out: "bench/rpc.json",
    cpuProf: undefined,
    floor: true,
    clients: true,
    retries: 2,
  });
});

Deno.test("parseBenchRpcArgs: every flag, --cases comma-separated or repeated", () => {
  const o = parseBenchRpcArgs([
    "--requests",
    "5000",
    "--cases",
    "grpc/, /h1/",
    "--cases",
    "floor",
    "--out",
    "",
    "--cpu-prof",
    "grpc/h2c/main",
    "--no-floor",
    "--no-clients",
    "--retries",
    "0",
  ]);
  assert.deepEqual(o, {
    help: false,
    requests: 5000,
    cases: ["grpc/", "/h1/", "floor"],
    out: "",
    cpuProf: "grpc/h2c/main",
    floor: false,
    clients: false,
    retries: 0,
  });
});

Deno.test("parseBenchRpcArgs: -h wins over the other flags", () => {
  assert.equal(parseBenchRpcArgs(["--requests", "5000", "-h"]).help, true);
  assert.equal(parseBenchRpcArgs(["--requests", "x", "--help"]).help, true);
});

Deno.test("parseBenchRpcArgs rejects bad flags with a FlagError naming them", () => {
  const bad = (args: string[], re: RegExp) =>
    assert.throws(
      () => parseBenchRpcArgs(args),
      (e) => e instanceof FlagError && re.test(e.message),
    );
  bad(["--requests", "ten"], /--requests must be an integer >= 10, got "ten"/);
  bad(["--requests", "5"], /--requests must be an integer >= 10/);
  bad(["--retries=-1"], /--retries must be an integer >= 0, got "-1"/);
  bad(
    ["--cpu-prof", "grpc/h1/main"],
    /--cpu-prof must name a case: connect-proto\/h2c\/main, .*got "grpc\/h1\/main"/,
  );
  bad(["--bogus"], /Unknown option '--bogus'/);
  bad(["extra"], /Unexpected argument 'extra'/);
});
