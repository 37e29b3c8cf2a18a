/**
 * Flags of `deno task bench:hot` and the options they make.
 *
 * @module
 */
import { defineCommand, helpText, parseCommand } from "../lib/flags.ts";

/** The scenario's settings. */
export interface HotBenchOptions {
  /** Instances per configuration (protections on, off). Default 1. */
  readonly instances: number;
  /** Main port of the first instance (0: any free ports). */
  readonly basePort: number;
  /** Length of each configuration's run (ms). Default 8000. */
  readonly durationMs: number;
  /** Channels of the Zipf read load. Default 2000. */
  readonly channels: number;
  /** Zipf exponent of the read load. Default 1.1. */
  readonly zipfS: number;
  /** Reads per second of the Zipf load (open loop). Default 300. */
  readonly readRate: number;
  /** Identical reads of the storm channel per wave; three waves. Default 1500. */
  readonly storm: number;
  /** Writes per second to the write-storm channel (open loop, middle half of the run). Default 300. */
  readonly writeRate: number;
  /** Per-request deadline (ms). Default 2000. */
  readonly timeoutMs: number;
  /** The protected configuration's --channel-write-rate and --channel-write-burst. */
  readonly channelWriteRate: number;
  readonly channelWriteBurst: number;
  /** Where the JSON goes; "" to skip. Default bench/hot.json. */
  readonly out: string;
  /** Seed of the Zipf load. */
  readonly seed: number;
  /** Which configuration runs first (the second one meets a warmer Cassandra). */
  readonly first: "off" | "on";
}

/** The command `deno task bench:hot`. */
export const HOT_BENCH = defineCommand({
  name: "bench:hot",
  summary: `Hot partitions with the protections on and off, in one run, against the running
Cassandra (deno task db up): a Zipf read load over many channels, an
announcement storm (waves of identical reads of one channel) and a write storm
on another channel. Reports Cassandra queries, p99 of the normal channels,
errors by code, and what the hot-key view named hottest.`,
  flags: [
    {
      name: "instances",
      type: "int",
      min: 1,
      max: 8,
      default: 1,
      help: "Instances per configuration (routed by jump hash)",
    },
    {
      name: "base-port",
      type: "int",
      min: 0,
      max: 65000,
      default: 0,
      help: "Main port of the first instance; each instance takes two ports\n" +
        "(main, fast); 0 = any free ports",
    },
    {
      name: "duration",
      type: "duration",
      bare: "ms",
      min: 2000,
      max: 600_000,
      default: 8000,
      help: "Length of each configuration's run (the hot-key window is 10 s)",
    },
    { name: "channels", type: "int", min: 2, default: 2000, help: "Channels of the Zipf reads" },
    { name: "zipf", type: "number", above: 0, default: 1.1, help: "Zipf exponent of the reads" },
    {
      name: "read-rate",
      type: "int",
      min: 1,
      default: 300,
      help: "Zipf reads per second (open loop)",
    },
    {
      name: "storm",
      type: "int",
      min: 1,
      default: 1500,
      help: "Identical reads of the storm channel per wave (3 waves)",
    },
    {
      name: "write-rate",
      type: "int",
      min: 0,
      default: 300,
      help: "Writes per second to the write-storm channel (middle half of the run)",
    },
    {
      name: "timeout",
      type: "duration",
      bare: "ms",
      min: 1,
      default: 2000,
      help: "Per-request deadline",
    },
    {
      name: "channel-write-rate",
      type: "number",
      above: 0,
      default: 50,
      help: "--channel-write-rate of the protected instances",
    },
    {
      name: "channel-write-burst",
      type: "int",
      min: 1,
      default: 100,
      help: "--channel-write-burst of the protected instances",
    },
    { name: "seed", type: "int", min: 0, default: 42, help: "Seed of the Zipf load" },
    {
      name: "first",
      type: "enum",
      choices: ["off", "on"],
      default: "off",
      help: "Which configuration runs first (run both orders to see the order's effect)",
    },
    {
      name: "out",
      type: "string",
      arg: "FILE",
      default: "bench/hot.json",
      help: 'JSON results ("" to skip)',
    },
  ],
});

/** The --help text. */
export const HOT_BENCH_HELP: string = helpText(HOT_BENCH);

/**
 * Parses the flags.
 *
 * @throws {import("../lib/flags.ts").FlagError} on bad flags (exit code 2).
 */
export function parseHotBenchArgs(args: readonly string[]): HotBenchOptions & { help: boolean } {
  const parsed = parseCommand(HOT_BENCH, args, () => undefined);
  if (parsed.help) return { ...parseHotBenchArgs([]), help: true };
  const v = parsed.values;
  return {
    help: false,
    instances: v.instances,
    basePort: v["base-port"],
    durationMs: v.duration,
    channels: v.channels,
    zipfS: v.zipf,
    readRate: v["read-rate"],
    storm: v.storm,
    writeRate: v["write-rate"],
    timeoutMs: v.timeout,
    channelWriteRate: v["channel-write-rate"],
    channelWriteBurst: v["channel-write-burst"],
    seed: v.seed,
    first: v.first,
    out: v.out,
  };
}

/** The serve flags of the two configurations. */
export function configurationFlags(o: HotBenchOptions): Record<"on" | "off", string[]> {
  return {
    on: [
      "--query-limit",
      "adaptive",
      "--max-queue-wait-ms",
      "1000",
      "--channel-write-rate",
      String(o.channelWriteRate),
      "--channel-write-burst",
      String(o.channelWriteBurst),
    ],
    off: ["--query-limit", "fixed", "--max-queue-wait-ms", "0", "--channel-write-rate", "0"],
  };
}
