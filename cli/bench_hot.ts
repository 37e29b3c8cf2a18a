/**
 * `deno task bench:hot`: hot partitions, with the protections on and off, in
 * one run against the running Cassandra.
 *
 * Starts two sets of data-service instances (`server/main.ts` children; both
 * coalesce):
 *
 * | configuration | flags                                                                                   |
 * | ------------- | --------------------------------------------------------------------------------------- |
 * | off           | `--query-limit fixed --max-queue-wait-ms 0 --channel-write-rate 0`                     |
 * | on            | `--query-limit adaptive --max-queue-wait-ms 1000 --channel-write-rate R --channel-write-burst B` |
 *
 * and runs the same load on each (`bench_hot_load.ts`: open-loop Zipf reads
 * over many channels, three waves of identical reads of one storm channel, a
 * write storm on another channel), through the router client. Then it reads
 * every instance's GetStats (deltas) and GetHotKeys (merged with
 * `router/hot_keys.ts`) and prints a table (`bench_hot_report.ts`); the JSON
 * goes to `--out`. Exit code 1 when the hot-key view did not name the storm
 * channel first in either configuration.
 *
 * @module
 */
import { dirname } from "node:path";
import { createClient } from "@connectrpc/connect";
import { contactPoints } from "../db/cluster.ts";
import { MessagesService } from "../gen/dataservices/v1/messages_pb.ts";
import { HOST } from "../lib/defaults.ts";
import { answerHelpAndErrors } from "../lib/flags.ts";
import { onShutdown } from "../lib/shutdown.ts";
import { createFastTransportFactory } from "../router/fast_factory.ts";
import { mergeHotKeys } from "../router/hot_keys.ts";
import { createRoutingTransport } from "../router/mod.ts";
import { type ChildService, spawnInstance } from "./child.ts";
import {
  configurationFlags,
  HOT_BENCH,
  type HotBenchOptions,
  parseHotBenchArgs,
} from "./bench_hot_flags.ts";
import { type HotLoadPlan, runHotLoad } from "./bench_hot_load.ts";
import { formatHot, type HotFigures, hotFigures } from "./bench_hot_report.ts";

/** Everything the bench measured; written to `--out`. */
export interface HotBenchResult {
  readonly generatedAt: string;
  readonly command: string;
  readonly machine: { cores: number; deno: string; os: string; loadAverage: number[] };
  readonly options: HotBenchOptions;
  readonly plan: Omit<HotLoadPlan, "channelBase" | "stormChannel" | "writeChannel"> & {
    channelBase: string;
    stormChannel: string;
    writeChannel: string;
  };
  readonly figures: { off: HotFigures; on: HotFigures };
  readonly elapsedMs: number;
}

type Configuration = "off" | "on";

/** Runs the scenario; `log` gets progress lines (stderr by default). */
export async function runHotBench(
  o: HotBenchOptions,
  log: (line: string) => void = (l) => console.error(l),
): Promise<HotBenchResult> {
  const began = performance.now();
  const info = await contactPoints();
  if (!info) throw new Error("No Cassandra is running: start one with `deno task db up`");
  const children: ChildService[] = [];
  const stopAll = () => Promise.all(children.map((c) => c.stop(5000)));
  const shutdown = onShutdown({
    signals: ["SIGINT"],
    onFirst: async () => {
      await stopAll();
      return 130;
    },
  });
  const flags = configurationFlags(o);
  const workerBase = 600 + Math.floor(Math.random() * 300);
  try {
    const spawn = (config: Configuration, i: number) => {
      const index = children.length;
      const port = o.basePort === 0 ? 0 : o.basePort + 2 * index;
      const child = spawnInstance(`${config}-${i + 1}`, {
        host: HOST,
        port,
        workerId: workerBase + index,
        cassandra: info,
        extraArgs: [...flags[config], "--fast-port", String(port === 0 ? 0 : port + 1)],
      });
      children.push(child);
      return child;
    };
    const sets = {
      off: Array.from({ length: o.instances }, (_, i) => spawn("off", i)),
      on: Array.from({ length: o.instances }, (_, i) => spawn("on", i)),
    };
    const hosts = {
      off: await Promise.all(sets.off.map(async (c) => new URL(await c.ready()).host)),
      on: await Promise.all(sets.on.map(async (c) => new URL(await c.ready()).host)),
    };
    log(`protections off: ${hosts.off.join(", ")} (${flags.off.join(" ")})`);
    log(`protections on:  ${hosts.on.join(", ")} (${flags.on.join(" ")})`);
    const runId = BigInt(Date.now()) * 1000n;
    const plan: HotLoadPlan = {
      durationMs: o.durationMs,
      channels: o.channels,
      zipfS: o.zipfS,
      readRate: o.readRate,
      storm: o.storm,
      writeRate: o.writeRate,
      timeoutMs: o.timeoutMs,
      seed: o.seed,
      channelBase: runId,
      stormChannel: runId + 900_000n,
      writeChannel: runId + 900_001n,
    };
    const figures = {} as Record<Configuration, HotFigures>;
    const order: Configuration[] = o.first === "on" ? ["on", "off"] : ["off", "on"];
    for (const config of order) {
      figures[config] = await runConfiguration(config, hosts[config], plan, log);
    }
    return {
      generatedAt: new Date().toISOString(),
      command: `deno task bench:hot ${Deno.args.join(" ")}`.trim(),
      machine: {
        cores: navigator.hardwareConcurrency,
        deno: Deno.version.deno,
        os: `${Deno.build.os} ${Deno.build.arch}`,
        loadAverage: Deno.loadavg(),
      },
      options: o,
      plan: {
        ...plan,
        channelBase: String(plan.channelBase),
        stormChannel: String(plan.stormChannel),
        writeChannel: String(plan.writeChannel),
      },
      figures,
      elapsedMs: performance.now() - began,
    };
  } finally {
    shutdown.dispose();
    await stopAll();
  }
}

