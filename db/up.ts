/**
 * `db up`: make sure a Cassandra answers and has the schema, starting one
 * (compose, or JVMs from the jars) when none of ours runs.
 *
 * @module
 */
import { applySchema } from "./schema.ts";
import { type ClusterInfo, externalClusterInfo, javaClusterInfo } from "./cluster_info.ts";
import { composeUp, dockerAnswers } from "./compose.ts";
import { ensureJars, findJava } from "./jars.ts";
import { prepareNode, spawnNode, waitCluster, waitNode } from "./jvm.ts";
import { withLock } from "./lock.ts";
import { seconds } from "./logs.ts";
import {
  type CqlProbe,
  describeCqlError,
  listenerOf,
  portFree,
  probeCql,
  withClient,
} from "./probes.ts";
import {
  CQL_PORT,
  DbError,
  heapFor,
  MAX_NODES,
  type Settings,
  settingsFromEnv,
  STORAGE_PORT,
} from "./settings.ts";
import { clusterDir, nodeDir, type NodeState, nodeStates, runningSizes } from "./state.ts";
import { DEFAULT_IP_BASE, nodeIp } from "./templates.ts";
import { exists, readText } from "./files.ts";

/** Result of {@link ensureUp}. */
export interface UpResult extends ClusterInfo {
  /** True when nothing had to be started. */
  alreadyUp: boolean;
  /** Time `ensureUp` took. */
  elapsedMs: number;
}

/** Options of {@link ensureUp}. */
export interface EnsureUpOptions {
  /** Settings (default {@link settingsFromEnv}). */
  settings?: Settings;
}

async function applySchemaTo(s: Settings, info: ClusterInfo, hostsUp: number): Promise<void> {
  const rf = Math.min(3, Math.max(1, hostsUp));
  const t0 = Date.now();
  const applied = await withClient(info, (c) => applySchema(c, { replicationFactor: rf }), 10_000);
  s.log(
    applied.length
      ? `db: schema migrations applied: ${applied.join(", ")} (RF ${rf}, ${
        seconds(Date.now() - t0)
      })`
      : "db: schema up to date",
  );
}

/**
 * Makes sure a Cassandra is up and has the schema, and says where it is.
 *
 * - `CASSANDRA_CONTACT_POINTS` set and answering: nothing to start.
 * - A cluster of ours already up (all pids alive, CQL answers): nothing to start.
 *   `nodes` undefined accepts whatever size runs (1 if none); a running cluster
 *   of another size than an explicit `nodes` is an error (`db down` first).
 * - Docker engine answering (mode auto/docker): `docker compose up --wait`.
 * - Else starts the missing JVMs, node1 first, one after the other, and waits
 *   for readiness (see {@link waitCluster}).
 *
 * Then applies `db/schema.ts` with replication factor `min(3, nodes)`.
 * Throws {@link DbError} with the nodes' log tails on failure.
 */
export async function ensureUp(nodes?: number, options: EnsureUpOptions = {}): Promise<UpResult> {
  const s = options.settings ?? settingsFromEnv();
  const t0 = Date.now();
  if (nodes !== undefined && (!Number.isInteger(nodes) || nodes < 1 || nodes > MAX_NODES)) {
    throw new DbError(`--nodes must be 1..${MAX_NODES} (got ${nodes})`, 2);
  }
  const done = (info: ClusterInfo, alreadyUp: boolean): UpResult => ({
    ...info,
    alreadyUp,
    elapsedMs: Date.now() - t0,
  });

  const external = externalClusterInfo(s);
  if (external) {
    const answering = await useExternal(s, external);
    if (answering) return done(answering, true);
    nodes ??= external.nodes;
  }

  return await withLock(s, async () => {
    const useDocker = s.mode === "docker" || (s.mode === "auto" && await dockerAnswers());
    if (useDocker) {
      const info = await composeUp(s, nodes ?? 1);
      const probe = await probeCql(info);
      await applySchemaTo(s, info, probe.up);
      return done(info, false);
    }
    const { info, alreadyUp } = await upJava(s, nodes);
    return done(info, alreadyUp);
  });
}

/**
 * `CASSANDRA_CONTACT_POINTS` is set: the cluster there if it answers (schema
 * applied), undefined if it does not but names our own addresses (then `up`
 * starts ours), else a {@link DbError}.
 */
async function useExternal(s: Settings, info: ClusterInfo): Promise<ClusterInfo | undefined> {
  const points = info.contactPoints;
  let probe: CqlProbe;
  try {
    probe = await probeCql(info);
  } catch (e) {
    const ours = points.length <= MAX_NODES &&
      points.every((p, i) => p === nodeIp(i + 1, s.ipBase));
    if (ours) return undefined;
    throw new DbError(
      `CASSANDRA_CONTACT_POINTS=${points.join(",")} is set but CQL does not answer there ` +
        `(${describeCqlError(e)}). Unset it to let db up start a local Cassandra.`,
    );
  }
  s.log(`db: using CASSANDRA_CONTACT_POINTS (hosts up: ${probe.up}, Cassandra ${probe.version})`);
  await applySchemaTo(s, info, probe.up);
  return { ...info, nodes: probe.up };
}

