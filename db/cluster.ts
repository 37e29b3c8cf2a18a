/**
 * A real Apache Cassandra for development and tests, from one command and
 * without Docker: `deno task db up [--nodes 1|3]` (see `db/main.ts`).
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
import cassandra from "cassandra-driver";
import { fileURLToPath } from "node:url";
import { applySchema } from "./schema.ts";
import {
  cqlListening,
  gossipView,
  lastLines,
  parseContactPoints,
  parseJavaMajor,
  peersNotUp,
  seconds,
  splitHostPort,
  startupError,
} from "./logs.ts";
import {
  HEAP_SIZE,
  jvmArgs,
  LOGBACK_XML,
  MAIN_CLASS,
  nodeIp,
  renderCassandraYaml,
  tokensFor,
} from "./templates.ts";

/** Cassandra version used when `CASSANDRA_VERSION` is unset. */
export const DEFAULT_VERSION = "5.0.8";
/** SimpleSnitch's data center name. */
export const LOCAL_DC = "datacenter1";
/** Largest cluster the launcher starts (127.0.0.1 .. 127.0.0.3). */
export const MAX_NODES = 3;
/** CQL port of every node. */
export const CQL_PORT = 9042;
/** Internode (gossip) port of every node. */
export const STORAGE_PORT = 7000;
/** Default time a node may take to start, per node. */
export const DEFAULT_TIMEOUT_MS = 240_000;
/** Where Debian puts OpenJDK 17. */
export const DEFAULT_JAVA = "/usr/lib/jvm/java-17-openjdk-amd64/bin/java";
/** Docker compose services, node i is `cassandra-i`. */
export const COMPOSE_SERVICES = ["cassandra-1", "cassandra-2", "cassandra-3"] as const;

/** The repository root (resolved from this file, not from the cwd). */
export const REPO_ROOT: string = fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "");

/** A failure meant for the user: `main.ts` prints the message (no stack) and exits with `exitCode`. */
export class DbError extends Error {
  /** Process exit code. */
  exitCode: number;
  /**
   * A user-facing failure.
   * @param message what went wrong and what to do
   * @param exitCode process exit code, default 1
   */
  constructor(message: string, exitCode = 1) {
    super(message);
    this.name = "DbError";
    this.exitCode = exitCode;
  }
}

/** How the launcher runs; see {@link settingsFromEnv}. */
export interface Settings {
  /** Repository root (holds `compose.yaml`, `db/pom.xml`). */
  repoRoot: string;
  /** State directory (jars, node directories, pids). */
  stateDir: string;
  /** Cassandra version (Maven `cassandra-all` version). */
  version: string;
  /** -Xmx per node; undefined = 1G for one node, 768M each for more. */
  heap?: string;
  /** -Xms per node; undefined = 256M. */
  heapMin?: string;
  /** Extra JVM arguments. */
  jvmExtra: string[];
  /** JDK 17 home from `JAVA17_HOME`, or undefined for {@link DEFAULT_JAVA}. */
  java17Home?: string;
  /** `auto`: Docker compose if an engine answers, else JVMs; or force one. */
  mode: "auto" | "java" | "docker";
  /** Per-node start timeout. */
  timeoutMs: number;
  /** External Cassandra from `CASSANDRA_CONTACT_POINTS`, if set. */
  externalContactPoints?: string[];
  /** Local DC: `CASSANDRA_LOCAL_DC` or {@link LOCAL_DC}. */
  localDataCenter: string;
  /** Progress output (default: stderr). */
  log: (line: string) => void;
}

