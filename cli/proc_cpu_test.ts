import assert from "node:assert/strict";
import {
  clockTicksPerSecond,
  cpuTimeOf,
  parseProcStat,
  parseSchedstat,
  readProcessCpu,
  readThreadsCpuNs,
} from "./proc_cpu.ts";

// Captured from a grpc-go server after 20,000 calls (fields 14..17 = 16 0 0 0).
const FLOOR =
  "17275 (floor-test) S 1 17271 11762 0 -1 4194560 4765 0 1 0 16 0 0 0 20 0 6 0 55445 " +
  "1680142336 4338 18446744073709551615 4194304 8863808 140732143218096 0 0 0 1002060288 0";

Deno.test("parseProcStat reads state and times after the command name", () => {
  const s = parseProcStat(FLOOR);
  assert.deepEqual(s, {
    pid: 17275,
    comm: "floor-test",
    state: "S",
    utime: 16,
    stime: 0,
    cutime: 0,
    cstime: 0,
  });
});

Deno.test("parseProcStat counts fields from the last parenthesis of a tricky name", () => {
  const s = parseProcStat("42 (a) b (c) R 1 2 3 4 5 6 7 8 9 10 120 35 7 3 20 0\n");
  assert.equal(s.comm, "a) b (c");
  assert.equal(s.state, "R");
  assert.deepEqual([s.utime, s.stime, s.cutime, s.cstime], [120, 35, 7, 3]);
});

Deno.test("parseProcStat rejects text that is not a stat line", () => {
  assert.throws(() => parseProcStat("no parens here"), /not a \/proc\/PID\/stat line/);
  assert.throws(() => parseProcStat("1 (x) S 1 2"), /field 14 is not a number/);
});

Deno.test("cpuTimeOf converts ticks to ms", () => {
  const t = cpuTimeOf(parseProcStat("42 (x) R 1 2 3 4 5 6 7 8 9 10 120 35 7 3 20 0"), 100);
  assert.deepEqual(t, { ms: 1550, childrenMs: 100, state: "R" });
});

Deno.test("readProcessCpu sees this process spend CPU, and nothing for a missing pid", () => {
  const before = readProcessCpu(Deno.pid);
  assert.ok(before !== undefined);
  const ticks = clockTicksPerSecond();
  // Burn at least three ticks of CPU, then the reading must have moved.
  const until = performance.now() + (3 * 1000) / ticks + 20;
  let x = 0;
  while (performance.now() < until) x += Math.sqrt(x + 1);
  const after = readProcessCpu(Deno.pid)!;
  assert.ok(after.ms > before.ms, `cpu did not move: ${before.ms} -> ${after.ms} (${x})`);
  // Over the busy loop (this thread), the threads' schedstat clock moves as the ticks do, to a
  // few ticks. (Totals differ: threads that already exited are not in schedstat.)
  const ns = (after.threadsNs! - before.threadsNs!) / 1e6;
  const ms = after.ms - before.ms;
  assert.ok(ns > 0);
  assert.ok(
    Math.abs(ns - ms) <= 3 * (1000 / ticks) + 0.1 * ms,
    `schedstat +${ns} ms, stat +${ms} ms`,
  );
  assert.equal(readProcessCpu(2 ** 22 + 1), undefined); // above pid_max
  assert.equal(readThreadsCpuNs(2 ** 22 + 1), undefined);
});

Deno.test("parseSchedstat reads the run time (ns) of a schedstat line", () => {
  assert.equal(parseSchedstat("3678867 806613 3\n"), 3678867);
  assert.throws(() => parseSchedstat("x y z"), /not a schedstat line/);
});
