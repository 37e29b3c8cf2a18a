import assert from "node:assert/strict";
import { FlagError } from "../lib/flags.ts";
import { BENCH_HELP, parseBenchArgs } from "./bench_flags.ts";

Deno.test("bench flags: defaults and errors (exit code 2)", () => {
  const { help, ...o } = parseBenchArgs([]);
  assert.equal(help, false);
  assert.deepEqual(o, {
    requests: 10000,
    repeat: 3,
    warmup: 1000,
    concurrency: undefined,
    hotChannels: 20,
    coldChannels: 10000,
    protocol: "connect",
    connections: 4,
    method: "message",
    timeoutMs: 60000,
    out: "bench/results.json",
  });
  assert.equal(parseBenchArgs(["--out", ""]).out, "");
  assert.equal(parseBenchArgs(["--timeout", "5s"]).timeoutMs, 5000);
  assert.equal(parseBenchArgs(["--timeout", "30"]).timeoutMs, 30, "a bare number is ms");
  assert.equal(parseBenchArgs(["-h"]).help, true);
  for (
    const [args, re] of [
      [["--repeat", "0"], /--repeat must be an integer >= 1/],
      [["--protocol", "h3"], /--protocol must be one of/],
      [["--method", "all"], /--method must be one of/],
      [["--bogus"], /Unknown option '--bogus'/],
    ] as const
  ) {
    assert.throws(() => parseBenchArgs(args), (e) => e instanceof FlagError && re.test(e.message));
  }
  assert.match(BENCH_HELP, /--cold-channels N +Channels of the cold run \(default 10000\)/);
});