/** Reads {@link Settings} from the environment; `overrides` win. */
export function settingsFromEnv(overrides: Partial<Settings> = {}): Settings {
  const env = (k: string) => {
    const v = Deno.env.get(k)?.trim();
    return v === "" ? undefined : v;
  };
  const mode = env("DB_MODE") ?? "auto";
  if (mode !== "auto" && mode !== "java" && mode !== "docker") {
    throw new DbError(`DB_MODE must be auto, java or docker (got ${JSON.stringify(mode)})`, 2);
  }
  const cp = env("CASSANDRA_CONTACT_POINTS");
  const s: Settings = {
    repoRoot: REPO_ROOT,
    stateDir: env("DB_STATE_DIR") ?? `${REPO_ROOT}/.cassandra`,
    version: env("CASSANDRA_VERSION") ?? DEFAULT_VERSION,
    heap: env("CASSANDRA_HEAP"),
    heapMin: env("CASSANDRA_HEAP_MIN"),
    jvmExtra: (env("CASSANDRA_JVM_OPTS") ?? "").split(/\s+/).filter((a) => a !== ""),
    java17Home: env("JAVA17_HOME"),
    mode,
    timeoutMs: DEFAULT_TIMEOUT_MS,
    externalContactPoints: cp ? parseContactPoints(cp) : undefined,
    localDataCenter: env("CASSANDRA_LOCAL_DC") ?? LOCAL_DC,
    log: (line) => console.error(line),
    ...overrides,
  };
  if (!s.stateDir.startsWith("/")) s.stateDir = `${Deno.cwd()}/${s.stateDir}`;
  s.stateDir = s.stateDir.replace(/\/+$/, "");
  if (!/^[0-9A-Za-z][0-9A-Za-z._-]*$/.test(s.version)) {
    throw new DbError(`Invalid CASSANDRA_VERSION: ${JSON.stringify(s.version)}`, 2);
  }
  for (const h of [s.heap, s.heapMin]) {
    if (h !== undefined && !HEAP_SIZE.test(h)) {
      throw new DbError(`Invalid heap size ${JSON.stringify(h)} (e.g. 512M, 1G)`, 2);
    }
  }
  return s;
}

/** Where a running cluster is reached. */
export interface ClusterInfo {
  /** CQL contact points, e.g. `["127.0.0.1", "127.0.0.2", "127.0.0.3"]`. */
  contactPoints: string[];
  /** Local data center for the driver's load balancing. */
  localDataCenter: string;
  /** Number of nodes. */
  nodes: number;
  /** `java`: started by this launcher; `docker`: compose; `external`: `CASSANDRA_CONTACT_POINTS`. */
  source: "java" | "docker" | "external";
}

/** Result of {@link ensureUp}. */
export interface UpResult extends ClusterInfo {
  /** True when nothing had to be started. */
  alreadyUp: boolean;
  /** Time `ensureUp` took. */
  elapsedMs: number;
}

/** cassandra-driver options for a cluster (protocol v4: the Node driver's maximum). */
export function clientOptions(info: ClusterInfo): cassandra.ClientOptions {
  return {
    contactPoints: info.contactPoints,
    localDataCenter: info.localDataCenter,
    protocolOptions: { maxVersion: cassandra.types.protocolVersion.v4 },
  };
}

/** The `KEY=value` lines `db up` and `db status` print. */
export function contactPointLines(info: ClusterInfo): string[] {
  return [
    `CASSANDRA_CONTACT_POINTS=${info.contactPoints.join(",")}`,
    `CASSANDRA_LOCAL_DC=${info.localDataCenter}`,
  ];
}

// ---------------------------------------------------------------------------
// State layout and processes

/** `<state>/n<nodes>`: one directory per cluster size. */
export function clusterDir(s: Settings, nodes: number): string {
  return `${s.stateDir}/n${nodes}`;
}

/** `<state>/n<nodes>/node<i>`. */
export function nodeDir(s: Settings, nodes: number, i: number): string {
  return `${clusterDir(s, nodes)}/node${i}`;
}

/** The contact points of an `n`-node cluster of ours. */
export function localContactPoints(n: number): string[] {
  return Array.from({ length: n }, (_, i) => nodeIp(i + 1));
}

