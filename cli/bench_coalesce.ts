/**
 * `deno task bench:coalesce`: what coalescing and consistent-hash routing buy,
 * measured in one process run on the running Cassandra.
 *
 * Starts four data-service instances as child processes (`server/main.ts`):
 * two with coalescing, two with `--no-coalesce`. Then runs the same load
 * (`runLoad`: GetMessage{c, c*1000}, all at once, by default) in four
 * scenarios, `--repeat` times each, interleaved:
 *
 * | scenario     | instances        | routing     | channels |
 * | ------------ | ---------------- | ----------- | -------- |
 * | on           | coalescing pair  | jump        | 20       |
 * | off          | no-coalesce pair | jump        | 20       |
 * | round-robin  | coalescing pair  | round-robin | 20       |
 * | cold         | coalescing pair  | jump        | 10,000   |
 *
 * and prints a table (medians over the repeats) and three ratios: coalescing
 * off vs on, jump vs round-robin, cold vs hot keys. The same figures, every
 * run's numbers and the machine are written as JSON to `--out`
 * (default `bench/results.json`) for the README to cite.
 *
 * Cold channels (above 20) have no demo row: GetMessage answers NOT_FOUND
 * there, which costs the same query; the table shows those apart from
 * errors. `--method history` asks GetMessages instead (an empty page).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { dirname } from "node:path";
import { contactPoints } from "../db/cluster.ts";
import { type ChildService, spawnService } from "./child.ts";
import { FlagError, type LoadMethod, type LoadProtocol, METHODS, PROTOCOLS } from "./load_flags.ts";
import { runLoad } from "./load.ts";
import type { LoadReport } from "./report.ts";

/** The bench's settings. */
export interface BenchOptions {
  /** Requests per run. Default 10000 (the original's load). */
  readonly requests: number;
  /** Channels of the hot runs. Default 20. */
  readonly hotChannels: number;
  /** Channels of the cold run. Default 10000. */
  readonly coldChannels: number;
  /** Runs of each scenario; the table shows medians. Default 3. */
  readonly repeat: number;
  /** Unmeasured requests before each run (JIT, connections). Default 1000. */
  readonly warmup: number;
  /** Most requests in flight; undefined: all at once. */
  readonly concurrency?: number;
  readonly protocol: LoadProtocol;
  /** HTTP/2 connections per instance (default 4, as `deno task load`). */
  readonly connections: number;
  /**
   * What every run asks (default message: GetMessage{c, c*1000}, the load
   * of `deno task load`). With message or compat, cold channels without a
   * demo row answer NOT_FOUND (reported apart from errors; each still costs
   * a query).
   */
  readonly method: LoadMethod;
  /** Per-request deadline, ms. Default 60000 (a loaded 2-core machine is slow). */
  readonly timeoutMs: number;
  /** Where the JSON goes; "" to skip. Default bench/results.json. */
  readonly out: string;
}

/** The scenarios, in run order. */
export const SCENARIOS = [
  { name: "on", label: "coalescing on, jump, hot", pair: "on", routing: "jump", cold: false },
  { name: "off", label: "coalescing off, jump, hot", pair: "off", routing: "jump", cold: false },
  {
    name: "round-robin",
    label: "coalescing on, round-robin, hot",
    pair: "on",
    routing: "round-robin",
    cold: false,
  },
  { name: "cold", label: "coalescing on, jump, cold", pair: "on", routing: "jump", cold: true },
] as const;
export type ScenarioName = typeof SCENARIOS[number]["name"];

/** The figures of one run that the bench compares. */
export interface RunFigures {
  readonly requests: number;
  readonly queries: number;
  readonly queriesPerRequest: number;
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Failed requests other than NOT_FOUND. */
  readonly errors: number;
  /** NOT_FOUND answers: channels without the asked row (the cold run of GetMessage). */
  readonly notFound: number;
  readonly totalTimeMs: number;
}

/** The figures of a report. */
export function figuresOf(r: LoadReport): RunFigures {
  return {
    requests: r.totalRequests,
    queries: r.totalQueries,
    queriesPerRequest: r.averageQueriesPerRequest,
    requestsPerSecond: r.client.requestsPerSecond,
    p50Ms: r.latencyMs?.p50 ?? NaN,
    p99Ms: r.latencyMs?.p99 ?? NaN,
    errors: r.client.failed - (r.client.errors.not_found ?? 0),
    notFound: r.client.errors.not_found ?? 0,
    totalTimeMs: r.totalTimeMs,
  };
}

