/**
 * `deno task bench:coalesce`: what coalescing and consistent-hash routing buy,
 * measured in one process run on the running Cassandra.
 *
 * Starts four data-service instances as child processes (`server/main.ts`):
 * two with coalescing, two with `--no-coalesce`. Then runs the same load
 * (`runLoad`: GetMessage{c, c*1000}, all at once, by default) in four
 * scenarios (`bench_figures.ts`), `--repeat` times each, interleaved:
 *
 * | scenario     | instances        | routing     | channels |
 * | ------------ | ---------------- | ----------- | -------- |
 * | on           | coalescing pair  | jump        | 20       |
 * | off          | no-coalesce pair | jump        | 20       |
 * | round-robin  | coalescing pair  | round-robin | 20       |
 * | cold         | coalescing pair  | jump        | 10,000   |
 *
 * and prints a table (medians over the repeats) and three ratios
 * (`bench_format.ts`): coalescing off vs on, jump vs round-robin, cold vs
 * hot keys. The same figures, every run's numbers and the machine are
 * written as JSON to `--out` (default `bench/results.json`) for the README.
 *
 * Cold channels (above 20) have no demo row: GetMessage answers NOT_FOUND
 * there, which costs the same query; the table shows those apart from
 * errors. `--method history` asks GetMessages instead (an empty page).
 *
 * @module
 */
import { dirname } from "node:path";
import { contactPoints } from "../db/cluster.ts";
import { HOST } from "../lib/defaults.ts";
import { answerHelpAndErrors } from "../lib/flags.ts";
import { onShutdown } from "../lib/shutdown.ts";
import { type ChildService, spawnInstance } from "./child.ts";
import {
  checkTargets,
  figuresOf,
  medianFigures,
  type Ratios,
  ratios,
  type RunFigures,
  type ScenarioName,
  SCENARIOS,
  type TargetChecks,
} from "./bench_figures.ts";
import { BENCH, type BenchOptions, parseBenchArgs } from "./bench_flags.ts";
import { formatBench } from "./bench_format.ts";
import { runLoad } from "./load.ts";

/** Everything the bench measured; written to `--out`. */
export interface BenchResult {
  readonly generatedAt: string;
  readonly command: string;
  readonly machine: {
    readonly cores: number;
    readonly deno: string;
    readonly os: string;
    readonly cassandraNodes: number;
  };
  readonly options: BenchOptions;
  readonly medians: Record<ScenarioName, RunFigures>;
  readonly ratios: Ratios;
  readonly targets: TargetChecks;
  readonly runs: readonly {
    readonly scenario: ScenarioName;
    readonly repeat: number;
    readonly figures: RunFigures;
  }[];
  readonly elapsedMs: number;
}

/**
 * Runs the bench. `log` gets progress lines (stderr by default).
 *
 * @throws {Error} when no Cassandra runs or an instance does not start.
 */
export async function runBench(
  o: BenchOptions,
  log: (line: string) => void = (l) => console.error(l),
): Promise<BenchResult> {
  const began = performance.now();
  const info = await contactPoints();
  if (!info) throw new Error("No Cassandra is running: start one with `deno task db up`");
  const children: ChildService[] = [];
  const stopAll = () => Promise.all(children.map((c) => c.stop(5000)));
  // Ctrl-C stops the instances, then exits 130; a second one exits at once.
  const shutdown = onShutdown({
    signals: ["SIGINT"],
    onFirst: async () => {
      await stopAll();
      return 130;
    },
  });
  try {
    const spawn = (name: string, extraArgs: string[] = []) => {
      const child = spawnInstance(name, {
        host: HOST,
        port: 0,
        cassandra: info,
        extraArgs,
      });
      children.push(child);
      return child;
    };
    log(`starting 4 instances against Cassandra at ${info.contactPoints.join(",")} ...`);
    const on = [spawn("on-1"), spawn("on-2")];
    const off = [spawn("off-1", ["--no-coalesce"]), spawn("off-2", ["--no-coalesce"])];
    const hostOf = async (c: ChildService) => new URL(await c.ready()).host;
    const pairs = {
      on: await Promise.all(on.map(hostOf)),
      off: await Promise.all(off.map(hostOf)),
    };
    log(`coalescing on: ${pairs.on.join(", ")}; off: ${pairs.off.join(", ")}`);

    const runs: { scenario: ScenarioName; repeat: number; figures: RunFigures }[] = [];
    for (let rep = 1; rep <= o.repeat; rep++) {
      for (const s of SCENARIOS) {
        const report = await runLoad({
          targets: pairs[s.pair],
          routing: s.routing,
          channels: s.cold ? o.coldChannels : o.hotChannels,
          requests: o.requests,
          concurrency: o.concurrency,
          warmup: o.warmup,
          method: o.method,
          protocol: o.protocol,
          connections: o.connections,
          timeoutMs: o.timeoutMs,
        });
        const f = figuresOf(report);
        runs.push({ scenario: s.name, repeat: rep, figures: f });
        log(
          `run ${rep}/${o.repeat} ${s.name.padEnd(11)}: ${f.queries} queries, ` +
            `${f.queriesPerRequest.toFixed(4)} q/req, ${f.requestsPerSecond.toFixed(0)} req/s, ` +
            `p99 ${f.p99Ms.toFixed(0)} ms, ${f.errors} errors`,
        );
      }
    }
    const medians = Object.fromEntries(SCENARIOS.map((s) => {
      const of = runs.filter((r) => r.scenario === s.name).map((r) => r.figures);
      return [s.name, medianFigures(of)];
    })) as Record<ScenarioName, RunFigures>;
    const r = ratios(medians);
    return {
      generatedAt: new Date().toISOString(),
      command: `deno task bench:coalesce ${Deno.args.join(" ")}`.trim(),
      machine: {
        cores: navigator.hardwareConcurrency,
        deno: Deno.version.deno,
        os: `${Deno.build.os} ${Deno.build.arch}`,
        cassandraNodes: info.nodes,
      },
      options: o,
      medians,
      ratios: r,
      targets: checkTargets(medians, r),
      runs,
      elapsedMs: performance.now() - began,
    };
  } finally {
    shutdown.dispose();
    await stopAll();
  }
}

/** The command line; returns the exit code. */
export async function main(args: readonly string[]): Promise<number> {
  const o = answerHelpAndErrors(BENCH, () => parseBenchArgs(args));
  if (typeof o === "number") return o;
  const { help: _, ...options } = o;
  let result: BenchResult;
  try {
    result = await runBench(options);
  } catch (err) {
    console.error(`error: ${(err as Error).message}`);
    return 1;
  }
  console.log(formatBench(options, result.medians, result.ratios));
  console.log(`\nTook ${(result.elapsedMs / 1000).toFixed(1)} s.`);
  if (options.out !== "") {
    await Deno.mkdir(dirname(options.out), { recursive: true });
    await Deno.writeTextFile(options.out, JSON.stringify(result, null, 2) + "\n");
    console.log(`Results written to ${options.out}`);
  }
  return 0;
}

if (import.meta.main) {
  Deno.exitCode = await main(Deno.args);
}