/** One node of ours as seen on disk and in /proc. */
export interface NodeState {
  /** 1-based index. */
  index: number;
  /** Address. */
  ip: string;
  /** Node directory. */
  dir: string;
  /** Recorded pid, if any. */
  pid?: number;
  /** Whether `pid` is a live CassandraDaemon of this node directory. */
  alive: boolean;
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** The arguments of a process, or undefined if it is gone or a zombie. */
async function procArgs(pid: number): Promise<string[] | undefined> {
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    // state is the field after "(comm)"; comm may contain spaces/parens
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    if (state === "Z" || state === "X") return undefined;
    const raw = await Deno.readTextFile(`/proc/${pid}/cmdline`);
    return raw.split("\0").filter((a) => a !== "");
  } catch {
    return undefined;
  }
}

/** The node directory a Cassandra command line of ours runs in, from `-Dcassandra.storagedir=`. */
export function storageDirOf(args: string[]): string | undefined {
  if (!args.includes(MAIN_CLASS)) return undefined;
  const a = args.find((x) => x.startsWith("-Dcassandra.storagedir="));
  return a?.slice("-Dcassandra.storagedir=".length);
}

/** Whether `pid` is a live CassandraDaemon started for node directory `dir`. */
export async function isOurNode(pid: number, dir: string): Promise<boolean> {
  const args = await procArgs(pid);
  return args !== undefined && storageDirOf(args) === dir;
}

/** Every live CassandraDaemon whose node directory is below our state directory. */
export async function ourProcesses(s: Settings): Promise<{ pid: number; dir: string }[]> {
  const found: { pid: number; dir: string }[] = [];
  for await (const e of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    const pid = Number(e.name);
    const args = await procArgs(pid);
    const dir = args && storageDirOf(args);
    if (dir && dir.startsWith(`${s.stateDir}/`)) found.push({ pid, dir });
  }
  return found;
}

/** Reads `<node>/cassandra.pid`. */
async function readPid(dir: string): Promise<number | undefined> {
  const t = (await readText(`${dir}/cassandra.pid`))?.trim();
  return t && /^\d+$/.test(t) ? Number(t) : undefined;
}

/** The state of each node of the `n`-node cluster. */
export async function nodeStates(s: Settings, n: number): Promise<NodeState[]> {
  const out: NodeState[] = [];
  for (let i = 1; i <= n; i++) {
    const dir = nodeDir(s, n, i);
    const pid = await readPid(dir);
    out.push({
      index: i,
      ip: nodeIp(i),
      dir,
      pid,
      alive: pid !== undefined && await isOurNode(pid, dir),
    });
  }
  return out;
}

/** Sizes of our clusters that have at least one live node, ascending. */
export async function runningSizes(s: Settings): Promise<number[]> {
  const sizes = new Set<number>();
  for (const p of await ourProcesses(s)) {
    const m = p.dir.slice(s.stateDir.length).match(/^\/n(\d+)\/node\d+$/);
    if (m) sizes.add(Number(m[1]));
  }
  return [...sizes].sort((a, b) => a - b);
}

