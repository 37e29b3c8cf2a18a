/**
 * How the Cassandra launcher runs: its constants, the {@link DbError} it
 * reports to the user, and {@link Settings} read from the environment.
 *
 * @module
 */
import { LOCAL_DC } from "../lib/defaults.ts";
import { fileURLToPath } from "node:url";
import { parseContactPoints } from "./logs.ts";
import {
  COMMITLOG_SYNC_MODES,
  type CommitlogSync,
  DEFAULT_COMMITLOG_SYNC,
  DEFAULT_IP_BASE,
  HEAP_SIZE,
  IP_BASE,
} from "./templates.ts";

/** Cassandra version used when `CASSANDRA_VERSION` is unset. */
export const DEFAULT_VERSION = "5.0.8";
/** SimpleSnitch's data center name. */
export { LOCAL_DC };
/** Largest cluster the launcher starts (`<ip base>.1` .. `<ip base>.3`). */
export const MAX_NODES = 3;
/** CQL port of every node. */
export const CQL_PORT = 9042;
/** Internode (gossip) port of every node. */
export const STORAGE_PORT = 7000;
/** Default time a node may take to start, per node. */
export const DEFAULT_TIMEOUT_MS = 240_000;
/** Where Debian puts OpenJDK 17. */
export const DEFAULT_JAVA = "/usr/lib/jvm/java-17-openjdk-amd64/bin/java";

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
  /**
   * First three octets of the node addresses (`DB_IP_BASE`, default `127.0.0`): node i
   * listens on `<ipBase>.i`. A second cluster beside the default one takes another
   * loopback prefix (e.g. `127.0.1`) and another `stateDir`.
   */
  ipBase: string;
  /** `commitlog_sync` of our nodes (`CASSANDRA_COMMITLOG_SYNC`, default `batch`). */
  commitlogSync: CommitlogSync;
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
    ipBase: env("DB_IP_BASE") ?? DEFAULT_IP_BASE,
    commitlogSync: (env("CASSANDRA_COMMITLOG_SYNC") ?? DEFAULT_COMMITLOG_SYNC) as CommitlogSync,
    log: (line) => console.error(line),
    ...overrides,
  };
  if (!s.stateDir.startsWith("/")) s.stateDir = `${Deno.cwd()}/${s.stateDir}`;
  s.stateDir = s.stateDir.replace(/\/+$/, "");
  // Through a symlink (a worktree's .cassandra -> the main checkout's), /proc shows the real
  // path the nodes were started with: compare against that.
  try {
    s.stateDir = Deno.realPathSync(s.stateDir);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  if (!/^[0-9A-Za-z][0-9A-Za-z._-]*$/.test(s.version)) {
    throw new DbError(`Invalid CASSANDRA_VERSION: ${JSON.stringify(s.version)}`, 2);
  }
  if (!IP_BASE.test(s.ipBase)) {
    throw new DbError(
      `DB_IP_BASE must be three octets of a loopback address, e.g. 127.0.1 (got ${
        JSON.stringify(s.ipBase)
      })`,
      2,
    );
  }
  if (!COMMITLOG_SYNC_MODES.includes(s.commitlogSync)) {
    throw new DbError(
      `CASSANDRA_COMMITLOG_SYNC must be ${COMMITLOG_SYNC_MODES.join(", ")} (got ${
        JSON.stringify(s.commitlogSync)
      })`,
      2,
    );
  }
  for (const h of [s.heap, s.heapMin]) {
    if (h !== undefined && !HEAP_SIZE.test(h)) {
      throw new DbError(`Invalid heap size ${JSON.stringify(h)} (e.g. 512M, 1G)`, 2);
    }
  }
  return s;
}

/** Heap of a node of an `n`-node cluster: -Xmx and -Xms. */
export function heapFor(s: Settings, n: number): { heap: string; heapMin: string } {
  const heap = s.heap ?? (n === 1 ? "1G" : "768M");
  return { heap, heapMin: s.heapMin ?? "256M" };
}
