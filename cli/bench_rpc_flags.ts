/**
 * Flags of `deno task bench:rpc`: the flag table (parsed by `lib/flags.ts`),
 * the check of `--cpu-prof` against the known cases, and the options they make.
 *
 * @module
 */
import { defineCommand, FlagError, parseCommand } from "../lib/flags.ts";
import { planCases, type RpcCase } from "./bench_rpc_cases.ts";

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
  /** Measure the grpc-go floor (false with --no-floor). */
  readonly floor: boolean;
  /** Run the load CLI (false with --no-clients). */
  readonly clients: boolean;
  /** Runs again of a case whose server died inside the window. Default 2. */
  readonly retries: number;
}

/** The command `deno task bench:rpc`. */
export const BENCH_RPC = defineCommand({
  name: "bench:rpc",
  summary: `Server CPU per call and calls/s of GetMessage{1, 1000} (a hot key) for every protocol
and HTTP version, against the grpc-go floor (bench/floor); the original client's
5,000-stream shape (queries per request); the load CLI's client CPU per call; and
the headline: deno task load --channels 20 --requests 10000. Needs the running
Cassandra (deno task db up), h2load (apt-get install nghttp2-client), Go, GNU time.
Runs one instance pinned to CPU 0 and h2load on CPU 1: use a quiet machine.`,
  flags: [
    {
      name: "requests",
      type: "int",
      min: 10,
      default: 50_000,
      help: "Calls measured per case; each h2load run sends N/0.7:\n" +
        "the first 20% warm up, the window ends at 90%",
    },
    {
      name: "cases",
      type: "list",
      repeatable: true,
      default: [],
      help: "Only cases whose name contains one of these comma-separated\n" +
        "substrings (e.g. grpc/,/h1/); names: protocol/http/port, e.g.\n" +
        "connect-proto/h2c/main, grpc/h2c/floor, coalesce-5000-streams",
      defaultHelp: "every case",
    },
    {
      name: "out",
      type: "string",
      arg: "FILE",
      default: "bench/rpc.json",
      help: 'JSON results ("" to skip)',
    },
    {
      name: "cpu-prof",
      type: "string",
      arg: "CASE",
      help: "Also profile one case (exact name) on an instance started with\n" +
        "--cpu-prof; the .cpuprofile goes to artifacts/cpu-prof/",
    },
    { name: "no-floor", type: "bool", help: "Skip the grpc-go floor (no ratios)" },
    { name: "no-clients", type: "bool", help: "Skip the load CLI runs" },
    {
      name: "retries",
      type: "int",
      min: 0,
      default: 2,
      help: "Runs again of a case whose server died inside the window",
    },
  ],
  epilogue: `Exit codes: 0 every check passed, 1 a check failed or the bench could not run,
2 bad flags, 130 interrupted.`,
});

/** Every case name --cpu-prof may name. */
export function profileableCases(): RpcCase[] {
  return planCases({ floor: false, fastPort: true });
}

/**
 * Parses the flags.
 *
 * @throws {FlagError} (exit code 2) on an unknown flag, a bad value or a
 *   `--cpu-prof` that names no case.
 */
export function parseBenchRpcArgs(args: readonly string[]): BenchRpcOptions & { help: boolean } {
  const parsed = parseCommand(BENCH_RPC, args, () => undefined);
  if (parsed.help) return { ...parseBenchRpcArgs([]), help: true };
  const v = parsed.values;
  const cpuProf = v["cpu-prof"];
  if (cpuProf !== undefined && !profileableCases().some((c) => c.name === cpuProf)) {
    throw new FlagError(
      `--cpu-prof must name a case: ${
        profileableCases().map((c) => c.name).join(", ")
      }; got "${cpuProf}"`,
    );
  }
  return {
    help: false,
    requests: v.requests,
    cases: v.cases,
    out: v.out,
    cpuProf,
    floor: !v["no-floor"],
    clients: !v["no-clients"],
    retries: v.retries,
  };
}
