/**
 * `deno task db`: a local Apache Cassandra without Docker (see `cluster.ts`).
 *
 * ```sh
 * deno task db up [--nodes 1|3] [--timeout D]   # D: 90s, 2m; a bare number is seconds
 * deno task db status        # exit 0 if up, 3 if down
 * deno task db logs [NODE] [--lines N] [--nodes N] [--stdout]
 * deno task db down
 * deno task db clean         # down + delete node state (keeps the jars)
 * ```
 *
 * @module
 */
import {
  clean,
  clusterDir,
  contactPointLines,
  DbError,
  DEFAULT_TIMEOUT_MS,
  DEFAULT_VERSION,
  down,
  ensureUp,
  logs,
  MAX_NODES,
  settingsFromEnv,
  status,
} from "./cluster.ts";
import { defineCommand, FlagError, helpText, parseCommand, usageError } from "../lib/flags.ts";
import { seconds } from "./logs.ts";

/** The command `deno task db`: its commands, flags and help. */
export const DB = defineCommand({
  name: "db",
  usage: "deno task db <command> [options]",
  positionals: true,
  summary: `A real Apache Cassandra for development and tests. Uses docker compose when a
Docker engine answers, else runs Cassandra ${DEFAULT_VERSION} from Maven jars on JDK 17.

Commands:
  up [--nodes N] [--timeout D]  start (or reuse) a cluster of N nodes (1..${MAX_NODES}, default: the
                                running one, else 1) on 127.0.0.1..N (DB_IP_BASE), wait until ready,
                                apply the schema, print the contact points
  status                        nodes, pids, CQL ports; exit 0 if up, 3 if down
  logs [NODE] [--lines N]       last N (default 40) lines of NODE's system.log (default node 1)
       [--nodes N] [--stdout]   of the N-node cluster (default: running / last started);
                                --stdout: the JVM's stdout.log instead
  down                          stop the Cassandra processes started by up
  clean                         down, then delete the clusters' data (keeps the jars)`,
  flags: [
    { name: "nodes", short: "n", type: "int", min: 1, max: MAX_NODES, help: "cluster size" },
    {
      name: "timeout",
      short: "t",
      type: "duration",
      bare: "s",
      min: 1000,
      max: 3_600_000,
      default: DEFAULT_TIMEOUT_MS,
      help: "time each node may take to start",
    },
    { name: "lines", short: "l", type: "int", min: 1, max: 100_000, help: "lines for logs" },
    { name: "stdout", type: "bool", help: "logs: the JVM's stdout.log" },
  ],
  epilogue: `Environment:
  CASSANDRA_CONTACT_POINTS, CASSANDRA_LOCAL_DC  use your own Cassandra (up only checks it
                                                answers and applies the schema)
  CASSANDRA_VERSION (default ${DEFAULT_VERSION}), CASSANDRA_HEAP (-Xmx, default 1G for 1 node,
  768M for more), CASSANDRA_HEAP_MIN (-Xms, default 256M), CASSANDRA_JVM_OPTS, JAVA17_HOME,
  DB_STATE_DIR (default <repo>/.cassandra), DB_MODE (auto | java | docker)
  CASSANDRA_COMMITLOG_SYNC  batch (default: a write is acknowledged once its commit log
                            is on disk), group (synced every 15 ms), or periodic (synced
                            every 10 s: a killed node forgets up to 10 s of acknowledged writes)
  DB_IP_BASE                loopback prefix of the nodes (default 127.0.0: nodes on
                            127.0.0.1..N). A second cluster runs beside the first with
                            its own DB_STATE_DIR and DB_IP_BASE, e.g. 127.0.1

Exit codes: 0 ok, 1 failure, 2 usage error, 3 status: down.`,
});

/** Help text of `deno task db --help`. */
export const USAGE: string = helpText(DB);

/** A parsed command line. */
export type Command =
  | { command: "help" }
  | { command: "up"; nodes?: number; timeoutMs?: number }
  | { command: "down" }
  | { command: "clean" }
  | { command: "status" }
  | { command: "logs"; node: number; nodes?: number; lines: number; stdout: boolean };

const COMMANDS = ["up", "down", "clean", "status", "logs"] as const;

