import assert from "node:assert/strict";
import { DbError } from "./cluster.ts";
import { parseCli, USAGE } from "./main.ts";

function usageError(args: string[], re: RegExp) {
  assert.throws(() => parseCli(args), (e: unknown) => {
    assert.ok(e instanceof DbError);
    assert.equal(e.exitCode, 2);
    assert.match(e.message, re);
    return true;
  });
}

Deno.test("parseCli: up", () => {
  assert.deepEqual(parseCli(["up"]), { command: "up", nodes: undefined, timeoutMs: undefined });
  assert.deepEqual(parseCli(["up", "--nodes", "3"]), {
    command: "up",
    nodes: 3,
    timeoutMs: undefined,
  });
  assert.deepEqual(parseCli(["up", "--nodes=1", "--timeout", "60"]), {
    command: "up",
    nodes: 1,
    timeoutMs: 60_000,
  });
  assert.deepEqual(parseCli(["up", "-n", "2"]), { command: "up", nodes: 2, timeoutMs: undefined });
});

Deno.test("parseCli: down, status, clean, help", () => {
  assert.deepEqual(parseCli(["down"]), { command: "down" });
  assert.deepEqual(parseCli(["status"]), { command: "status" });
  assert.deepEqual(parseCli(["clean"]), { command: "clean" });
  assert.deepEqual(parseCli(["--help"]), { command: "help" });
  assert.deepEqual(parseCli(["-h"]), { command: "help" });
  assert.deepEqual(parseCli(["help"]), { command: "help" });
  assert.deepEqual(parseCli(["up", "--help"]), { command: "help" });
  assert.match(USAGE, /db <command>/);
});

Deno.test("parseCli: logs", () => {
  assert.deepEqual(parseCli(["logs"]), {
    command: "logs",
    node: 1,
    nodes: undefined,
    lines: 40,
    stdout: false,
  });
  assert.deepEqual(parseCli(["logs", "2", "--lines", "5", "--nodes", "3", "--stdout"]), {
    command: "logs",
    node: 2,
    nodes: 3,
    lines: 5,
    stdout: true,
  });
  assert.deepEqual(parseCli(["logs", "node3"]).command, "logs");
  assert.equal((parseCli(["logs", "node3"]) as { node: number }).node, 3);
});

Deno.test("parseCli: usage errors exit 2 with a message", () => {
  usageError([], /Missing command/);
  usageError(["start"], /Unknown command "start"/);
  usageError(["up", "--nodes", "4"], /--nodes must be an integer in 1\.\.3/);
  usageError(["up", "--nodes", "0"], /--nodes/);
  usageError(["up", "--nodes", "two"], /--nodes/);
  usageError(["up", "--nodes"], /argument missing|--nodes/);
  usageError(["up", "--timeout", "-5"], /--timeout|argument/);
  usageError(["up", "--bogus"], /Unknown option '--bogus'/);
  usageError(["up", "extra"], /Unexpected argument "extra"/);
  usageError(["down", "--nodes", "3"], /db down takes no --nodes/);
  usageError(["status", "--lines", "3"], /takes no --lines/);
  usageError(["logs", "4"], /NODE must be 1\.\.3/);
  usageError(["logs", "x"], /NODE must be/);
  usageError(["logs", "3", "--nodes", "1"], /not in a 1-node cluster/);
  usageError(["logs", "1", "2"], /Unexpected argument "2"/);
  usageError(["logs", "--lines", "0"], /--lines/);
});
