/**
 * Flags of `deno task bench:commitlog`: the flag table (parsed by
 * `lib/flags.ts`) and the options they make.
 *
 * @module
 */
import { defineCommand, FlagError, parseCommand } from "../lib/flags.ts";
import { checkIpBase, ownClusterFlags } from "./own_cluster_flags.ts";
import { MAX_NODES, REPO_ROOT } from "./settings.ts";
import { COMMITLOG_SYNC_MODES, type CommitlogSync } from "./templates.ts";

/** What the bench runs. */
export interface CommitlogBenchOptions {
  /** Nodes of the bench's cluster. Default 3. */
  readonly nodes: number;
  /** Writes measured per mode and concurrency. Default 3000. */
  readonly writes: number;
  /** Writes in flight, one measurement each. Default 1, 16, 128. */
  readonly concurrencies: readonly number[];
  /** `commitlog_sync` modes, in order. Default periodic, batch, group. */
  readonly modes: readonly CommitlogSync[];
  /** State directory of the bench's cluster. Default `<repo>/.cassandra-bench`. */
  readonly stateDir: string;
  /** Loopback prefix of its nodes. Default 127.0.2. */
  readonly ipBase: string;
  /** Where the JSON goes. Default `<repo>/bench/commitlog.json`. */
  readonly out: string;
  /** Leave the cluster running at the end. */
  readonly keep: boolean;
}

/** The command `deno task bench:commitlog`. */
export const COMMITLOG_BENCH = defineCommand({
  name: "bench:commitlog",
  summary: `What durable acknowledgements cost. For each commitlog_sync mode, restarts a cluster
of its own (its own state directory and loopback prefix, never the default one) with
that mode, writes rows of dataservices.messages through cassandra-driver at
LOCAL_QUORUM, closed loop, at each concurrency, and reports writes/s and p50/p99
latency per mode and concurrency. Writes the figures as JSON.`,
  flags: [
    {
      name: "nodes",
      type: "int",
      min: 1,
      max: MAX_NODES,
      default: 3,
      help: "Nodes of the bench's cluster",
    },
    {
      name: "writes",
      type: "int",
      min: 1,
      default: 3000,
      help: "Writes measured per mode and concurrency",
    },
    {
      name: "concurrency",
      type: "list",
      default: ["1", "16", "128"],
      help: "Writes in flight, comma-separated: one measurement each",
    },
    {
      name: "modes",
      type: "list",
      default: ["periodic", "batch", "group"],
      help: `commitlog_sync modes, comma-separated, in order (${COMMITLOG_SYNC_MODES.join(", ")})`,
    },
    ...ownClusterFlags(".cassandra-bench", "127.0.2"),
    {
      name: "out",
      type: "string",
      arg: "FILE",
      default: `${REPO_ROOT}/bench/commitlog.json`,
      defaultHelp: "<repo>/bench/commitlog.json",
      help: "JSON results",
    },
    { name: "keep", type: "bool", help: "Leave the bench's cluster running at the end" },
  ],
  epilogue: "Exit codes: 0 done, 1 the bench could not run, 2 bad flags.",
});

/**
 * Parses the flags.
 *
 * @throws {FlagError} (exit code 2) on an unknown flag or a bad value.
 */
export function parseCommitlogBenchArgs(
  args: readonly string[],
): CommitlogBenchOptions & { help: boolean } {
  const parsed = parseCommand(COMMITLOG_BENCH, args, () => undefined);
  if (parsed.help) return { ...parseCommitlogBenchArgs([]), help: true };
  const v = parsed.values;
  const concurrencies = v.concurrency.map(Number);
  const bad = v.concurrency.find((c, i) => !/^\d+$/.test(c) || !(concurrencies[i] >= 1));
  if (bad !== undefined || concurrencies.length === 0) {
    throw new FlagError(
      `--concurrency must be whole numbers >= 1, comma-separated, got "${bad ?? ""}"`,
    );
  }
  const mode = v.modes.find((m) => !COMMITLOG_SYNC_MODES.includes(m as CommitlogSync));
  if (mode !== undefined || v.modes.length === 0) {
    throw new FlagError(
      `--modes must be some of ${COMMITLOG_SYNC_MODES.join(", ")}, got "${mode ?? ""}"`,
    );
  }
  return {
    help: false,
    nodes: v.nodes,
    writes: v.writes,
    concurrencies,
    modes: v.modes as CommitlogSync[],
    stateDir: v["state-dir"],
    ipBase: checkIpBase(v["ip-base"]),
    out: v.out,
    keep: v.keep,
  };
}
