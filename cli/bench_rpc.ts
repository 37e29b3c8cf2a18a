/**
 * `deno task bench:rpc`: what one call costs, server and client side,
 * measured in one run (issue 9, "Deliver 1").
 *
 * 1. The floor: bench/floor, a minimal grpc-go server of
 *    `dataservices.v1.MessagesService/GetMessage` answering from memory,
 *    built with `go build` into a temporary directory.
 * 2. One data-service instance (`server/main.ts`, on the running Cassandra
 *    with the demo data) pinned to CPU 0; h2load pinned to CPU 1 drives the
 *    hot key GetMessage{1, 1000} in every protocol x HTTP version, on the
 *    main port and, when `/healthz` announces `fastPort`, on the fast one.
 *    Per case: calls/s, server CPU µs per call, ratio to the floor; every
 *    call is checked (see bench_rpc_measure.ts).
 * 3. The original client's shape: 5,000 gRPC calls at once on one
 *    connection (`h2load -c 1 -m 5000`): queries per request.
 * 4. The load CLI's client CPU per call for each `--protocol`, and the
 *    headline `deno task load --channels 20 --requests 10000`.
 * 5. `--cpu-prof CASE`: one more run of CASE on an instance started with
 *    `--cpu-prof`, summarized by category and function.
 *
 * Writes bench/rpc.json and prints a table.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { dirname, resolve } from "node:path";
import { contactPoints, CQL_PORT, LOCAL_DC, tcpOpen } from "../db/cluster.ts";
import { ensureDemoData } from "../server/demo.ts";
import { CassandraStore } from "../server/store.ts";
import { FlagError } from "./load_flags.ts";
import { LOAD_SHAPE, planCases, type RpcCase, selectCases } from "./bench_rpc_cases.ts";
import { H2loadStopped, runH2load } from "./bench_rpc_h2load.ts";
import { type InstanceOptions, InstanceUnderTest } from "./bench_rpc_instance.ts";
import { buildFloor, type FloorServer, goVersion, startFloor } from "./bench_rpc_floor.ts";
import {
  bodyFile,
  type CaseResult,
  measureBurst,
  measureCase,
  type MeasuredServer,
  type MeasureSettings,
} from "./bench_rpc_measure.ts";
import { type ClientFigures, clientFigures, runLoadCli } from "./bench_rpc_clients.ts";
import { applyFloor, type BenchRpcResult, formatReport } from "./bench_rpc_report.ts";
import { type CpuProfile, formatProfileSummary, summarizeProfile } from "./cpu_profile.ts";
import { h2loadArgs, planRun } from "./bench_rpc_cases.ts";
import { type CpuTime, readProcessCpu } from "./proc_cpu.ts";

/** The bench's options. */
export interface BenchRpcOptions {
  /** Calls measured per case. Default 50000. */
  readonly requests: number;
  /** Substrings of case names; empty: every case. */
  readonly cases: readonly string[];
  /** JSON output; "" to skip. Default bench/rpc.json. */
  readonly out: string;
  /** A case name to profile with --cpu-prof. */
  readonly cpuProf?: string;
  readonly floor: boolean;
  readonly clients: boolean;
  /** Runs again of a case whose server died inside the window. Default 2. */
  readonly retries: number;
}

const SERVER_CPUS = "0";
const CLIENT_CPUS = "1";
const BURST_CALLS = 5000;
const LOAD_PROTOCOLS = ["connect", "connect-json", "grpc", "grpc-web"] as const;
const LOAD_ARGS = ["--channels", "20", "--requests", "10000"];

export const HELP = `Usage: deno task bench:rpc [options]

Server CPU per call and calls/s of GetMessage{1, 1000} (a hot key) for every protocol
and HTTP version, against the grpc-go floor (bench/floor); the original client's
5,000-stream shape (queries per request); the load CLI's client CPU per call; and
the headline: deno task load --channels 20 --requests 10000. Needs the running
Cassandra (deno task db up), h2load (apt-get install nghttp2-client), Go, GNU time.
Runs one instance pinned to CPU 0 and h2load on CPU 1: use a quiet machine.

Options:
  --requests N       Calls measured per case (default 50000); each h2load run sends
                     N/0.7: the first 20% warm up, the window ends at 90%
  --cases LIST       Only cases whose name contains one of these comma-separated
                     substrings (e.g. grpc/,/h1/); names: protocol/http/port, e.g.
                     connect-proto/h2c/main, grpc/h2c/floor, coalesce-5000-streams
  --out FILE         JSON results (default bench/rpc.json; "" to skip)
  --cpu-prof CASE    Also profile one case (exact name) on an instance started with
                     --cpu-prof; the .cpuprofile goes to artifacts/cpu-prof/
  --no-floor         Skip the grpc-go floor (no ratios)
  --no-clients       Skip the load CLI runs
  --retries N        Runs again of a case whose server died inside the window (default 2)
  -h, --help         This text

Exit codes: 0 every check passed, 1 a check failed or the bench could not run,
2 bad flags, 130 interrupted.
`;

