/**
 * The load CLI step of `deno task bench:rpc`: two instances (not pinned),
 * one unmeasured warm-up run, then `deno task load --channels 20 --requests
 * 10000` once per `--protocol`, each under GNU time (bench_rpc_clients.ts);
 * the Connect run is the headline figure.
 *
 * @module
 */
import { type ClientFigures, clientFigures, runLoadCli } from "./bench_rpc_clients.ts";
import type { InstanceUnderTest } from "./bench_rpc_instance.ts";
import type { BenchRpcResult, LoadHeadline } from "./bench_rpc_report.ts";

const LOAD_PROTOCOLS = ["connect", "connect-json", "grpc", "grpc-web"] as const;
const LOAD_ARGS = ["--channels", "20", "--requests", "10000"];

/** What the load CLI runs measured. */
export interface LoadRuns {
  readonly clients: NonNullable<BenchRpcResult["clients"]>;
  /** The commands run, one per protocol. */
  readonly commands: string[];
  /** The Connect run, unless it was not reached. */
  readonly load: LoadHeadline | null;
}

/**
 * Starts two instances from `newInstance` (the caller stops them), then
 * runs the load CLI against them. Stops early, with what it has, on `signal`.
 *
 * @throws {Error} when an instance does not start or the load CLI cannot run.
 */
export async function measureLoadRuns(
  newInstance: (name: string) => InstanceUnderTest,
  o: { workDir: string; signal: AbortSignal; log: (line: string) => void },
): Promise<LoadRuns> {
  const { workDir, signal, log } = o;
  log("starting two instances for the load CLI (not pinned) ...");
  const pair = [newInstance("bench-load-a"), newInstance("bench-load-b")];
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
  const commands: string[] = [];
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
    commands.push(run.command);
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
  const headline = runs.find((f) => f.protocol === "connect");
  return {
    clients: { startupCpuMs, runs },
    commands,
    load: headline
      ? {
        command: `deno task load ${LOAD_ARGS.join(" ")}`,
        totalTimeMs: headline.totalTimeMs,
        processWallMs: headline.processWallMs,
        queriesPerRequest: headline.queriesPerRequest,
        failed: headline.failed,
      }
      : null,
  };
}