/** The median of numbers (mean of the two middle ones for an even count). */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Field-wise medians of several runs. */
export function medianFigures(runs: readonly RunFigures[]): RunFigures {
  const keys = Object.keys(runs[0]) as (keyof RunFigures)[];
  return Object.fromEntries(
    keys.map((k) => [k, median(runs.map((r) => r[k]))]),
  ) as unknown as RunFigures;
}

/** `a / b`, or null when it is meaningless (b is 0 or either is NaN). */
export function ratio(a: number, b: number): number | null {
  return b === 0 || !Number.isFinite(a) || !Number.isFinite(b) ? null : a / b;
}

/** The comparisons the bench exists for. */
export interface Ratios {
  /** Queries without coalescing per query with it (how many times more). */
  readonly offVsOnQueries: number | null;
  readonly offVsOnRequestsPerSecond: number | null;
  readonly offVsOnP99: number | null;
  /** Queries with jump routing relative to round-robin (target <= 0.55 on two instances). */
  readonly jumpVsRoundRobinQueries: number | null;
  readonly jumpVsRoundRobinP99: number | null;
  /** Queries with cold keys relative to hot keys. */
  readonly coldVsHotQueries: number | null;
  readonly coldVsHotRequestsPerSecond: number | null;
}

/** Ratios of the medians. */
export function ratios(m: Record<ScenarioName, RunFigures>): Ratios {
  return {
    offVsOnQueries: ratio(m.off.queries, m.on.queries),
    offVsOnRequestsPerSecond: ratio(m.off.requestsPerSecond, m.on.requestsPerSecond),
    offVsOnP99: ratio(m.off.p99Ms, m.on.p99Ms),
    jumpVsRoundRobinQueries: ratio(m.on.queries, m["round-robin"].queries),
    jumpVsRoundRobinP99: ratio(m.on.p99Ms, m["round-robin"].p99Ms),
    coldVsHotQueries: ratio(m.cold.queries, m.on.queries),
    coldVsHotRequestsPerSecond: ratio(m.cold.requestsPerSecond, m.on.requestsPerSecond),
  };
}

const METHOD_LABEL = {
  history: "GetMessages",
  message: "GetMessage",
  compat: "messages.MessagesService/getMessage",
} as const;

const fmtRatio = (x: number | null, digits = 2) => (x === null ? "n/a" : `${x.toFixed(digits)}x`);