/** Cluster sizes that have a state directory, ascending. */
async function knownSizes(s: Settings): Promise<number[]> {
  const sizes: number[] = [];
  try {
    for await (const e of Deno.readDir(s.stateDir)) {
      const m = e.isDirectory && e.name.match(/^n(\d+)$/);
      if (m) sizes.push(Number(m[1]));
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return sizes.sort((a, b) => a - b);
}

/**
 * Where to reach the Cassandra in use, without probing it:
 * `CASSANDRA_CONTACT_POINTS` if set, else the cluster of ours whose nodes
 * are all alive, else a compose cluster recorded by `up`, else undefined.
 */
export async function contactPoints(
  settings: Settings = settingsFromEnv(),
): Promise<ClusterInfo | undefined> {
  const s = settings;
  if (s.externalContactPoints) {
    return {
      contactPoints: s.externalContactPoints,
      localDataCenter: s.localDataCenter,
      nodes: s.externalContactPoints.length,
      source: "external",
    };
  }
  for (const n of await runningSizes(s)) {
    const states = await nodeStates(s, n);
    if (states.every((x) => x.alive)) {
      return {
        contactPoints: localContactPoints(n),
        localDataCenter: LOCAL_DC,
        nodes: n,
        source: "java",
      };
    }
  }
  const compose = await readComposeMarker(s);
  if (compose) return compose;
  return undefined;
}

// ---------------------------------------------------------------------------
// Probes

/** What a CQL probe saw. */
export interface CqlProbe {
  /** Hosts the driver considers up. */
  up: number;
  /** Rows of `system.peers` on the coordinator. */
  peers: number;
  /** `release_version` of the coordinator. */
  version: string;
}

/** Opens a driver client on `info`, runs `fn`, and always shuts the client down. */
export async function withClient<T>(
  info: ClusterInfo,
  fn: (client: cassandra.Client) => Promise<T>,
  connectTimeoutMs = 3000,
): Promise<T> {
  const client = new cassandra.Client({
    ...clientOptions(info),
    socketOptions: { connectTimeout: connectTimeoutMs, readTimeout: 15000 },
  });
  try {
    await client.connect();
    return await fn(client);
  } finally {
    await client.shutdown().catch(() => {});
  }
}

/** A one-line description of a driver error (NoHostAvailableError lists each host's error). */
export function describeCqlError(e: unknown): string {
  const err = e as { message?: string; innerErrors?: Record<string, { message?: string }> };
  if (err?.innerErrors && Object.keys(err.innerErrors).length) {
    return Object.entries(err.innerErrors)
      .map(([host, inner]) => `${host}: ${inner?.message ?? inner}`)
      .join("; ");
  }
  return String(err?.message ?? e).split("\n")[0];
}

/** Connects with cassandra-driver and counts hosts up and `system.peers` rows. */
export function probeCql(info: ClusterInfo): Promise<CqlProbe> {
  return withClient(info, async (client) => {
    const up = client.hosts.values().filter((h) => h.isUp()).length;
    const local = await client.execute("SELECT release_version FROM system.local");
    const peers = await client.execute("SELECT peer FROM system.peers");
    return { up, peers: peers.rowLength, version: String(local.first()?.get("release_version")) };
  });
}

/** Whether a TCP connection to `host:port` succeeds within `timeoutMs`. */
export async function tcpOpen(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const connect = Deno.connect({ hostname: host, port }).then(
    (c) => {
      c.close();
      return true;
    },
    () => false,
  );
  const timeout = new Promise<boolean>((r) => timer = setTimeout(() => r(false), timeoutMs));
  try {
    return await Promise.race([connect, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Whether we could bind `host:port` now (i.e. nobody listens there). */
export function portFree(host: string, port: number): boolean {
  try {
    Deno.listen({ hostname: host, port, transport: "tcp" }).close();
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.AddrInUse) return false;
    throw e;
  }
}

/** Best effort: who listens on `port` (`ss -ltnp`), for error messages. */
async function listenerOf(host: string, port: number): Promise<string> {
  try {
    const out = await new Deno.Command("ss", { args: ["-Hltnp"], stderr: "null" }).output();
    const lines = new TextDecoder().decode(out.stdout).split("\n").filter((l) =>
      [`${host}:${port} `, `0.0.0.0:${port} `, `*:${port} `, `[::]:${port} `].some((a) =>
        l.includes(a)
      )
    );
    return lines.length
      ? `\n  ${lines.map((l) => l.trim().replace(/\s+/g, " ")).join("\n  ")}`
      : "";
  } catch {
    return "";
  }
}

// ---------------------------------------------------------------------------
// Prerequisites: JDK 17, Maven, jars

async function run(
  cmd: string,
  args: string[],
  opts: { cwd?: string; timeoutMs?: number } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(cmd, {
    args,
    cwd: opts.cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: opts.timeoutMs ? AbortSignal.timeout(opts.timeoutMs) : undefined,
  }).output();
  const d = new TextDecoder();
  return { code: out.code, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr) };
}

/** Finds JDK 17's `java` (JAVA17_HOME or Debian's path) and checks `-version`. */
export async function findJava(s: Settings): Promise<string> {
  const java = s.java17Home ? `${s.java17Home.replace(/\/$/, "")}/bin/java` : DEFAULT_JAVA;
  const how =
    "Cassandra 5.0 needs JDK 17 (not 21+: it installs a SecurityManager). Install it with\n" +
    "  apt-get install -y openjdk-17-jre-headless\n" +
    "or point JAVA17_HOME at a JDK 17.";
  let r;
  try {
    r = await run(java, ["-version"], { timeoutMs: 30_000 });
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new DbError(`${java} not found. ${how}`);
    throw e;
  }
  const major = parseJavaMajor(r.stderr + r.stdout);
  if (r.code !== 0 || major !== 17) {
    throw new DbError(
      `${java} is not a Java 17 (java -version: ${
        JSON.stringify(lastLines(r.stderr, 3).join(" "))
      }). ${how}`,
    );
  }
  return java;
}

/** `<state>/lib-<version>`. */
export function libDir(s: Settings): string {
  return `${s.stateDir}/lib-${s.version}`;
}

async function listJars(dir: string): Promise<string[]> {
  const jars: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.isFile && e.name.endsWith(".jar")) jars.push(`${dir}/${e.name}`);
  }
  return jars.sort();
}

/**
 * The runtime jars of Cassandra `s.version`, fetched with Maven into
 * `<state>/lib-<version>` the first time (then reused: a `.complete` marker
 * is written only after a full, checked copy).
 */
export async function ensureJars(s: Settings): Promise<string[]> {
  const lib = libDir(s);
  if (await exists(`${lib}/.complete`)) return await listJars(lib);
  const pom = `${s.repoRoot}/db/pom.xml`;
  const tmp = `${lib}.tmp-${Deno.pid}`;
  await Deno.mkdir(s.stateDir, { recursive: true });
  await Deno.remove(tmp, { recursive: true }).catch(() => {});
  s.log(`db: fetching Cassandra ${s.version} jars with Maven (once) into ${lib} ...`);
  const t0 = Date.now();
  let r;
  try {
    r = await run("mvn", [
      "-B",
      "-q",
      "-f",
      pom,
      "dependency:copy-dependencies",
      "-DincludeScope=runtime",
      `-DoutputDirectory=${tmp}`,
      `-Dcassandra.version=${s.version}`,
    ], { cwd: s.stateDir });
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new DbError(
        "mvn (Apache Maven) not found; it fetches Cassandra's jars from Maven Central once.\n" +
          "  apt-get install -y maven",
      );
    }
    throw e;
  }
  const jarNames = r.code === 0 ? (await listJars(tmp)).map((j) => j.slice(tmp.length + 1)) : [];
  const missing = [`cassandra-all-${s.version}.jar`, "jamm-", "logback-classic-", "jna-"]
    .filter((p) => !jarNames.some((j) => j.startsWith(p)));
  if (r.code !== 0 || missing.length) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    const output = lastLines(
      (r.stdout + r.stderr).split("\n").filter((l) => !l.includes("systemPath")).join("\n"),
      30,
    );
    throw new DbError(
      `Maven could not fetch Cassandra ${s.version} (exit ${r.code}${
        missing.length ? `, missing ${missing.join(", ")}` : ""
      }). Is Maven Central reachable? mvn said:\n${output.join("\n")}`,
    );
  }
  await Deno.writeTextFile(`${tmp}/.complete`, `${jarNames.length} jars\n`);
  await Deno.remove(lib, { recursive: true }).catch(() => {});
  await Deno.rename(tmp, lib);
  s.log(`db: ${jarNames.length} jars in ${seconds(Date.now() - t0)}`);
  return await listJars(lib);
}

