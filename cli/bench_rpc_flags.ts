/**
 * Flags of `deno task bench:rpc`: the options, `--help`, and the parser
 * (exit code 2 on a bad flag, see `main` in bench_rpc.ts).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { FlagError } from "./load_flags.ts";
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

/** The text of `--help`. */
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
export function profileableCases(): RpcCase[] {
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
