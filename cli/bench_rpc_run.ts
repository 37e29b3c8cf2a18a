/**
 * One run of `deno task bench:rpc`, step by step: find the Cassandra, start
 * the instance under test (with the demo data), build and start the grpc-go
 * floor, measure every selected case, the 5,000-stream burst, the profile
 * (`--cpu-prof`), then the load CLI runs; stop everything it started, and
 * gather the figures into one {@linkcode BenchRpcResult}.
 *
 * @module
 */
import { type ClusterInfo, contactPoints } from "../db/cluster.ts";
import { tcpOpen } from "../db/probes.ts";
import { CQL_PORT } from "../db/settings.ts";
import { LOCAL_DC } from "../lib/defaults.ts";
import { ensureDemoData } from "../server/demo.ts";
import { CassandraStore } from "../server/store.ts";
import { LOAD_SHAPE, planCases, selectCases } from "./bench_rpc_cases.ts";
import { buildFloor, startFloor } from "./bench_rpc_floor.ts";
import {
  brokenCase,
  type CaseResult,
  measureCase,
  type MeasureSettings,
} from "./bench_rpc_measure.ts";
import { brokenBurst, burstName, measureBurst } from "./bench_rpc_burst.ts";
import { floorServer, instanceServer, type MeasuredServer } from "./bench_rpc_servers.ts";
import { BenchProcesses } from "./bench_rpc_processes.ts";
import { profileCase } from "./bench_rpc_profile.ts";
import { measureLoadRuns } from "./bench_rpc_load_runs.ts";
import { loadavg, machineInfo } from "./bench_rpc_machine.ts";
import { type BenchRpcOptions, profileableCases } from "./bench_rpc_flags.ts";
import { applyFloor, type BenchRpcResult } from "./bench_rpc_report.ts";

const SERVER_CPUS = "0";
const CLIENT_CPUS = "1";
const BURST_CALLS = 5000;

/**
 * The cluster `deno task db up` started (or CASSANDRA_CONTACT_POINTS), else
 * whatever answers on 127.0.0.1:9042 (a worktree's .cassandra symlink hides
 * the shared one from contactPoints).
 */
async function findCassandra(): Promise<Pick<ClusterInfo, "contactPoints" | "localDataCenter">> {
  const info = await contactPoints() ??
    (await tcpOpen("127.0.0.1", CQL_PORT)
      ? { contactPoints: ["127.0.0.1"], localDataCenter: LOCAL_DC }
      : undefined);
  if (!info) {
    throw new Error("No Cassandra answers on 127.0.0.1:9042: start one with `deno task db up`");
  }
  return info;
}

/**
 * Runs the bench. `log` gets progress lines (stderr); `onHardStop` gets the
 * function that kills every process the bench started, at once.
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
  const info = await findCassandra();
  const cassandra = [
    "--cassandra-contact-points",
    info.contactPoints.join(","),
    "--cassandra-local-dc",
    info.localDataCenter,
  ];
  const workDir = await Deno.makeTempDir({ prefix: "bench-rpc-" });
  const processes = new BenchProcesses(cassandra);
  onHardStop(() => processes.killNow());
  const result: BenchRpcResult = {
    timestamp: new Date().toISOString(),
    elapsedMs: 0,
    machine: await machineInfo(),
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
  try {
    // 1. The instance under test, and the demo data it serves.
    log(
      `starting the instance under test (CPU ${SERVER_CPUS}) on Cassandra ${
        info.contactPoints.join(",")
      } ...`,
    );
    const main = processes.instance("bench-instance", { cpus: SERVER_CPUS });
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
    const runBurst = selectCases([{ name: burstName(BURST_CALLS) }], o.cases).length > 0;

    // 2. The floor.
    let floor: MeasuredServer | undefined;
    if (cases.some((c) => c.port === "floor")) {
      log("building the grpc-go floor (bench/floor) ...");
      const built = await buildFloor(workDir, { signal });
      result.commands.floorBuild = built.command;
      result.commands.floor = `taskset -c ${SERVER_CPUS} <tmp>/floor -addr 127.0.0.1:0`;
      const f = await startFloor(built.binary, { cpus: SERVER_CPUS });
      processes.floor(f);
      floor = floorServer(built.binary, f, SERVER_CPUS, (again) => processes.floor(again));
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
        result.burst = brokenBurst(BURST_CALLS, err);
      }
      log(
        `  ${result.burst.name}: ${result.burst.queries} queries for ${result.burst.requests} requests`,
      );
    }

    // 5. The profile.
    if (o.cpuProf && !signal.aborted) {
      const c = profileableCases().find((x) => x.name === o.cpuProf)!;
      const profiled = (denoFlags: string[]) =>
        processes.instance("bench-profiled", { cpus: SERVER_CPUS, denoFlags });
      try {
        result.profile = await profileCase(c, profiled, settings);
      } catch (err) {
        if (signal.aborted) throw err;
        result.profileError = (err as Error).message;
        log(`profile of ${c.name} FAILED: ${result.profileError}`);
      }
    }
    await processes.stopAll();

    // 6. Clients.
    if (o.clients && !signal.aborted) {
      const runs = await measureLoadRuns((name) => processes.instance(name, {}), {
        workDir,
        signal,
        log,
      });
      result.clients = runs.clients;
      result.commands.load = runs.commands;
      result.load = runs.load;
    }
  } finally {
    await processes.stopAll();
    await Deno.remove(workDir, { recursive: true }).catch(() => {});
  }
  result.machine.loadavgAfter = loadavg();
  result.ok = result.cases.every((c) => c.ok) && (result.burst?.ok ?? true) &&
    result.profileError === undefined &&
    (result.clients?.runs.every((f) => f.ok) ?? true);
  result.elapsedMs = performance.now() - began;
  return result;
}