// ---------------------------------------------------------------------------
// Docker compose

async function dockerAnswers(): Promise<boolean> {
  try {
    const r = await new Deno.Command("docker", {
      args: ["info"],
      stdin: "null",
      stdout: "null",
      stderr: "null",
      signal: AbortSignal.timeout(5000),
    }).output();
    return r.code === 0;
  } catch {
    return false;
  }
}

function composeMarker(s: Settings): string {
  return `${s.stateDir}/compose.json`;
}

async function readComposeMarker(s: Settings): Promise<ClusterInfo | undefined> {
  const t = await readText(composeMarker(s));
  return t ? JSON.parse(t) as ClusterInfo : undefined;
}

async function composeUp(s: Settings, nodes: number): Promise<ClusterInfo> {
  const services = COMPOSE_SERVICES.slice(0, nodes);
  s.log(`db: Docker engine found: docker compose up -d --wait ${services.join(" ")}`);
  const r = await new Deno.Command("docker", {
    args: ["compose", "-f", `${s.repoRoot}/compose.yaml`, "up", "-d", "--wait", ...services],
    cwd: s.repoRoot,
    stdin: "null",
  }).output();
  if (r.code !== 0) throw new DbError(`docker compose up failed (exit ${r.code})`);
  const info: ClusterInfo = {
    contactPoints: ["127.0.0.1"],
    localDataCenter: LOCAL_DC,
    nodes,
    source: "docker",
  };
  await Deno.mkdir(s.stateDir, { recursive: true });
  await Deno.writeTextFile(composeMarker(s), JSON.stringify(info) + "\n");
  return info;
}