/** Starts (or reuses) our JVM cluster; the caller holds the lock. */
async function upJava(
  s: Settings,
  nodes: number | undefined,
): Promise<{ info: ClusterInfo; alreadyUp: boolean }> {
  const running = await runningSizes(s);
  const other = running.find((m) => m !== (nodes ?? running[0]));
  if (other !== undefined || running.length > 1) {
    throw new DbError(
      `A ${running.join(" and a ")}-node cluster of ours is running (${s.stateDir}/n${
        running.join(", n")
      }); stop it first with: deno task db down`,
    );
  }
  const n = nodes ?? running[0] ?? 1;
  await checkIpBase(s, n);
  const info = javaClusterInfo(s, n);
  const states = await nodeStates(s, n);

  if (states.every((x) => x.alive)) {
    try {
      const p = await probeCql(info);
      if (p.up === n && p.peers === n - 1) {
        s.log(
          `db: already up (${n} node${n > 1 ? "s" : ""}, Cassandra ${p.version}): nothing to start`,
        );
        await applySchemaTo(s, info, n);
        return { info, alreadyUp: true };
      }
    } catch {
      // alive but not answering yet: wait below
    }
  }

  const toStart = states.filter((x) => !x.alive);
  const launch = toStart.length ? await prepareLaunch(s, n, toStart) : { java: "", jars: [] };
  for (const x of states) {
    const tn = Date.now();
    if (x.alive) {
      await waitNode(s, x, x.pid!, tn);
      continue;
    }
    await prepareNode(s, n, x);
    const pid = await spawnNode(s, launch.java, launch.jars, n, x);
    s.log(`db: node${x.index} ${x.ip} pid ${pid} starting...`);
    await waitNode(s, x, pid, tn);
    s.log(`db: node${x.index} ${x.ip} serving CQL after ${seconds(Date.now() - tn)}`);
  }
  const tc = Date.now();
  const probe = await waitCluster(s, n, tc);
  s.log(
    `db: cluster ready: ${probe.up}/${n} hosts up, ${probe.peers} peers, Cassandra ` +
      `${probe.version} (${seconds(Date.now() - tc)})`,
  );
  await applySchemaTo(s, info, n);
  return { info, alreadyUp: toStart.length === 0 };
}

/** A cluster keeps the addresses it was created on (its peers and tokens are stored by address). */
async function checkIpBase(s: Settings, n: number): Promise<void> {
  const meta = await readText(`${clusterDir(s, n)}/cluster.json`);
  const recorded = (JSON.parse(meta ?? "{}") as { ipBase?: string }).ipBase ?? DEFAULT_IP_BASE;
  if (recorded !== s.ipBase && await exists(`${nodeDir(s, n, 1)}/data`)) {
    throw new DbError(
      `The ${n}-node cluster in ${clusterDir(s, n)} was created on ${recorded}.1..${n}, not ` +
        `${s.ipBase}.1..${n}: set DB_IP_BASE=${recorded}, or wipe it with: deno task db clean`,
      2,
    );
  }
}

/** Checks the ports of the nodes to start, finds java and the jars, records the cluster. */
async function prepareLaunch(
  s: Settings,
  n: number,
  toStart: NodeState[],
): Promise<{ java: string; jars: string[] }> {
  for (const x of toStart) {
    for (const port of [CQL_PORT, STORAGE_PORT]) {
      if (!portFree(x.ip, port)) {
        throw new DbError(
          `Port ${x.ip}:${port} is in use by a process that is not node${x.index} of our ` +
            `${n}-node cluster (${s.stateDir}); stop it, or point CASSANDRA_CONTACT_POINTS ` +
            `at it if it is a Cassandra.${await listenerOf(x.ip, port)}`,
        );
      }
    }
  }
  const java = await findJava(s);
  const jars = await ensureJars(s);
  const h = heapFor(s, n);
  s.log(
    `db: starting ${n}-node Cassandra ${s.version} on JDK 17 (heap ${h.heapMin}..${h.heap} ` +
      `per node, commitlog_sync ${s.commitlogSync}, state ${clusterDir(s, n)})`,
  );
  await Deno.mkdir(clusterDir(s, n), { recursive: true });
  await Deno.writeTextFile(
    `${clusterDir(s, n)}/cluster.json`,
    JSON.stringify({
      nodes: n,
      version: s.version,
      ...h,
      ipBase: s.ipBase,
      commitlogSync: s.commitlogSync,
      startedAt: new Date(),
    }) + "\n",
  );
  return { java, jars };
}
