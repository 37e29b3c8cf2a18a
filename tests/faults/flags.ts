/**
 * Flags of `deno task test:faults`: the flag table (parsed by
 * `lib/flags.ts`), the check of `--only` against the experiments, and the
 * options they make.
 *
 * @module
 */
import { REPO_ROOT } from "../../db/cluster.ts";
import { checkIpBase, ownClusterFlags } from "../../db/own_cluster_flags.ts";
import { defineCommand, FlagError, parseCommand } from "../../lib/flags.ts";
import { EXPERIMENTS } from "./experiments/mod.ts";

/** What the suite runs. */
export interface FaultSuiteOptions {
  /** The CI size (config.ts `REDUCED`). */
  readonly reduced: boolean;
  /** Only these experiments (by name); undefined: every one. */
  readonly only?: readonly string[];
  /** JSON output. Default `<repo>/bench/faults.json`. */
  readonly out: string;
  /** State directory of the fault cluster. Default `<repo>/.cassandra-faults`. */
  readonly stateDir: string;
  /** Loopback prefix of its nodes. Default 127.0.1. */
  readonly ipBase: string;
  /** First port of the instances and the gateway; 0: free ports. */
  readonly basePort: number;
  /** Leave the fault cluster running at the end. */
  readonly keepCluster: boolean;
  /** Exit 0 even when checks failed. */
  readonly allowFailures: boolean;
}

/** The command `deno task test:faults`. */
export const FAULTS = defineCommand({
  name: "test:faults",
  summary: `Fault injection on a 3-node Cassandra (RF 3, LOCAL_QUORUM) of its own, two data-service
instances and the gateway; prints a table and writes JSON. Experiments:
  ${EXPERIMENTS.map((e) => e.name).join(", ")}`,
  flags: [
    {
      name: "reduced",
      type: "bool",
      help: "The CI size: shorter faults, 10k reads / 2k writes overloads",
    },
    {
      name: "only",
      type: "list",
      help: "Run only these experiments (comma-separated names)",
      defaultHelp: "every one",
    },
    {
      name: "out",
      type: "string",
      arg: "FILE",
      default: `${REPO_ROOT}/bench/faults.json`,
      defaultHelp: "<repo>/bench/faults.json",
      help: "JSON output",
    },
    ...ownClusterFlags(".cassandra-faults", "127.0.1"),
    {
      name: "base-port",
      type: "int",
      min: 0,
      max: 65533,
      default: 0,
      arg: "P",
      help: "Ports P, P+1 (instances) and P+2 (gateway); 0 = free ports",
    },
    {
      name: "keep-cluster",
      type: "bool",
      help: "Leave the fault cluster running at the end (default: stop it\n" +
        "when this run started it)",
    },
    {
      name: "allow-failures",
      type: "bool",
      help: "Exit 0 even when checks failed (not when an experiment could not run)",
    },
  ],
  epilogue: `Exit codes: 0 every check passed, 1 a check failed or an experiment could not run,
2 bad flags.`,
});

/**
 * Parses the flags.
 *
 * @throws {FlagError} (exit code 2) on an unknown flag or experiment, or a bad value.
 */
export function parseFaultArgs(args: readonly string[]): FaultSuiteOptions & { help: boolean } {
  const parsed = parseCommand(FAULTS, args, () => undefined);
  if (parsed.help) return { ...parseFaultArgs([]), help: true };
  const v = parsed.values;
  const unknown = v.only?.filter((n) => !EXPERIMENTS.some((e) => e.name === n)) ?? [];
  if (unknown.length) {
    throw new FlagError(
      `--only: unknown experiment ${unknown.join(", ")}; known: ${
        EXPERIMENTS.map((e) => e.name).join(", ")
      }`,
    );
  }
  return {
    help: false,
    reduced: v.reduced,
    only: v.only,
    out: v.out,
    stateDir: v["state-dir"],
    ipBase: checkIpBase(v["ip-base"]),
    basePort: v["base-port"],
    keepCluster: v["keep-cluster"],
    allowFailures: v["allow-failures"],
  };
}