function int(flag: string, v: string | undefined, def: number, min: number): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n < min) {
    throw new FlagError(`--${flag} must be an integer >= ${min}, got "${v}"`);
  }
  return n;
}

/** Every case name --cpu-prof may name. */
function profileableCases(): RpcCase[] {
  return planCases({ floor: false, fastPort: true });
}

/** Parses the flags. @throws {FlagError} (exit code 2). */
export function parseBenchRpcArgs(args: readonly string[]): BenchRpcOptions & { help: boolean } {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...args],
      strict: true,
      allowPositionals: false,
      options: {
        requests: { type: "string" },
        cases: { type: "string", multiple: true },
        out: { type: "string" },
        "cpu-prof": { type: "string" },
        "no-floor": { type: "boolean" },
        "no-clients": { type: "boolean" },
        retries: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (err) {
    throw new FlagError((err as Error).message);
  }
  const cpuProf = values["cpu-prof"];
  if (cpuProf !== undefined && !profileableCases().some((c) => c.name === cpuProf)) {
    throw new FlagError(
      `--cpu-prof must name a case: ${
        profileableCases().map((c) => c.name).join(", ")
      }; got "${cpuProf}"`,
    );
  }
  return {
    help: values.help === true,
    requests: int("requests", values.requests, 50_000, 10),
    cases: (values.cases ?? []).flatMap((s) => s.split(",")).map((s) => s.trim()).filter((s) => s),
    out: values.out ?? "bench/rpc.json",
    cpuProf,
    floor: values["no-floor"] !== true,
    clients: values["no-clients"] !== true,
    retries: int("retries", values.retries, 2, 0),
  };
}

async function text(cmd: string, args: string[]): Promise<string | null> {
  try {
    const out = await new Deno.Command(cmd, { args, stderr: "piped" }).output();
    const s = new TextDecoder().decode(out.stdout).trim() ||
      new TextDecoder().decode(out.stderr).trim();
    return out.success ? s : null;
  } catch {
    return null;
  }
}

const loadavg = () => {
  try {
    return Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
  } catch {
    return "?";
  }
};

/** CLOCK_BOOTTIME in µs from /proc/uptime (10 ms steps), or undefined. */
function monotonicUs(): number | undefined {
  try {
    return Number(Deno.readTextFileSync("/proc/uptime").split(" ")[0]) * 1e6;
  } catch {
    return undefined;
  }
}

/** An instance as a {@linkcode MeasuredServer}. */
function instanceServer(i: InstanceUnderTest): MeasuredServer & { readonly statsUrl: string } {
  return {
    baseUrl: (c) => {
      if (c.port !== "fast") return i.url;
      if (!i.fastUrl) throw new Error(`${c.name}: the instance announces no fastPort`);
      return i.fastUrl;
    },
    get pid() {
      return i.pid;
    },
    get statsUrl() {
      return i.url;
    },
    get alive() {
      return i.alive;
    },
    ensureRunning: () => i.ensureRunning(),
    exitsWithin: (ms) => i.exitsWithin(ms),
    get lastDeath() {
      return i.lastDeath;
    },
  };
}

