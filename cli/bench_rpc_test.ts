import assert from "node:assert/strict";
import { main } from "./bench_rpc.ts";

Deno.test("main: one-line error, the hint and exit 2 on a bad flag; --help exits 0", async () => {
  const errors: string[] = [];
  const logs: string[] = [];
  const error = console.error;
  const log = console.log;
  console.error = (...a: unknown[]) => errors.push(a.join(" "));
  console.log = (...a: unknown[]) => logs.push(a.join(" "));
  try {
    assert.equal(await main(["--requests", "x"]), 2);
    const hint = "Run 'deno task bench:rpc --help' for the list of options.";
    assert.deepEqual(errors, [`error: --requests must be an integer >= 10, got "x"\n${hint}`]);
    // parseArgs explains some mistakes over several lines: they are printed as one.
    assert.equal(await main(["--retries", "-1"]), 2);
    assert.equal(errors.length, 2);
    assert.match(errors[1], /^error: Option '--retries' argument is ambiguous\. [^\n]*\n/);
    assert.ok(errors[1].endsWith(`\n${hint}`));
    assert.equal(await main(["--help"]), 0);
    assert.match(logs.join("\n"), /^Usage: deno task bench:rpc/);
  } finally {
    console.error = error;
    console.log = log;
  }
});