/** Parses the arguments of `db/main.ts`; throws {@link DbError} (exit code 2) on misuse. */
export function parseCli(args: string[]): Command {
  let parsed;
  try {
    parsed = parseCommand(DB, args);
  } catch (e) {
    if (!(e instanceof FlagError)) throw e;
    throw new DbError(e.message, 2);
  }
  if (parsed.help) return { command: "help" };
  const { values: v, positionals: [cmd, ...rest], given } = parsed;
  if (cmd === "help") return { command: "help" };
  const allowed: Record<typeof COMMANDS[number], string[]> = {
    up: ["nodes", "timeout"],
    down: [],
    clean: [],
    status: [],
    logs: ["nodes", "lines", "stdout"],
  };
  if (cmd === undefined) throw new DbError(`Missing command: one of ${COMMANDS.join(", ")}`, 2);
  if (!(cmd in allowed)) {
    throw new DbError(`Unknown command ${JSON.stringify(cmd)}: one of ${COMMANDS.join(", ")}`, 2);
  }
  const bad = [...given].filter((k) => !allowed[cmd as keyof typeof allowed].includes(k));
  if (bad.length) throw new DbError(`db ${cmd} takes no --${bad.join(", --")}`, 2);
  if (rest.length > (cmd === "logs" ? 1 : 0)) {
    throw new DbError(`Unexpected argument ${JSON.stringify(rest.at(-1))} for db ${cmd}`, 2);
  }
  const nodes = v.nodes;
  switch (cmd) {
    case "up":
      return { command: "up", nodes, timeoutMs: given.has("timeout") ? v.timeout : undefined };
    case "logs": {
      const node = rest[0] === undefined ? 1 : Number(rest[0].replace(/^node/, ""));
      if (!Number.isInteger(node) || node < 1 || node > MAX_NODES) {
        throw new DbError(`NODE must be 1..${MAX_NODES} (got ${JSON.stringify(rest[0])})`, 2);
      }
      if (nodes !== undefined && node > nodes) {
        throw new DbError(`node ${node} is not in a ${nodes}-node cluster`, 2);
      }
      return { command: "logs", node, nodes, lines: v.lines ?? 40, stdout: v.stdout };
    }
    default:
      return { command: cmd as "down" | "clean" | "status" };
  }
}

/** Runs one command; returns the exit code. Output: results on stdout, progress on stderr. */
export async function main(args: string[]): Promise<number> {
  const c = parseCli(args);
  if (c.command === "help") {
    console.log(USAGE);
    return 0;
  }
  switch (c.command) {
    case "up": {
      const s = settingsFromEnv(c.timeoutMs ? { timeoutMs: c.timeoutMs } : {});
      const r = await ensureUp(c.nodes, { settings: s });
      for (const line of contactPointLines(r)) console.log(line);
      s.log(`db: ${r.alreadyUp ? "already up" : "up"} in ${seconds(r.elapsedMs)}`);
      return 0;
    }
    case "down":
      await down();
      return 0;
    case "clean":
      await clean();
      return 0;
    case "status": {
      const s = settingsFromEnv();
      const r = await status(s);
      if (r.clusters.length === 0) console.log(`no cluster state in ${s.stateDir}`);
      for (const cl of r.clusters) {
        console.log(
          `cluster n${cl.nodes}: ${cl.nodes} node${cl.nodes > 1 ? "s" : ""}` +
            `${cl.version ? `, Cassandra ${cl.version}` : ""}, ${clusterDir(s, cl.nodes)}`,
        );
        for (const x of cl.states) {
          console.log(
            `  node${x.index}  ${x.ip.padEnd(10)} pid ${String(x.pid ?? "-").padEnd(8)} ` +
              `alive ${x.alive ? "yes" : "no "}  cql :9042 ${x.cql ? "yes" : "no"}`,
          );
        }
      }
      if (s.externalContactPoints) {
        console.log(
          `CASSANDRA_CONTACT_POINTS=${s.externalContactPoints.join(",")} is set: status is ` +
            "that of this Cassandra (CQL port answering), not of the clusters above",
        );
      }
      if (r.info) {
        if (r.info.source === "docker") console.log("docker compose Cassandra:");
        for (const line of contactPointLines(r.info)) console.log(line);
      }
      console.log(`status: ${r.up ? "up" : "down"}`);
      return r.up ? 0 : 3;
    }
    case "logs": {
      const s = settingsFromEnv();
      const { path, lines } = await logs(s, c);
      s.log(`==> ${path} <==`);
      for (const line of lines) console.log(line);
      return 0;
    }
  }
}

if (import.meta.main) {
  let code: number;
  try {
    code = await main(Deno.args);
  } catch (e) {
    if (e instanceof DbError && e.exitCode === 2) {
      // A usage error: the one line and hint of every command.
      code = usageError(DB, new FlagError(e.message));
    } else if (e instanceof DbError) {
      console.error(`db: ${e.message}`);
      code = e.exitCode;
    } else {
      console.error("db: unexpected error:", e);
      code = 1;
    }
  }
  Deno.exit(code);
}
