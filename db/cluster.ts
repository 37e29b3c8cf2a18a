/**
 * A real Apache Cassandra for development and tests, from one command and
 * without Docker: `deno task db up [--nodes 1|3]` (see `db/main.ts`). This
 * module is the launcher's public surface; each concept lives in its own room:
 *
 * | module            | concept                                                      |
 * | ----------------- | ------------------------------------------------------------ |
 * | `settings.ts`     | constants, {@link DbError}, {@link Settings} from the env     |
 * | `state.ts`        | state directory layout, our processes found in /proc          |
 * | `cluster_info.ts` | {@link ClusterInfo}: where a cluster is reached               |
 * | `probes.ts`       | CQL probe, TCP connect, port checks                           |
 * | `jars.ts`         | JDK 17 and the Maven jars (`db/pom.xml`)                      |
 * | `compose.ts`      | the Docker compose path                                       |
 * | `lock.ts`         | one `up`/`down`/`clean` at a time per state directory         |
 * | `jvm.ts`          | a node's JVM: configure, spawn, wait, signal                  |
 * | `up.ts`, `stop.ts`, `status.ts` | `up`; `down` and `clean`; `status` and `logs`   |
 * | `templates.ts`, `logs.ts`, `files.ts` | pure text: yaml, JVM flags, log parsing; file helpers |
 *
 * When a Docker engine answers, `up` delegates to `docker compose` (services
 * `cassandra-1..3` of `compose.yaml`). Otherwise it boots Cassandra 5.0.x from
 * its Maven Central jars on JDK 17:
 * - jars are fetched once with Maven (`db/pom.xml`) into
 *   `<state>/lib-<version>/` (a `.complete` marker is written after a full copy);
 * - each cluster size has its own state, `<state>/n1/node1`,
 *   `<state>/n3/node1..3`, nodes on 127.0.0.1, .2, .3 (ports 9042/7000 each),
 *   seed 127.0.0.1, one fixed token per node, no bootstrap;
 * - JVMs run detached (own session, output to `logs/stdout.log`), their pids
 *   are in `nodeN/cassandra.pid`; `down` only signals processes whose command
 *   line names CassandraDaemon and our state directory.
 *
 * Environment: `CASSANDRA_VERSION` (default 5.0.8), `CASSANDRA_HEAP` (-Xmx,
 * default 1G for one node, 768M each for more), `CASSANDRA_HEAP_MIN` (-Xms,
 * default 256M), `CASSANDRA_JVM_OPTS` (extra JVM flags, space separated), `DB_STATE_DIR` (default
 * `<repo>/.cassandra`), `JAVA17_HOME`, `DB_MODE` (`auto` | `java` | `docker`),
 * and `CASSANDRA_CONTACT_POINTS` / `CASSANDRA_LOCAL_DC` to use a Cassandra of
 * your own (then `up` only checks that it answers and applies the schema).
 *
 * @module
 */
import { type ClusterInfo, externalClusterInfo, javaClusterInfo } from "./cluster_info.ts";
import { readComposeMarker } from "./compose.ts";
import { type Settings, settingsFromEnv } from "./settings.ts";
import { nodeStates, runningSizes } from "./state.ts";

export {
  DbError,
  DEFAULT_TIMEOUT_MS,
  DEFAULT_VERSION,
  LOCAL_DC,
  MAX_NODES,
  REPO_ROOT,
  type Settings,
  settingsFromEnv,
} from "./settings.ts";
export { clientOptions, type ClusterInfo, contactPointLines } from "./cluster_info.ts";
export { clusterDir, nodeDir, type NodeState, nodeStates } from "./state.ts";
export { portFree, tcpOpen } from "./probes.ts";
export { ensureUp, type EnsureUpOptions, type UpResult } from "./up.ts";
export { clean, down } from "./stop.ts";
export { logs, type LogsRequest, type NodeStatus, status, type StatusReport } from "./status.ts";

/**
 * Where to reach the Cassandra in use, without probing it:
 * `CASSANDRA_CONTACT_POINTS` if set, else the cluster of ours whose nodes
 * are all alive, else a compose cluster recorded by `up`, else undefined.
 */
export async function contactPoints(
  settings: Settings = settingsFromEnv(),
): Promise<ClusterInfo | undefined> {
  const s = settings;
  const external = externalClusterInfo(s);
  if (external) return external;
  for (const n of await runningSizes(s)) {
    const states = await nodeStates(s, n);
    if (states.every((x) => x.alive)) return javaClusterInfo(s, n);
  }
  return await readComposeMarker(s);
}
