import assert from "node:assert/strict";
import {
  H2loadStopped,
  parseH2loadSummary,
  parseProgress,
  runH2load,
  shellQuote,
} from "./bench_rpc_h2load.ts";
import { parseProcStat } from "./proc_cpu.ts";

const fixture = (name: string) =>
  Deno.readTextFileSync(new URL(`./testdata/${name}`, import.meta.url));

Deno.test("parseH2loadSummary reads a captured h2c run (gRPC on the grpc-go floor)", () => {
  const s = parseH2loadSummary(fixture("h2load_h2c_grpc_floor.txt"));
  assert.equal(s.finishedMs, 195.95);
  assert.equal(s.requestsPerSecond, 102066.85);
  assert.deepEqual(s.requests, {
    total: 20000,
    started: 20000,
    done: 20000,
    succeeded: 20000,
    failed: 0,
    errored: 0,
    timeout: 0,
  });
  assert.deepEqual(s.status, { "2xx": 20000, "3xx": 0, "4xx": 0, "5xx": 0 });
  assert.deepEqual(s.traffic, { totalBytes: 2046442, headerBytes: 40048, dataBytes: 1420000 });
  assert.equal(s.protocol, "h2c");
});

Deno.test("parseH2loadSummary reads a captured HTTP/1.1 run where every request failed", () => {
  const s = parseH2loadSummary(fixture("h2load_h1_parse_error.txt"));
  assert.equal(s.finishedMs, 0.893);
  assert.equal(s.protocol, "http/1.1");
  assert.equal(s.requests.failed, 100);
  assert.equal(s.requests.errored, 100);
  assert.equal(s.requests.succeeded, 0);
  assert.equal(s.traffic.dataBytes, 0);
});

Deno.test("parseH2loadSummary names what is missing when h2load stopped early", () => {
  assert.throws(
    () => parseH2loadSummary("starting benchmark...\nprogress: 10% done\n"),
    /no "finished in" line/,
  );
  assert.throws(
    () =>
      parseH2loadSummary(
        "finished in 2.5s, 10.00 req/s, 1KB/s\nrequests: 3 total\nstatus codes: 3 2xx\ntraffic: x\n",
      ),
    /cannot read "traffic: x"/,
  );
  const traffic = "traffic: 1B (1) total, 1B (1) headers (space savings 0.00%), 0B (0) data";
  assert.throws(
    () =>
      parseH2loadSummary(
        `finished in 2.5s, 10.00 req/s, 1KB/s\nrequests: 3 total\nstatus codes: 3 2xx\n${traffic}\n`,
      ),
    /no "started" count/,
  );
});

Deno.test("parseH2loadSummary converts every unit of 'finished in'", () => {
  const tail =
    "\nrequests: 1 total, 1 started, 1 done, 1 succeeded, 0 failed, 0 errored, 0 timeout" +
    "\nstatus codes: 1 2xx, 0 3xx, 0 4xx, 0 5xx" +
    "\ntraffic: 10B (10) total, 5B (5) headers (space savings 0.00%), 2B (2) data\n";
  assert.equal(parseH2loadSummary(`finished in 1.5s, 1.00 req/s, 1B/s${tail}`).finishedMs, 1500);
  assert.equal(parseH2loadSummary(`finished in 250us, 1.00 req/s, 1B/s${tail}`).finishedMs, 0.25);
  assert.equal(parseH2loadSummary(`finished in 3ms, 1.00 req/s, 1B/s${tail}`).finishedMs, 3);
});

Deno.test("shellQuote quotes only words that need it", () => {
  assert.equal(
    shellQuote(["h2load", "-H", "te: trailers", "http://h:1/a?x=1&y=2", "it's"]),
    "h2load -H 'te: trailers' 'http://h:1/a?x=1&y=2' 'it'\\''s'",
  );
});

Deno.test("parseProgress reads progress lines only", () => {
  assert.equal(parseProgress("progress: 20% done"), 20);
  assert.equal(parseProgress("progress: 100% done"), 100);
  assert.equal(parseProgress("finished in 3ms, 1.00 req/s"), undefined);
});

Deno.test({
  name: "runH2load reports progress, can pause h2load, and parses its summary (real h2load)",
  ignore: !hasH2load(),
  async fn() {
    let served = 0;
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => {
      served++;
      return new Response("ok");
    });
    try {
      const url = `http://127.0.0.1:${server.addr.port}/x`;
      const states: string[] = [];
      const run = await runH2load({
        args: ["-n", "200", "-c", "2", "-m", "5", url],
        timeoutMs: 30_000,
        async onProgress(p, control) {
          if (p !== 50) return;
          control.pause();
          states.push(await stateBecomes(control.pid, (s) => s === "T"));
          control.resume();
          states.push(await stateBecomes(control.pid, (s) => s !== "T"));
        },
      });
      assert.deepEqual(run.progress, [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
      assert.equal(run.summary.requests.succeeded, 200);
      assert.equal(run.summary.status["2xx"], 200);
      assert.equal(run.summary.traffic.dataBytes, 400);
      assert.equal(served, 200);
      assert.equal(states[0], "T");
      assert.notEqual(states[1], "T");
      assert.match(run.command, /^h2load -n 200/);
    } finally {
      await server.shutdown();
    }
  },
});

Deno.test({
  name: "runH2load kills h2load past its timeout and says so",
  ignore: !hasH2load(),
  async fn() {
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => {
      return new Response("ok");
    });
    try {
      await assert.rejects(
        runH2load({
          args: ["-n", "100", "-c", "1", `http://127.0.0.1:${server.addr.port}/`],
          timeoutMs: 300,
          // Held still for good by a callback that never settles: only the timeout ends it.
          onProgress: (_p, control) => {
            control.pause();
            return new Promise<void>(() => {});
          },
        }),
        /h2load did not finish within 300 ms/,
      );
    } finally {
      await server.shutdown();
    }
  },
});

Deno.test({
  name: "runH2load rejects with H2loadStopped when the callback kills h2load",
  ignore: !hasH2load(),
  async fn() {
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => {
      return new Response("ok");
    });
    try {
      const seen: number[] = [];
      await assert.rejects(
        runH2load({
          args: ["-n", "1000", "-c", "1", `http://127.0.0.1:${server.addr.port}/`],
          timeoutMs: 30_000,
          onProgress: (p, control) => {
            seen.push(p);
            if (p === 30) control.kill();
          },
        }),
        (err) => err instanceof H2loadStopped && /stopped at 30%/.test(err.message),
      );
      assert.deepEqual(seen.slice(0, 3), [10, 20, 30]);
      assert.ok(!seen.includes(100), `saw ${seen}`);
    } finally {
      await server.shutdown();
    }
  },
});

/** Polls a process's state (from /proc) until `ok` holds; fails after 5 s. */
async function stateBecomes(pid: number, ok: (state: string) => boolean): Promise<string> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const state = parseProcStat(Deno.readTextFileSync(`/proc/${pid}/stat`)).state;
    if (ok(state)) return state;
    if (Date.now() > deadline) throw new Error(`h2load (pid ${pid}) stayed in state ${state}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

function hasH2load(): boolean {
  try {
    return new Deno.Command("h2load", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}