async function composeDown(s: Settings): Promise<boolean> {
  if (!await readComposeMarker(s)) return false;
  s.log("db: docker compose rm -s -f " + COMPOSE_SERVICES.join(" "));
  const r = await new Deno.Command("docker", {
    args: ["compose", "-f", `${s.repoRoot}/compose.yaml`, "rm", "-s", "-f", ...COMPOSE_SERVICES],
    cwd: s.repoRoot,
    stdin: "null",
  }).output();
  if (r.code !== 0) throw new DbError(`docker compose rm failed (exit ${r.code})`);
  await Deno.remove(composeMarker(s)).catch(() => {});
  return true;
}

// ---------------------------------------------------------------------------
// Locking

/** Serializes `up`/`down`/`clean` between processes (flock on `<state>/.lock`). */
async function withLock<T>(s: Settings, fn: () => Promise<T>): Promise<T> {
  await Deno.mkdir(s.stateDir, { recursive: true });
  const f = await Deno.open(`${s.stateDir}/.lock`, { create: true, write: true });
  const note = setTimeout(() => s.log("db: waiting for another db command to finish..."), 1000);
  try {
    await f.lock(true);
    clearTimeout(note);
    return await fn();
  } finally {
    clearTimeout(note);
    f.close();
  }
}

// ---------------------------------------------------------------------------
// Starting nodes

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Heap for a node of an `n`-node cluster. */
function heapFor(s: Settings, n: number): { heap: string; heapMin: string } {
  const heap = s.heap ?? (n === 1 ? "1G" : "768M");
  return { heap, heapMin: s.heapMin ?? "256M" };
}

/** Writes conf, creates directories, rotates old logs to `*.prev`. */
async function prepareNode(n: number, node: NodeState): Promise<void> {
  const d = node.dir;
  for (const sub of ["conf/triggers", "data", "commitlog", "saved_caches", "hints", "cdc_raw"]) {
    await Deno.mkdir(`${d}/${sub}`, { recursive: true });
  }
  for (const sub of ["logs", "tmp"]) await Deno.mkdir(`${d}/${sub}`, { recursive: true });
  await Deno.writeTextFile(
    `${d}/conf/cassandra.yaml`,
    renderCassandraYaml({
      clusterName: `dataservices-n${n}`,
      ip: node.ip,
      token: tokensFor(n)[node.index - 1],
      seeds: `${nodeIp(1)}:${STORAGE_PORT}`,
      dir: d,
      nativePort: CQL_PORT,
      storagePort: STORAGE_PORT,
    }),
  );
  await Deno.writeTextFile(`${d}/conf/logback.xml`, LOGBACK_XML);
  for (const log of ["system.log", "stdout.log"]) {
    await Deno.rename(`${d}/logs/${log}`, `${d}/logs/${log}.prev`).catch(() => {});
  }
  for (const i of [1, 2, 3]) await Deno.remove(`${d}/logs/system.log.${i}`).catch(() => {});
}

