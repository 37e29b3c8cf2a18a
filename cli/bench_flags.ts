/**
 * Flags of `deno task bench:coalesce` (parsed by `lib/flags.ts`) and the
 * options they make.
 *
 * @module
 */
import { defineCommand, helpText, parseCommand } from "../lib/flags.ts";
import { type LoadMethod, type LoadProtocol, METHODS, PROTOCOLS } from "./load_flags.ts";

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

/** The command `deno task bench:coalesce`. */
export const BENCH = defineCommand({
  name: "bench:coalesce",
  summary: `Starts two data-service pairs (coalescing on and --no-coalesce) against the running
Cassandra (deno task db up) and compares, with the load of deno task load:
coalescing on vs off, jump vs round-robin routing, hot (20) vs cold (10,000) channels.`,
  flags: [
    { name: "requests", type: "int", min: 1, default: 10_000, help: "Requests per run" },
    {
      name: "repeat",
      type: "int",
      min: 1,
      default: 3,
      help: "Runs per scenario; the table shows medians",
    },
    {
      name: "warmup",
      type: "int",
      min: 0,
      default: 1000,
      help: "Unmeasured requests before each run",
    },
    {
      name: "concurrency",
      type: "int",
      min: 1,
      help: "Most requests in flight",
      defaultHelp: "all at once",
    },
    { name: "hot-channels", type: "int", min: 1, default: 20, help: "Channels of the hot runs" },
    {
      name: "cold-channels",
      type: "int",
      min: 1,
      default: 10_000,
      help: "Channels of the cold run",
    },
    {
      name: "protocol",
      type: "enum",
      choices: PROTOCOLS,
      default: "connect",
      arg: "P",
      help: "connect, connect-json, grpc, grpc-web",
    },
    {
      name: "connections",
      type: "int",
      min: 1,
      default: 4,
      help: "HTTP/2 connections per instance",
    },
    {
      name: "method",
      type: "enum",
      choices: METHODS,
      default: "message",
      arg: "M",
      help: "message: GetMessage{c, c*1000}, like deno task load; cold\n" +
        "channels > 20 answer NOT_FOUND, still one query each; history\n" +
        "(GetMessages{c, limit 50}); compat (the original's getMessage)",
    },
    {
      name: "timeout",
      type: "duration",
      bare: "ms",
      min: 1,
      default: 60_000,
      help: "Per-request deadline",
    },
    {
      name: "out",
      type: "string",
      arg: "FILE",
      default: "bench/results.json",
      help: 'JSON results ("" to skip)',
    },
  ],
});

/** The --help text. */
export const BENCH_HELP: string = helpText(BENCH);

/**
 * Parses the bench's flags.
 *
 * @throws {import("../lib/flags.ts").FlagError} on bad flags (exit code 2).
 */
export function parseBenchArgs(args: readonly string[]): BenchOptions & { help: boolean } {
  const parsed = parseCommand(BENCH, args, () => undefined);
  if (parsed.help) return { ...parseBenchArgs([]), help: true };
  const v = parsed.values;
  return {
    help: false,
    method: v.method,
    requests: v.requests,
    repeat: v.repeat,
    warmup: v.warmup,
    concurrency: v.concurrency,
    hotChannels: v["hot-channels"],
    coldChannels: v["cold-channels"],
    protocol: v.protocol,
    connections: v.connections,
    timeoutMs: v.timeout,
    out: v.out,
  };
}