/** The floor as a {@linkcode MeasuredServer} (started again if it ever died). */
function floorServer(
  binary: string,
  first: FloorServer,
  track: (f: FloorServer) => void,
): MeasuredServer {
  let f = first;
  let dead = false;
  const watch = (s: FloorServer) => s.exited.then(() => s === f && (dead = true));
  watch(f);
  return {
    baseUrl: () => f.url,
    get pid() {
      return f.pid;
    },
    statsUrl: undefined,
    get alive() {
      return !dead;
    },
    async ensureRunning() {
      if (!dead) return false;
      f = await startFloor(binary, { cpus: SERVER_CPUS });
      dead = false;
      track(f);
      watch(f);
      return true;
    },
    async exitsWithin(ms) {
      if (dead) return true;
      let t: ReturnType<typeof setTimeout> | undefined;
      const r = await Promise.race([
        f.exited.then(() => true),
        new Promise<false>((res) => (t = setTimeout(() => res(false), ms))),
      ]);
      clearTimeout(t);
      return r;
    },
    lastDeath: [],
  };
}

/** A case that could not even run (probe failed, h2load missing, ...). */
function brokenCase(c: RpcCase, requests: number, err: unknown): CaseResult {
  return {
    name: c.name,
    protocol: c.protocol,
    http: c.http,
    port: c.port,
    ok: false,
    problems: [(err as Error).message ?? String(err)],
    failed: 0,
    lostAfterWindow: 0,
    callsPerSecond: null,
    serverUsPerCall: null,
    serverUsPerCallFromTicks: null,
    ratioToFloor: null,
    plan: planRun(requests),
    windowMs: null,
    serverCpuMs: null,
    bodyBytes: 0,
    h2load: null,
    stats: null,
    crashedAtClose: false,
    attempts: 1,
    command: "",
    notes: [],
  };
}

/**
 * Runs the bench. `log` gets progress lines (stderr).
 *
 * @throws {Error} when the bench cannot run at all (no Cassandra, an instance
 *   that does not start, the floor does not build).
 */
