/**
 * The JVM of one node: write its configuration, start it detached, wait for
 * it (and for the whole cluster) to serve, signal it.
 *
 * @module
 */
import { javaClusterInfo } from "./cluster_info.ts";
import { exists, readText, tailFile } from "./files.ts";
import { cqlListening, gossipView, peersNotUp, seconds, startupError } from "./logs.ts";
import { type CqlProbe, describeCqlError, probeCql, tcpOpen } from "./probes.ts";
import { CQL_PORT, DbError, heapFor, type Settings, STORAGE_PORT } from "./settings.ts";
import { isOurNode, type NodeState, nodeStates, procArgs, storageDirOf } from "./state.ts";
import {
  DEFAULT_IP_BASE,
  jvmArgs,
  LOGBACK_XML,
  nodeIp,
  renderCassandraYaml,
  tokensFor,
} from "./templates.ts";

/** Resolves after `ms` (the launcher polls logs and /proc). */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * The cluster name of an `n`-node cluster of ours. A cluster on another loopback
 * prefix gets its own name, so the two could never gossip with each other.
 */
export function clusterName(s: Settings, n: number): string {
  return s.ipBase === DEFAULT_IP_BASE ? `dataservices-n${n}` : `dataservices-n${n}-${s.ipBase}`;
}

/** Writes conf, creates directories, rotates old logs to `*.prev`. */
export async function prepareNode(s: Settings, n: number, node: NodeState): Promise<void> {
  const d = node.dir;
  for (const sub of ["conf/triggers", "data", "commitlog", "saved_caches", "hints", "cdc_raw"]) {
    await Deno.mkdir(`${d}/${sub}`, { recursive: true });
  }
  for (const sub of ["logs", "tmp"]) await Deno.mkdir(`${d}/${sub}`, { recursive: true });
  await Deno.writeTextFile(
    `${d}/conf/cassandra.yaml`,
    renderCassandraYaml({
      clusterName: clusterName(s, n),
      ip: node.ip,
      token: tokensFor(n)[node.index - 1],
      seeds: `${nodeIp(1, s.ipBase)}:${STORAGE_PORT}`,
      dir: d,
      nativePort: CQL_PORT,
      storagePort: STORAGE_PORT,
      commitlogSync: s.commitlogSync,
    }),
  );
  await Deno.writeTextFile(`${d}/conf/logback.xml`, LOGBACK_XML);
  for (const log of ["system.log", "stdout.log"]) {
    await Deno.rename(`${d}/logs/${log}`, `${d}/logs/${log}.prev`).catch(() => {});
  }
  for (const i of [1, 2, 3]) await Deno.remove(`${d}/logs/system.log.${i}`).catch(() => {});
}

