/**
 * Flags of `deno task conformance`: the flag table (parsed by
 * `lib/flags.ts`) and the checks of every name against the known
 * combinations, server stacks and client transports.
 *
 * @module
 */
import { defineCommand, FlagError, parseCommand } from "../lib/flags.ts";
import { type Combination, COMBINATIONS, label, type Mode } from "./combinations.ts";
import { SERVER_STACKS } from "./stacks.ts";
import { CLIENT_STACKS } from "./transports.ts";

/** What to run. */
export interface ConformanceOptions {
  /** Server mode before client mode. */
  readonly modes: readonly Mode[];
  /** Server mode: also every case over TLS (`--full`). */
  readonly full: boolean;
  readonly combinations: readonly Combination[];
  /** Server stacks (server mode). */
  readonly stacks: readonly string[];
  /** Client transports (client mode). */
  readonly transports: readonly string[];
  /** `--run` patterns, in the runner's syntax. */
  readonly run: readonly string[];
  readonly watchdogSeconds: number;
  readonly verbose: boolean;
}

/** The command `deno task conformance`. */
export const CONFORMANCE = defineCommand({
  name: "conformance",
  summary: `Runs the Connect conformance suite (connectconformance) against the project's server
stacks (server mode) and client transports (client mode): one runner invocation per
mode x protocol x HTTP version, each under a watchdog; prints a table and
N passed, N failed.`,
  flags: [
    {
      name: "mode",
      type: "enum",
      choices: ["server", "client", "both"],
      default: "both",
      help: "Which side to test",
    },
    {
      name: "full",
      type: "bool",
      help: "Server mode: every case also over TLS (default: cleartext\n" +
        "only; the client runs cleartext either way)",
    },
    {
      name: "only",
      type: "list",
      repeatable: true,
      default: [],
      defaultHelp: "all",
      help: `Combinations, e.g. connect/2,grpc-web/1.1; known:\n${
        COMBINATIONS.map(label).join(", ")
      }`,
    },
    {
      name: "stack",
      type: "list",
      default: ["main", "fast"],
      help: `Server stacks, comma-separated; known: ${Object.keys(SERVER_STACKS).join(", ")}`,
    },
    {
      name: "transport",
      type: "list",
      default: ["router", "lean"],
      help: `Client transports, comma-separated; known: ${Object.keys(CLIENT_STACKS).join(", ")}`,
    },
    {
      name: "run",
      type: "list",
      repeatable: true,
      split: false,
      default: [],
      defaultHelp: "",
      arg: "PATTERN",
      help: "Only test cases matching PATTERN (the runner's syntax)",
    },
    {
      name: "watchdog",
      type: "duration",
      bare: "s",
      above: 0,
      default: 240_000,
      help: "Kill an invocation after this long",
    },
    { name: "verbose", short: "v", type: "bool", help: "Stream the runner's verbose output" },
  ],
  epilogue: `Exit codes: 0 every case as expected, 1 an unexpected result (a failure, a known
failure that passed, a case the runner could not run, an invocation the watchdog
killed) or the suite could not run, 2 bad flags.`,
});

/**
 * Parses the command line: what to run, or `help: true` for `-h`/`--help`.
 *
 * @throws {FlagError} (exit code 2) for an unknown flag, mode, combination,
 *   stack or transport, or a bad watchdog.
 */
export function parseConformanceArgs(
  argv: readonly string[],
): ConformanceOptions & { help: boolean } {
  const parsed = parseCommand(CONFORMANCE, argv, () => undefined);
  if (parsed.help) return { ...parseConformanceArgs([]), help: true };
  const v = parsed.values;
  const modes: Mode[] = v.mode === "both" ? ["server", "client"] : [v.mode];
  const only = v.only.map((s) => s.replace(/\/1$/, "/1.1"));
  const unknown = only.filter((s) => !COMBINATIONS.some((c) => label(c) === s));
  if (unknown.length > 0) {
    throw new FlagError(
      `unknown --only ${unknown.join(", ")}; known: ${COMBINATIONS.map(label).join(", ")}`,
    );
  }
  const combinations = only.length
    ? COMBINATIONS.filter((c) => only.includes(label(c)))
    : COMBINATIONS;
  for (const s of v.stack) {
    if (!(s in SERVER_STACKS)) {
      throw new FlagError(
        `unknown --stack ${s}; known: ${Object.keys(SERVER_STACKS).join(", ")}`,
      );
    }
  }
  for (const t of v.transport) {
    if (!(t in CLIENT_STACKS)) {
      throw new FlagError(
        `unknown --transport ${t}; known: ${Object.keys(CLIENT_STACKS).join(", ")}`,
      );
    }
  }
  return {
    help: false,
    modes,
    full: v.full,
    combinations,
    stacks: v.stack,
    transports: v.transport,
    run: v.run,
    watchdogSeconds: v.watchdog / 1000,
    verbose: v.verbose,
  };
}