/** The table and the ratios as text. */
export function formatBench(
  o: BenchOptions,
  m: Record<ScenarioName, RunFigures>,
  r: Ratios,
): string {
  const head = [
    "scenario",
    "channels",
    "requests",
    "queries",
    "q/req",
    "req/s",
    "p50 ms",
    "p99 ms",
    "not found",
    "errors",
  ];
  const rows = SCENARIOS.map((s) => {
    const f = m[s.name];
    return [
      s.label,
      String(s.cold ? o.coldChannels : o.hotChannels),
      String(Math.round(f.requests)),
      String(Math.round(f.queries)),
      f.queriesPerRequest.toFixed(4),
      f.requestsPerSecond.toFixed(0),
      f.p50Ms.toFixed(0),
      f.p99Ms.toFixed(0),
      String(Math.round(f.notFound)),
      String(Math.round(f.errors)),
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (row: string[]) =>
    row.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  const qpr = m.on.queriesPerRequest;
  return [
    `Medians of ${o.repeat} run(s) per scenario, ${o.requests} requests each, ` +
    `${o.concurrency === undefined ? "all at once" : `at most ${o.concurrency} in flight`}, ` +
    `${METHOD_LABEL[o.method]} over ${o.protocol}, two instances per pair:`,
    "",
    line(head),
    ...rows.map(line),
    "",
    "Ratios:",
    `  coalescing off / on:  queries ${fmtRatio(r.offVsOnQueries, 1)}, requests/s ${
      fmtRatio(r.offVsOnRequestsPerSecond)
    }, p99 ${fmtRatio(r.offVsOnP99)}`,
    `  jump / round-robin:   queries ${fmtRatio(r.jumpVsRoundRobinQueries)} (target <= 0.55x: ${
      r.jumpVsRoundRobinQueries !== null && r.jumpVsRoundRobinQueries <= 0.55 ? "met" : "not met"
    }), p99 ${fmtRatio(r.jumpVsRoundRobinP99)}`,
    `  cold / hot keys:      queries ${fmtRatio(r.coldVsHotQueries, 1)}, requests/s ${
      fmtRatio(r.coldVsHotRequestsPerSecond)
    }`,
    `  queries per request, coalescing on, hot: ${qpr.toFixed(4)} (target <= 0.004: ${
      qpr <= 0.004 ? "met" : "not met"
    }; the original measured 0.0184)`,
    "",
    "Counts are GetStats deltas of fresh instances that no other client uses. Channels 1..20 hold",
    "the demo rows (deno task start); colder channels have none, so GetMessage answers NOT_FOUND",
    "there (one query each all the same) and GetMessages an empty page: compare queries across",
    "hot and cold, not requests/s. Client, 4 instances and Cassandra share this machine.",
  ].join("\n");
}

const HELP = `Usage: deno task bench:coalesce [options]

Starts two data-service pairs (coalescing on and --no-coalesce) against the running
Cassandra (deno task db up) and compares, with the load of deno task load:
coalescing on vs off, jump vs round-robin routing, hot (20) vs cold (10,000) channels.

Options:
  --requests N        Requests per run (default 10000)
  --repeat N          Runs per scenario; the table shows medians (default 3)
  --warmup N          Unmeasured requests before each run (default 1000)
  --concurrency N     Most requests in flight (default: all at once)
  --hot-channels N    Channels of the hot runs (default 20)
  --cold-channels N   Channels of the cold run (default 10000)
  --protocol P        connect (default), connect-json, grpc, grpc-web
  --connections N     HTTP/2 connections per instance (default 4)
  --method M          message (default: GetMessage{c, c*1000}, like deno task load; cold
                      channels > 20 answer NOT_FOUND, still one query each), history
                      (GetMessages{c, limit 50}), compat (the original's getMessage)
  --timeout MS        Per-request deadline (default 60000)
  --out FILE          JSON results (default bench/results.json; "" to skip)
  --help
`;

function int(flag: string, v: string | undefined, def: number, min = 1): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < min) {
    throw new FlagError(`--${flag} must be an integer >= ${min}, got "${v}"`);
  }
  return n;
}

/** Parses the bench's flags. @throws {FlagError} on bad flags (exit code 2). */
export function parseBenchArgs(args: readonly string[]): BenchOptions & { help: boolean } {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...args],
      strict: true,
      allowPositionals: false,
      options: {
        requests: { type: "string" },
        repeat: { type: "string" },
        warmup: { type: "string" },
        concurrency: { type: "string" },
        "hot-channels": { type: "string" },
        "cold-channels": { type: "string" },
        protocol: { type: "string" },
        connections: { type: "string" },
        method: { type: "string" },
        timeout: { type: "string" },
        out: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (err) {
    throw new FlagError((err as Error).message);
  }
  const protocol = values.protocol ?? "connect";
  if (!(PROTOCOLS as readonly string[]).includes(protocol)) {
    throw new FlagError(`--protocol must be one of ${PROTOCOLS.join(", ")}, got "${protocol}"`);
  }
  const method = values.method ?? "message";
  if (!(METHODS as readonly string[]).includes(method)) {
    throw new FlagError(`--method must be one of ${METHODS.join(", ")}, got "${method}"`);
  }
  return {
    help: values.help === true,
    method: method as LoadMethod,
    requests: int("requests", values.requests, 10_000),
    repeat: int("repeat", values.repeat, 3),
    warmup: int("warmup", values.warmup, 1000, 0),
    concurrency: values.concurrency === undefined
      ? undefined
      : int("concurrency", values.concurrency, 1),
    hotChannels: int("hot-channels", values["hot-channels"], 20),
    coldChannels: int("cold-channels", values["cold-channels"], 10_000),
    protocol: protocol as LoadProtocol,
    connections: int("connections", values.connections, 4),
    timeoutMs: int("timeout", values.timeout, 60_000),
    out: values.out ?? "bench/results.json",
  };
}

/** Waits until a child answers /readyz (or exits, or `timeoutMs` passes). */
async function waitReady(child: ChildService, timeoutMs = 60_000): Promise<string> {
  const url = await child.listening;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await fetch(`${url}/readyz`).then(async (r) => {
      await r.body?.cancel();
      return r.ok;
    }, () => false);
    if (ok) return new URL(url).host;
    if (Date.now() > deadline) throw new Error(`${child.name} is not ready after ${timeoutMs} ms`);
    const exited = await Promise.race([
      child.exited.then(() => true),
      new Promise<false>((r) => setTimeout(() => r(false), 250)),
    ]);
    if (exited) {
      throw new Error(
        `${child.name} exited while starting:\n  ${child.tail().slice(-15).join("\n  ")}`,
      );
    }
  }
}

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
  readonly targets: {
    readonly queriesPerRequest: {
      readonly value: number;
      readonly target: 0.004;
      readonly met: boolean;
    };
    readonly jumpVsRoundRobinQueries: {
      readonly value: number | null;
      readonly target: 0.55;
      readonly met: boolean;
    };
  };
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
  const cassandra = [
    "--cassandra-contact-points",
    info.contactPoints.join(","),
    "--cassandra-local-dc",
    info.localDataCenter,
  ];
  const base = 900 + Math.floor(Math.random() * 100);
  const children: ChildService[] = [];
  const stopAll = () => Promise.all(children.map((c) => c.stop(5000)));
  const onSigint = () => {
    stopAll().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSigint);
  try {
    const spawn = (name: string, i: number, extra: string[]) => {
      const child = spawnService(name, "server/main.ts", [
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--worker-id",
        String(base + i),
        ...cassandra,
        ...extra,
      ]);
      children.push(child);
      return child;
    };
    log(`starting 4 instances against Cassandra at ${info.contactPoints.join(",")} ...`);
    const on = [spawn("on-1", 0, []), spawn("on-2", 1, [])];
    const off = [spawn("off-1", 2, ["--no-coalesce"]), spawn("off-2", 3, ["--no-coalesce"])];
    const pairs = {
      on: await Promise.all(on.map((c) => waitReady(c))),
      off: await Promise.all(off.map((c) => waitReady(c))),
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
        const figures = figuresOf(report);
        runs.push({ scenario: s.name, repeat: rep, figures });
        log(
          `run ${rep}/${o.repeat} ${s.name.padEnd(11)}: ${figures.queries} queries, ` +
            `${figures.queriesPerRequest.toFixed(4)} q/req, ${
              figures.requestsPerSecond.toFixed(0)
            } req/s, ` +
            `p99 ${figures.p99Ms.toFixed(0)} ms, ${figures.errors} errors`,
        );
      }
    }
    const medians = Object.fromEntries(
      SCENARIOS.map((
        s,
      ) => [
        s.name,
        medianFigures(runs.filter((r) => r.scenario === s.name).map((r) => r.figures)),
      ]),
    ) as Record<ScenarioName, RunFigures>;
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
      targets: {
        queriesPerRequest: {
          value: medians.on.queriesPerRequest,
          target: 0.004,
          met: medians.on.queriesPerRequest <= 0.004,
        },
        jumpVsRoundRobinQueries: {
          value: r.jumpVsRoundRobinQueries,
          target: 0.55,
          met: r.jumpVsRoundRobinQueries !== null && r.jumpVsRoundRobinQueries <= 0.55,
        },
      },
      runs,
      elapsedMs: performance.now() - began,
    };
  } finally {
    Deno.removeSignalListener("SIGINT", onSigint);
    await stopAll();
  }
}

/** The command line; returns the exit code. */
export async function main(args: readonly string[]): Promise<number> {
  let o;
  try {
    o = parseBenchArgs(args);
  } catch (err) {
    if (!(err instanceof FlagError)) throw err;
    console.error(`error: ${err.message}\nRun with --help for the list of options.`);
    return 2;
  }
  if (o.help) {
    console.log(HELP);
    return 0;
  }
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
