/**
 * Flags of `deno task conformance`: `--help` and the parser, which checks
 * every name against the known combinations, server stacks and client
 * transports. A bad flag throws an `Error` (run.ts prints it, exit code 2).
 *
 * @module
 */
import { parseArgs } from "node:util";
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

/** The text of `--help`. */
export const USAGE = `deno task conformance [options]

  --mode server|client|both   which side to test (default both)
  --full                      server mode: every case also over TLS (default: cleartext
                              only; the client runs cleartext either way)
  --only LIST                 combinations, e.g. connect/2,grpc-web/1.1 (default all:
                              ${COMBINATIONS.map(label).join(", ")})
  --stack LIST                server stacks, comma-separated (default main,fast; known:
                              ${Object.keys(SERVER_STACKS).join(", ")})
  --transport LIST            client transports, comma-separated (default router,lean; known:
                              ${Object.keys(CLIENT_STACKS).join(", ")})
  --run PATTERN               only test cases matching PATTERN (repeatable; the runner's syntax)
  --watchdog SECONDS          kill an invocation after this long (default 240)
  -v, --verbose               stream the runner's verbose output
`;

/**
 * Parses the command line: what to run, or `"help"` for `-h`/`--help`.
 *
 * @throws {Error} for an unknown flag, mode, combination, stack or transport, or a bad watchdog.
 */
export function parseConformanceArgs(argv: string[]): ConformanceOptions | "help" {
  const { values } = parseArgs({
    args: argv,
    options: {
      mode: { type: "string", default: "both" },
      full: { type: "boolean", default: false },
      only: { type: "string", multiple: true },
      stack: { type: "string", default: "main,fast" },
      transport: { type: "string", default: "router,lean" },
      run: { type: "string", multiple: true },
      watchdog: { type: "string", default: "240" },
      verbose: { type: "boolean", short: "v", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) return "help";
  const modes: Mode[] = values.mode === "both"
    ? ["server", "client"]
    : values.mode === "server" || values.mode === "client"
    ? [values.mode]
    : [];
  if (modes.length === 0) throw new Error(`--mode must be server, client or both\n\n${USAGE}`);
  const only = (values.only ?? []).flatMap((v) => v.split(",")).map((s) => s.trim()).filter(Boolean)
    .map((s) => s.replace(/\/1$/, "/1.1"));
  const unknown = only.filter((s) => !COMBINATIONS.some((c) => label(c) === s));
  if (unknown.length > 0) {
    throw new Error(
      `unknown --only ${unknown.join(", ")}; known: ${COMBINATIONS.map(label).join(", ")}`,
    );
  }
  const combinations = only.length
    ? COMBINATIONS.filter((c) => only.includes(label(c)))
    : COMBINATIONS;
  const stacks = values.stack!.split(",").map((s) => s.trim()).filter(Boolean);
  for (const s of stacks) if (!(s in SERVER_STACKS)) throw new Error(`unknown --stack ${s}`);
  const transports = values.transport!.split(",").map((s) => s.trim()).filter(Boolean);
  for (const t of transports) {
    if (!(t in CLIENT_STACKS)) throw new Error(`unknown --transport ${t}`);
  }
  const watchdogSeconds = Number(values.watchdog);
  if (!(watchdogSeconds > 0)) throw new Error("--watchdog must be > 0");
  return {
    modes,
    full: values.full!,
    combinations,
    stacks,
    transports,
    run: values.run ?? [],
    watchdogSeconds,
    verbose: values.verbose!,
  };
}
