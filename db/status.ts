/**
 * `db status` and `db logs`: what runs where, from the state directory, /proc
 * and the CQL ports (no driver, so it is fast), and a node's log tail.
 *
 * @module
 */
import { type ClusterInfo, externalClusterInfo, javaClusterInfo } from "./cluster_info.ts";
import { readComposeMarker } from "./compose.ts";
import { readText, tailFile } from "./files.ts";
import { splitHostPort } from "./logs.ts";
import { tcpOpen } from "./probes.ts";
import { CQL_PORT, DbError, type Settings, settingsFromEnv } from "./settings.ts";
import {
  clusterDir,
  knownSizes,
  nodeDir,
  type NodeState,
  nodeStates,
  runningSizes,
} from "./state.ts";

/** One node in {@link StatusReport}. */
export interface NodeStatus extends NodeState {
  /** Whether TCP `ip:9042` accepts connections. */
  cql: boolean;
}

/** What `db status` reports. */
export interface StatusReport {
  /** True if some cluster answers on every node. */
  up: boolean;
  /** Where to connect, when up. */
  info?: ClusterInfo;
  /** Our clusters that have state, with their nodes. */
  clusters: { nodes: number; version?: string; states: NodeStatus[] }[];
}

/** Inspects state directory, /proc and the CQL ports (no driver: fast). */
export async function status(settings: Settings = settingsFromEnv()): Promise<StatusReport> {
  const s = settings;
  const report: StatusReport = { up: false, clusters: [] };
  for (const n of await knownSizes(s)) {
    const states: NodeStatus[] = [];
    for (const x of await nodeStates(s, n)) {
      states.push({ ...x, cql: x.alive && await tcpOpen(x.ip, CQL_PORT) });
    }
    const meta = await readText(`${clusterDir(s, n)}/cluster.json`);
    const version = meta ? (JSON.parse(meta) as { version?: string }).version : undefined;
    report.clusters.push({ nodes: n, version, states });
    if (!s.externalContactPoints && !report.up && states.every((x) => x.alive && x.cql)) {
      report.up = true;
      report.info = javaClusterInfo(s, n);
    }
  }
  if (!report.up) {
    const other = externalClusterInfo(s) ?? await readComposeMarker(s);
    if (other) {
      const answers = await Promise.all(
        other.contactPoints.map((p) => {
          const { host, port } = splitHostPort(p);
          return tcpOpen(host, port);
        }),
      );
      if (answers.some((a) => a)) {
        report.up = true;
        report.info = other;
      }
    }
  }
  return report;
}

/** The cluster size `db logs` shows: the running one, else the most recently started. */
export async function defaultLogCluster(s: Settings): Promise<number | undefined> {
  const running = await runningSizes(s);
  if (running.length) return running[0];
  let best: { n: number; t: number } | undefined;
  for (const n of await knownSizes(s)) {
    const st = await Deno.stat(`${clusterDir(s, n)}/cluster.json`).catch(() => undefined);
    const t = st?.mtime?.getTime() ?? 0;
    if (!best || t > best.t) best = { n, t };
  }
  return best?.n;
}

/** What `db logs` asks for. */
export interface LogsRequest {
  /** 1-based node index. */
  node: number;
  /** Cluster size; default {@link defaultLogCluster}. */
  nodes?: number;
  /** Lines from the end. */
  lines: number;
  /** The JVM's stdout.log instead of system.log. */
  stdout: boolean;
}

/** The last lines of a node's log, and its path; {@link DbError} if there is none. */
export async function logs(
  s: Settings,
  req: LogsRequest,
): Promise<{ path: string; lines: string[] }> {
  const n = req.nodes ?? await defaultLogCluster(s);
  if (n === undefined) throw new DbError(`No cluster state in ${s.stateDir}; run: deno task db up`);
  if (req.node > n) throw new DbError(`node ${req.node} is not in the ${n}-node cluster`, 2);
  const path = `${nodeDir(s, n, req.node)}/logs/${req.stdout ? "stdout.log" : "system.log"}`;
  const lines = await tailFile(path, req.lines);
  if (lines === undefined) throw new DbError(`${path} does not exist`);
  return { path, lines };
}