/** Starts the JVM of `node` detached (own session), records and returns its pid. */
export async function spawnNode(
  s: Settings,
  java: string,
  jars: string[],
  n: number,
  node: NodeState,
): Promise<number> {
  const args = jvmArgs({ dir: node.dir, jars, ...heapFor(s, n), extra: s.jvmExtra });
  // The background job of a non-interactive sh is not a process group leader,
  // so setsid(1) calls setsid() and execs java in the same process: $! is java.
  const script = "log=$1; shift; if command -v setsid >/dev/null 2>&1; then " +
    'setsid "$@" >"$log" 2>&1 </dev/null & else nohup "$@" >"$log" 2>&1 </dev/null & fi; echo $!';
  const r = await new Deno.Command("sh", {
    args: ["-c", script, "sh", `${node.dir}/logs/stdout.log`, java, ...args],
    cwd: node.dir,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const pid = Number(new TextDecoder().decode(r.stdout).trim());
  if (r.code !== 0 || !Number.isInteger(pid) || pid <= 0) {
    throw new DbError(`Could not start node${node.index}: ${new TextDecoder().decode(r.stderr)}`);
  }
  await Deno.writeTextFile(`${node.dir}/cassandra.pid`, `${pid}\n`);
  await waitExec(pid, node.dir, java);
  return pid;
}

/** Options of {@link waitExec}. */
export interface WaitExecOptions {
  /** Default 30 s. */
  timeoutMs?: number;
  /** Reads a process's arguments (default: /proc; undefined when it is gone or a zombie). */
  readArgs?: (pid: number) => Promise<string[] | undefined>;
}

/**
 * Waits until `pid` runs `java` for node directory `dir`: `$!` is known as soon
 * as sh forked, and the process then execs setsid (or nohup), which execs java
 * with the same arguments; until then /proc shows sh's or setsid's command line
 * (on a busy machine for a while), and a read in the middle of an exec can see
 * none. Returns early if the process is gone (`waitNode` reports it); throws
 * after `timeoutMs`.
 */
export async function waitExec(
  pid: number,
  dir: string,
  java: string,
  options: WaitExecOptions = {},
): Promise<void> {
  const { timeoutMs = 30_000, readArgs = procArgs } = options;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const args = await readArgs(pid);
    if (args === undefined && !await exists(`/proc/${pid}`)) return;
    if (args?.[0] === java && storageDirOf(args) === dir) return;
    if (Date.now() > deadline) {
      throw new DbError(`pid ${pid} did not exec ${java} for ${dir} within ${seconds(timeoutMs)}`);
    }
    await sleep(10);
  }
}

/** The last lines of a node's stdout.log and system.log, for failure messages. */
export async function nodeLogTails(node: NodeState, lines = 40): Promise<string> {
  const parts: string[] = [];
  for (const log of ["stdout.log", "system.log"]) {
    const path = `${node.dir}/logs/${log}`;
    const t = await tailFile(path, lines);
    parts.push(`----- ${path} (last ${lines} lines) -----\n${t ? t.join("\n") : "(missing)"}`);
  }
  return parts.join("\n");
}

/** Sends `signal` to `pid`, ignoring "no such process". */
export function kill(pid: number, signal: Deno.Signal): void {
  try {
    Deno.kill(pid, signal);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}

/** Waits until node `node` is alive, logged CQL readiness and accepts TCP on 9042. */
export async function waitNode(
  s: Settings,
  node: NodeState,
  pid: number,
  t0: number,
): Promise<void> {
  const deadline = t0 + s.timeoutMs;
  const logPath = `${node.dir}/logs/system.log`;
  for (;;) {
    if (!await isOurNode(pid, node.dir)) {
      const why = startupError((await readText(`${node.dir}/logs/stdout.log`)) ?? "");
      throw new DbError(
        `node${node.index} (${node.ip}, pid ${pid}) exited during startup` +
          `${why ? `: ${why}` : ""}\n${await nodeLogTails(node)}`,
      );
    }
    if (cqlListening((await readText(logPath)) ?? "") && await tcpOpen(node.ip, CQL_PORT)) return;
    if (Date.now() > deadline) {
      const tails = await nodeLogTails(node);
      kill(pid, "SIGKILL");
      throw new DbError(
        `node${node.index} (${node.ip}, pid ${pid}) not serving CQL after ${
          seconds(s.timeoutMs)
        } (killed it; raise --timeout?)\n${tails}`,
      );
    }
    await sleep(250);
  }
}

/**
 * Waits until every node is alive, every node's log shows the others UP
 * (gossip), and the driver sees `n` hosts up and `n - 1` peers.
 */
export async function waitCluster(s: Settings, n: number, t0: number): Promise<CqlProbe> {
  const deadline = t0 + s.timeoutMs;
  const info = javaClusterInfo(s, n);
  let last = "";
  for (;;) {
    const states = await nodeStates(s, n);
    const dead = states.find((x) => !x.alive);
    if (dead) {
      throw new DbError(`node${dead.index} (${dead.ip}) died\n${await nodeLogTails(dead)}`);
    }
    const notUp: string[] = [];
    if (n > 1) {
      for (const x of states) {
        const view = gossipView((await readText(`${x.dir}/logs/system.log`)) ?? "");
        const others = states.filter((o) => o !== x).map((o) => o.ip);
        for (const ip of peersNotUp(view, others)) notUp.push(`${x.ip} does not see ${ip} UP`);
      }
    }
    if (notUp.length === 0) {
      try {
        const p = await probeCql(info);
        if (p.up === n && p.peers === n - 1) return p;
        last = `driver sees ${p.up}/${n} hosts up, ${p.peers} peers`;
      } catch (e) {
        last = `CQL: ${describeCqlError(e)}`;
      }
    } else {
      last = notUp.join("; ");
    }
    if (Date.now() > deadline) {
      const tails: string[] = [];
      for (const x of states) tails.push(await nodeLogTails(x, 15));
      throw new DbError(
        `cluster of ${n} not ready after ${seconds(s.timeoutMs)}: ${last}\n${tails.join("\n")}`,
      );
    }
    await sleep(1000);
  }
}
