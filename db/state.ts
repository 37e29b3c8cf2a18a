/**
 * The launcher's state directory and the processes it owns:
 * `<state>/n<nodes>/node<i>` per node (each with `cassandra.pid`), and the
 * live CassandraDaemons found in /proc whose `-Dcassandra.storagedir=` lies
 * below the state directory. Nothing here starts or stops anything.
 *
 * @module
 */
import { readText } from "./files.ts";
import type { Settings } from "./settings.ts";
import { MAIN_CLASS, nodeIp } from "./templates.ts";

/** `<state>/n<nodes>`: one directory per cluster size. */
export function clusterDir(s: Settings, nodes: number): string {
  return `${s.stateDir}/n${nodes}`;
}

/** `<state>/n<nodes>/node<i>`. */
export function nodeDir(s: Settings, nodes: number, i: number): string {
  return `${clusterDir(s, nodes)}/node${i}`;
}

/** The contact points of an `n`-node cluster of ours on `<ipBase>.1..n`. */
export function localContactPoints(n: number, ipBase?: string): string[] {
  return Array.from({ length: n }, (_, i) => nodeIp(i + 1, ipBase));
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

/** The arguments of a process, or undefined if it is gone or a zombie. */
export async function procArgs(pid: number): Promise<string[] | undefined> {
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
      ip: nodeIp(i, s.ipBase),
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
export async function knownSizes(s: Settings): Promise<number[]> {
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