export async function runBenchRpc(
  o: BenchRpcOptions,
  signal: AbortSignal,
  log: (line: string) => void = (l) => console.error(l),
  onHardStop: (killNow: () => void) => void = () => {},
): Promise<BenchRpcResult> {
  const began = performance.now();
  // The cluster `deno task db up` started (or CASSANDRA_CONTACT_POINTS), else whatever answers
  // on 127.0.0.1:9042 (a worktree's .cassandra symlink hides the shared one from contactPoints).
  const info = await contactPoints() ??
    (await tcpOpen("127.0.0.1", CQL_PORT)
      ? { contactPoints: ["127.0.0.1"], localDataCenter: LOCAL_DC }
      : undefined);
  if (!info) {
    throw new Error("No Cassandra answers on 127.0.0.1:9042: start one with `deno task db up`");
  }
  const cassandra = [
    "--cassandra-contact-points",
    info.contactPoints.join(","),
    "--cassandra-local-dc",
    info.localDataCenter,
  ];
  const workDir = await Deno.makeTempDir({ prefix: "bench-rpc-" });
  const instances: InstanceUnderTest[] = [];
  const floors: FloorServer[] = [];
  const stopAll = async () => {
    await Promise.all([...instances.map((i) => i.stop(5000)), ...floors.map((f) => f.stop())]);
  };
  onHardStop(() => {
    for (const i of instances) i.killNow();
    for (const f of floors) {
      try {
        Deno.kill(f.pid, "SIGKILL");
      } catch { /* already gone */ }
    }
  });
  const cpuModel = (await Deno.readTextFile("/proc/cpuinfo").catch(() => ""))
    .match(/^model name\s*:\s*(.+)$/m)?.[1] ?? "?";
  const result: BenchRpcResult = {
    timestamp: new Date().toISOString(),
    elapsedMs: 0,
    machine: {
      nproc: navigator.hardwareConcurrency,
      cpuModel,
      kernel: Deno.osRelease(),
      deno: Deno.version.deno,
      go: await goVersion() ?? null,
      h2load: await text("h2load", ["--version"]),
      loadavgBefore: loadavg(),
      loadavgAfter: "",
    },
    settings: {
      requests: o.requests,
      h2c: LOAD_SHAPE.h2c,
      h1: { clients: LOAD_SHAPE.h1.clients },
      serverCpus: SERVER_CPUS,
      clientCpus: CLIENT_CPUS,
      window: "20%..90%",
      burstCalls: BURST_CALLS,
    },
    commands: {
      bench: `deno task bench:rpc ${Deno.args.join(" ")}`.trim(),
      server: `taskset -c ${SERVER_CPUS} deno run -A server/main.ts --host 127.0.0.1 --port 0 ${
        cassandra.join(" ")
      }`,
    },
    fastPort: false,
    floorUsPerCall: null,
    cases: [],
    burst: null,
    clients: null,
    load: null,
    profile: null,
    ok: false,
  };
  const settings: MeasureSettings = {
    requests: o.requests,
    clientCpus: CLIENT_CPUS,
    workDir,
    h2loadTimeoutMs: Math.max(120_000, o.requests * 10),
    retries: o.retries,
    signal,
    log,
  };
  const newInstance = (name: string, extra: Partial<InstanceOptions>) => {
    const i = new InstanceUnderTest({
      name,
      args: cassandra,
      ...extra,
    });
    instances.push(i);
    return i;
  };
  try {
    // 1. The instance under test, and the demo data it serves.
    log(
      `starting the instance under test (CPU ${SERVER_CPUS}) on Cassandra ${
        info.contactPoints.join(",")
      } ...`,
    );
    const main = newInstance("bench-instance", { cpus: SERVER_CPUS });
    await main.start();
    const store = new CassandraStore({
      contactPoints: info.contactPoints,
      localDataCenter: info.localDataCenter,
      keyspace: "dataservices",
    });
    try {
      const written = await ensureDemoData(store);
      log(written ? `demo data: wrote ${written} messages` : "demo data: present");
    } finally {
      await store.close();
    }
    result.fastPort = main.fastUrl !== undefined;
    log(
      `instance: ${main.url}${
        main.fastUrl ? `, fast listener ${main.fastUrl}` : " (no fastPort in /healthz)"
      }`,
    );
    const cases = selectCases(planCases({ floor: o.floor, fastPort: result.fastPort }), o.cases);
    const burstName = `coalesce-${BURST_CALLS}-streams/grpc/h2c/main`;
    const runBurst = selectCases([{ name: burstName }], o.cases).length > 0;

    // 2. The floor.
    let floor: MeasuredServer | undefined;
    if (cases.some((c) => c.port === "floor")) {
      log("building the grpc-go floor (bench/floor) ...");
      const built = await buildFloor(workDir, { signal });
      result.commands.floorBuild = built.command;
      result.commands.floor = `taskset -c ${SERVER_CPUS} <tmp>/floor -addr 127.0.0.1:0`;
      const f = await startFloor(built.binary, { cpus: SERVER_CPUS });
      floors.push(f);
      floor = floorServer(built.binary, f, (again) => floors.push(again));
      log(`floor: ${f.url}`);
    }

    // 3. The cases.
    const server = instanceServer(main);
    for (const c of cases) {
      if (signal.aborted) break;
      let r: CaseResult;
      try {
        r = await measureCase(c, c.port === "floor" ? floor! : server, () => main.url, settings);
      } catch (err) {
        if (signal.aborted) throw err;
        r = brokenCase(c, o.requests, err);
      }
      result.cases.push(r);
      log(
        `  ${c.name}: ${r.callsPerSecond?.toFixed(0) ?? "-"} calls/s, ${
          r.serverUsPerCall?.toFixed(1) ?? "-"
        } µs/call${r.ok ? "" : ` FAILED: ${r.problems.join("; ")}`}${
          r.crashedAtClose ? ` (server died after the window, ${r.lostAfterWindow} calls lost)` : ""
        }`,
      );
    }
    result.floorUsPerCall = applyFloor(result.cases);
    result.commands.h2load = result.cases.map((c) => c.command).filter((c) => c);

    // 4. The original client's shape.
    if (runBurst && !signal.aborted) {
      try {
        result.burst = await measureBurst(server, BURST_CALLS, settings);
      } catch (err) {
        if (signal.aborted) throw err;
        result.burst = {
          name: burstName,
          ok: false,
          problems: [(err as Error).message],
          calls: BURST_CALLS,
          requests: 0,
          queries: 0,
          coalesced: 0,
          errors: 0,
          rejected: 0,
          queriesPerRequest: null,
          h2load: null,
          crashedAtClose: false,
          command: "",
        };
      }
      log(`  ${burstName}: ${result.burst.queries} queries for ${result.burst.requests} requests`);
    }

    // 5. The profile.
    if (o.cpuProf && !signal.aborted) {
      const c = profileableCases().find((x) => x.name === o.cpuProf)!;
      try {
        result.profile = await profileCase(c, newInstance, settings, log);
      } catch (err) {
        if (signal.aborted) throw err;
        result.profileError = (err as Error).message;
        log(`profile of ${c.name} FAILED: ${result.profileError}`);
      }
    }
    await stopAll();

    // 6. Clients.
    if (o.clients && !signal.aborted) {
      log("starting two instances for the load CLI (not pinned) ...");
      const pair = [newInstance("bench-load-a", {}), newInstance("bench-load-b", {})];
      await Promise.all(pair.map((i) => i.start()));
      const help = await runLoadCli(["--help"], { timeoutMs: 60_000, workDir, signal });
      // One unmeasured run first, so that the measured ones meet instances past their JIT warm-up.
      const warm = await runLoadCli(
        [
          ...LOAD_ARGS,
          "--format",
          "json",
          "--targets",
          pair.map((i) => new URL(i.url).host).join(","),
        ],
        { timeoutMs: 300_000, workDir, signal },
      );
      log(`  load warm-up run: exit ${warm.code}, ${warm.time.wallMs.toFixed(0)} ms`);
      const startupCpuMs = help.time.userMs + help.time.systemMs;
      const runs: (ClientFigures & { instancesRestartedBefore: number })[] = [];
      const loadCommands: string[] = [];
      for (const protocol of LOAD_PROTOCOLS) {
        if (signal.aborted) break;
        const restarted = (await Promise.all(pair.map((i) => i.ensureRunning()))).filter((r) => r);
        if (restarted.length) {
          log(
            `  ${restarted.length} instance(s) died after the previous load run: started again (cold)`,
          );
        }
        const targets = pair.map((i) => new URL(i.url).host).join(",");
        const args = [
          ...LOAD_ARGS,
          "--protocol",
          protocol,
          "--format",
          "json",
          "--targets",
          targets,
        ];
        const run = await runLoadCli(args, { timeoutMs: 300_000, workDir, signal });
        loadCommands.push(run.command);
        const f = {
          ...clientFigures(protocol, run, startupCpuMs),
          instancesRestartedBefore: restarted.length,
        };
        runs.push(f);
        log(
          `  load --protocol ${protocol}: ${f.totalTimeMs.toFixed(0)} ms, ${
            f.usPerCall.toFixed(0)
          } µs CPU/call, ` +
            `${f.queries} queries${f.ok ? "" : ` FAILED: ${f.problems.join("; ")}`}`,
        );
        // connect-node closes its HTTP/2 sessions on exit; node:http2 may then abort an instance.
        await Promise.all(pair.map((i) => i.exitsWithin(300)));
      }
      result.clients = { startupCpuMs, runs };
      result.commands.load = loadCommands;
      const headline = runs.find((f) => f.protocol === "connect");
      if (headline) {
        result.load = {
          command: `deno task load ${LOAD_ARGS.join(" ")}`,
          totalTimeMs: headline.totalTimeMs,
          processWallMs: headline.processWallMs,
          queriesPerRequest: headline.queriesPerRequest,
          failed: headline.failed,
        };
      }
    }
  } finally {
    await stopAll();
    await Deno.remove(workDir, { recursive: true }).catch(() => {});
  }
  result.machine.loadavgAfter = loadavg();
  result.ok = result.cases.every((c) => c.ok) && (result.burst?.ok ?? true) &&
    result.profileError === undefined &&
    (result.clients?.runs.every((f) => f.ok) ?? true);
  result.elapsedMs = performance.now() - began;
  return result;
}