/** Starts the JVM of `node` detached (own session), records and returns its pid. */
async function spawnNode(
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
  return pid;
}

/** The last `lines` lines of a file, reading at most its last 256 KiB. */
export async function tailFile(path: string, lines: number): Promise<string[] | undefined> {
  let f;
  try {
    f = await Deno.open(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
  try {
    const size = (await f.stat()).size;
    const max = 256 * 1024;
    const start = Math.max(0, size - max);
    await f.seek(start, Deno.SeekMode.Start);
    const buf = new Uint8Array(size - start);
    let off = 0;
    while (off < buf.length) {
      const k = await f.read(buf.subarray(off));
      if (k === null) break;
      off += k;
    }
    let text = new TextDecoder().decode(buf.subarray(0, off));
    if (start > 0) text = text.slice(text.indexOf("\n") + 1);
    return lastLines(text, lines);
  } finally {
    f.close();
  }
}

/** The last lines of a node's stdout.log and system.log, for failure messages. */
async function nodeLogTails(node: NodeState, lines = 40): Promise<string> {
  const parts: string[] = [];
  for (const log of ["stdout.log", "system.log"]) {
    const path = `${node.dir}/logs/${log}`;
    const t = await tailFile(path, lines);
    parts.push(`----- ${path} (last ${lines} lines) -----\n${t ? t.join("\n") : "(missing)"}`);
  }
  return parts.join("\n");
}

/** Sends `signal` to `pid`, ignoring "no such process". */
function kill(pid: number, signal: Deno.Signal): void {
  try {
    Deno.kill(pid, signal);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}

/** Waits until node `node` is alive, logged CQL readiness and accepts TCP on 9042. */
async function waitNode(s: Settings, node: NodeState, pid: number, t0: number): Promise<void> {
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
async function waitCluster(s: Settings, n: number, t0: number): Promise<CqlProbe> {
  const deadline = t0 + s.timeoutMs;
  const info: ClusterInfo = {
    contactPoints: localContactPoints(n),
    localDataCenter: LOCAL_DC,
    nodes: n,
    source: "java",
  };
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

/** Options of {@link ensureUp}. */
export interface EnsureUpOptions {
  /** Settings (default {@link settingsFromEnv}). */
  settings?: Settings;
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

  if (s.externalContactPoints) {
    const info = (await contactPoints(s))!;
    const points = info.contactPoints;
    let probe: CqlProbe | undefined;
    try {
      probe = await probeCql(info);
    } catch (e) {
      const ours = points.every((p, i) => p === nodeIp(i + 1)) && points.length <= MAX_NODES;
      if (!ours) {
        throw new DbError(
          `CASSANDRA_CONTACT_POINTS=${points.join(",")} is set but CQL does not answer there ` +
            `(${describeCqlError(e)}). Unset it to let db up start a local Cassandra.`,
        );
      }
      nodes ??= points.length;
    }
    if (probe) {
      s.log(
        `db: using CASSANDRA_CONTACT_POINTS (hosts up: ${probe.up}, Cassandra ${probe.version})`,
      );
      await applySchemaTo(s, info, probe.up);
      return done({ ...info, nodes: probe.up }, true);
    }
  }

  return await withLock(s, async () => {
    const useDocker = s.mode === "docker" || (s.mode === "auto" && await dockerAnswers());
    if (useDocker) {
      const info = await composeUp(s, nodes ?? 1);
      const probe = await probeCql(info);
      await applySchemaTo(s, info, probe.up);
      return done(info, false);
    }

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
    const info: ClusterInfo = {
      contactPoints: localContactPoints(n),
      localDataCenter: LOCAL_DC,
      nodes: n,
      source: "java",
    };
    const states = await nodeStates(s, n);

    if (states.every((x) => x.alive)) {
      try {
        const p = await probeCql(info);
        if (p.up === n && p.peers === n - 1) {
          s.log(
            `db: already up (${n} node${
              n > 1 ? "s" : ""
            }, Cassandra ${p.version}): nothing to start`,
          );
          await applySchemaTo(s, info, n);
          return done(info, true);
        }
      } catch {
        // alive but not answering yet: wait below
      }
    }

    const toStart = states.filter((x) => !x.alive);
    let java = "";
    let jars: string[] = [];
    if (toStart.length) {
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
      java = await findJava(s);
      jars = await ensureJars(s);
      const h = heapFor(s, n);
      s.log(
        `db: starting ${n}-node Cassandra ${s.version} on JDK 17 (heap ${h.heapMin}..${h.heap} ` +
          `per node, state ${clusterDir(s, n)})`,
      );
      await Deno.mkdir(clusterDir(s, n), { recursive: true });
      await Deno.writeTextFile(
        `${clusterDir(s, n)}/cluster.json`,
        JSON.stringify({ nodes: n, version: s.version, ...h, startedAt: new Date() }) + "\n",
      );
    }

    for (const x of states) {
      const tn = Date.now();
      if (x.alive) {
        await waitNode(s, x, x.pid!, tn);
        continue;
      }
      await prepareNode(n, x);
      const pid = await spawnNode(s, java, jars, n, x);
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
    return done(info, toStart.length === 0);
  });
}

// ---------------------------------------------------------------------------
// down / clean / status / logs

/**
 * Stops every Cassandra of ours: the pids recorded in the state directory and
 * any other live CassandraDaemon whose node directory is below it (verified
 * through /proc/<pid>/cmdline). SIGTERM, wait up to `graceMs`, then SIGKILL.
 * Returns the pids stopped. Also removes compose services started by `up`.
 */
export async function down(
  settings: Settings = settingsFromEnv(),
  graceMs = 30_000,
): Promise<number[]> {
  const s = settings;
  return await withLock(s, async () => {
    if (await readComposeMarker(s) && await dockerAnswers()) await composeDown(s);
    const procs = new Map<number, string>();
    for (const n of await knownSizes(s)) {
      for (const x of await nodeStates(s, n)) if (x.alive) procs.set(x.pid!, x.dir);
    }
    for (const p of await ourProcesses(s)) procs.set(p.pid, p.dir);
    if (procs.size === 0) {
      s.log("db: no Cassandra of ours is running");
    } else {
      const t0 = Date.now();
      s.log(`db: stopping ${[...procs.keys()].map((p) => `pid ${p}`).join(", ")} (SIGTERM)`);
      for (const pid of procs.keys()) kill(pid, "SIGTERM");
      const alive = async () => {
        const left: number[] = [];
        for (const [pid, dir] of procs) if (await isOurNode(pid, dir)) left.push(pid);
        return left;
      };
      let left = await alive();
      while (left.length && Date.now() - t0 < graceMs) {
        await sleep(200);
        left = await alive();
      }
      if (left.length) {
        s.log(`db: still alive after ${seconds(graceMs)}, SIGKILL ${left.join(", ")}`);
        for (const pid of left) kill(pid, "SIGKILL");
        const t1 = Date.now();
        while ((left = await alive()).length && Date.now() - t1 < 10_000) await sleep(100);
        if (left.length) throw new DbError(`Could not stop pid ${left.join(", ")}`);
      }
      s.log(`db: stopped in ${seconds(Date.now() - t0)}`);
    }
    for (const dir of procs.values()) await Deno.remove(`${dir}/cassandra.pid`).catch(() => {});
    return [...procs.keys()];
  });
}

/** `down`, then deletes every cluster's state (`<state>/n*`); keeps the jars. */
export async function clean(settings: Settings = settingsFromEnv()): Promise<void> {
  const s = settings;
  await down(s);
  await withLock(s, async () => {
    for (const n of await knownSizes(s)) {
      await Deno.remove(clusterDir(s, n), { recursive: true });
      s.log(`db: removed ${clusterDir(s, n)}`);
    }
  });
}

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
      report.info = {
        contactPoints: localContactPoints(n),
        localDataCenter: LOCAL_DC,
        nodes: n,
        source: "java",
      };
    }
  }
  if (!report.up) {
    const other = s.externalContactPoints ? await contactPoints(s) : await readComposeMarker(s);
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