/** One configuration: warm up, the load, then its instances' counters and hot keys. */
async function runConfiguration(
  config: Configuration,
  hosts: string[],
  plan: HotLoadPlan,
  log: (line: string) => void,
): Promise<HotFigures> {
  const router = createRoutingTransport({
    instances: hosts,
    createTransport: createFastTransportFactory({ connections: 2 }),
    probeIntervalMs: 0,
  });
  try {
    const api = createClient(MessagesService, router);
    const perInstance = router.instances.map((i) =>
      createClient(MessagesService, router.transportFor(i.id))
    );
    // Warm-up (connections, JIT, prepared statements): a few calls of each kind.
    await Promise.allSettled(
      Array.from(
        { length: 50 },
        (_, i) => api.getMessage({ channelId: plan.channelBase + BigInt(i + 1), messageId: 1n }),
      ),
    );
    const before = await Promise.all(perInstance.map((c) => c.getStats({})));
    log(`${config}: running ${plan.durationMs / 1000} s of load ...`);
    const load = await runHotLoad(api, plan);
    const after = await Promise.all(perInstance.map((c) => c.getStats({})));
    const hot = mergeHotKeys(await Promise.all(perInstance.map((c) => c.getHotKeys({}))), 5);
    const delta = (f: (s: (typeof after)[number]) => bigint) =>
      after.reduce((n, s, i) => n + Number(f(s) - f(before[i])), 0);
    const figures = hotFigures(load, {
      queries: delta((s) => s.queries),
      shed: delta((s) => s.shedQueries),
      dropped: delta((s) => s.droppedQueries),
      throttled: delta((s) => s.throttledWrites),
      queryLimits: after.map((s) => s.queryLimit),
      hottestChannel: String(hot.channels[0]?.channelId ?? "none"),
      hottestRequests: Number(hot.channels[0]?.stats?.requests ?? 0n),
      hottestKey: hot.keys[0]?.key ?? "none",
    }, plan.stormChannel);
    log(
      `${config}: ${figures.queries} queries, normal p99 ${figures.normal.p99Ms?.toFixed(1)} ms, ` +
        `hottest ${figures.hottestChannel}${figures.namedStorm ? " (the storm)" : ""}`,
    );
    return figures;
  } finally {
    await router.close();
  }
}

/** The command line; returns the exit code. */
export async function main(args: readonly string[]): Promise<number> {
  const o = answerHelpAndErrors(HOT_BENCH, () => parseHotBenchArgs(args));
  if (typeof o === "number") return o;
  const { help: _, ...options } = o;
  let result: HotBenchResult;
  try {
    result = await runHotBench(options);
  } catch (err) {
    console.error(`error: ${(err as Error).message}`);
    return 1;
  }
  console.log(formatHot(result.figures));
  console.log(
    `\nStorm channel ${result.plan.stormChannel}, write-storm channel ${result.plan.writeChannel}; ` +
      `took ${(result.elapsedMs / 1000).toFixed(1)} s; load average ${
        result.machine.loadAverage.map((l) => l.toFixed(1)).join(" ")
      }.`,
  );
  if (options.out !== "") {
    await Deno.mkdir(dirname(options.out), { recursive: true });
    await Deno.writeTextFile(
      options.out,
      JSON.stringify(result, (_k, v) => (typeof v === "bigint" ? String(v) : v), 2) + "\n",
    );
    console.log(`Results written to ${options.out}`);
  }
  const named = result.figures.off.namedStorm && result.figures.on.namedStorm;
  if (!named) console.error("error: the hot-key view did not name the storm channel first");
  return named ? 0 : 1;
}

if (import.meta.main) {
  Deno.exitCode = await main(Deno.args);
}