/**
 * Runs `c` once on a fresh instance started with `--cpu-prof`, pinned like
 * the others. At the 90% line h2load is killed (no GOAWAY, so node:http2
 * does not abort) and the instance stopped with SIGTERM, which writes the
 * profile. Only samples between the 20% and 90% lines count (not start-up,
 * warm-up, or the teardown of the killed connections).
 */
async function profileCase(
  c: RpcCase,
  newInstance: (name: string, extra: Partial<InstanceOptions>) => InstanceUnderTest,
  s: MeasureSettings,
  log: (line: string) => void,
): Promise<BenchRpcResult["profile"]> {
  const root = resolve(new URL("..", import.meta.url).pathname);
  const dir = `${root}/artifacts/cpu-prof/${new Date().toISOString().replace(/[:.]/g, "-")}`;
  await Deno.mkdir(dir, { recursive: true });
  log(`profiling ${c.name} (--cpu-prof-dir=${dir}) ...`);
  const inst = newInstance("bench-profiled", {
    cpus: SERVER_CPUS,
    denoFlags: ["--cpu-prof", `--cpu-prof-dir=${dir}`],
  });
  const spawnedAt = performance.now();
  await inst.start();
  const server = instanceServer(inst);
  const plan = planRun(s.requests);
  const args = h2loadArgs(c.protocol, c.http, {
    baseUrl: server.baseUrl(c),
    total: plan.total,
    bodyFile: await bodyFile(s.workDir, c.protocol),
  });
  let cpu0: CpuTime | undefined, cpu1: CpuTime | undefined, sinceMs = 0;
  let mono0: number | undefined, mono1: number | undefined;
  try {
    await runH2load({
      args,
      cpus: s.clientCpus,
      timeoutMs: s.h2loadTimeoutMs,
      signal: s.signal,
      onProgress(p, control) {
        if (p === plan.startTenth * 10) {
          cpu0 = readProcessCpu(inst.pid);
          mono0 = monotonicUs();
          sinceMs = performance.now() - spawnedAt;
        } else if (p === plan.endTenth * 10) {
          cpu1 = readProcessCpu(inst.pid);
          mono1 = monotonicUs();
          control.kill();
        }
      },
    });
  } catch (err) {
    if (!(err instanceof H2loadStopped)) throw err;
  }
  await inst.stop(15_000);
  const files = [...Deno.readDirSync(dir)].filter((e) => e.name.endsWith(".cpuprofile"));
  if (files.length === 0) throw new Error(`the profiled instance wrote no .cpuprofile into ${dir}`);
  const file = `${dir}/${files[0].name}`;
  const profile = JSON.parse(await Deno.readTextFile(file)) as CpuProfile;
  // V8 stamps samples with CLOCK_MONOTONIC µs, which /proc/uptime follows (10 ms steps) unless the
  // machine slept: then fall back to the time since the spawn (the profile starts a little later).
  const exact = mono0 !== undefined && mono1 !== undefined &&
    mono0 >= profile.startTime && mono1 <= profile.endTime + 1e6;
  const window = exact
    ? { sinceUs: mono0! - profile.startTime, untilUs: mono1! - profile.startTime }
    : { sinceUs: Math.max(0, sinceMs - 200) * 1000 };
  const summary = summarizeProfile(profile, {
    root: new URL("..", import.meta.url).href,
    top: 20,
    ...window,
  });
  log(formatProfileSummary(summary));
  return {
    case: c.name,
    file: file.slice(root.length + 1),
    windowExact: exact,
    serverUsPerCall: cpu0?.threadsNs !== undefined && cpu1?.threadsNs !== undefined
      ? (cpu1.threadsNs - cpu0.threadsNs) / 1000 / plan.measured
      : null,
    summary,
  };
}

/** The command line; returns the exit code. */
export async function main(args: readonly string[]): Promise<number> {
  let o;
  try {
    o = parseBenchRpcArgs(args);
  } catch (err) {
    if (!(err instanceof FlagError)) throw err;
    console.error(`error: ${err.message.split("\n")[0]}`);
    return 2;
  }
  if (o.help) {
    console.log(HELP);
    return 0;
  }
  const abort = new AbortController();
  let killNow = () => {};
  const onSignal = () => {
    if (abort.signal.aborted) {
      killNow();
      Deno.exit(130);
    }
    console.error("\ninterrupted: stopping every process the bench started (again to quit now)");
    abort.abort();
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  let result: BenchRpcResult;
  try {
    result = await runBenchRpc(o, abort.signal, undefined, (k) => (killNow = k));
  } catch (err) {
    if (abort.signal.aborted) return 130;
    console.error(`error: ${(err as Error).message}`);
    return 1;
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
  if (abort.signal.aborted) return 130;
  console.log(formatReport(result));
  if (result.profile) console.log("\n" + formatProfileSummary(result.profile.summary));
  if (o.out !== "") {
    await Deno.mkdir(dirname(o.out), { recursive: true });
    await Deno.writeTextFile(o.out, JSON.stringify(result, null, 2) + "\n");
    console.log(`\nResults written to ${o.out} (${(result.elapsedMs / 1000).toFixed(0)} s).`);
  }
  return result.ok ? 0 : 1;
}

if (import.meta.main) {
  Deno.exitCode = await main(Deno.args);
}
