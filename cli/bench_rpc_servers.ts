/**
 * What a `deno task bench:rpc` case runs against, as one interface: the
 * instance under test (main or fast port) or the grpc-go floor, each able to
 * say whether it died and to start again.
 *
 * @module
 */
import { codesDelta, type InstanceUnderTest, readErrorCodes } from "./bench_rpc_instance.ts";
import type { RpcCase } from "./bench_rpc_cases.ts";
import { type FloorServer, startFloor } from "./bench_rpc_floor.ts";

/** What a case runs against: an instance (main or fast port) or the floor. */
export interface MeasuredServer {
  /** `http://host:port` a case of this port kind sends to. */
  baseUrl(c: RpcCase): string;
  /** The process whose CPU is measured. */
  readonly pid: number;
  /** Where GetStats is read (an instance's main port); undefined for the floor. */
  readonly statsUrl: string | undefined;
  readonly alive: boolean;
  /** Starts it again if it died; true when it did. */
  ensureRunning(): Promise<boolean>;
  /** True when it has exited within `ms`. */
  exitsWithin(ms: number): Promise<boolean>;
  /** Why it died last, for the report. */
  readonly lastDeath: readonly string[];
}

/** An instance as a {@linkcode MeasuredServer}. */
export function instanceServer(
  i: InstanceUnderTest,
): MeasuredServer & { readonly statsUrl: string } {
  return {
    baseUrl: (c) => {
      if (c.port !== "fast") return i.url;
      if (!i.fastUrl) throw new Error(`${c.name}: the instance announces no fastPort`);
      return i.fastUrl;
    },
    get pid() {
      return i.pid;
    },
    get statsUrl() {
      return i.url;
    },
    get alive() {
      return i.alive;
    },
    ensureRunning: () => i.ensureRunning(),
    exitsWithin: (ms) => i.exitsWithin(ms),
    get lastDeath() {
      return i.lastDeath;
    },
  };
}

/**
 * The floor as a {@linkcode MeasuredServer}: started again from `binary`,
 * pinned to `cpus`, if it ever died; `track` gets every floor started again.
 */
export function floorServer(
  binary: string,
  first: FloorServer,
  cpus: string,
  track: (f: FloorServer) => void,
): MeasuredServer {
  let f = first;
  let dead = false;
  const watch = (s: FloorServer) => s.exited.then(() => s === f && (dead = true));
  watch(f);
  return {
    baseUrl: () => f.url,
    get pid() {
      return f.pid;
    },
    statsUrl: undefined,
    get alive() {
      return !dead;
    },
    async ensureRunning() {
      if (!dead) return false;
      f = await startFloor(binary, { cpus });
      dead = false;
      track(f);
      watch(f);
      return true;
    },
    async exitsWithin(ms) {
      if (dead) return true;
      let t: ReturnType<typeof setTimeout> | undefined;
      const r = await Promise.race([
        f.exited.then(() => true),
        new Promise<false>((res) => (t = setTimeout(() => res(false), ms))),
      ]);
      clearTimeout(t);
      return r;
    },
    lastDeath: [],
  };
}

/** Error codes counted since `before` (from /metrics), or why they cannot be read. */
export async function errorCodesSince(
  server: MeasuredServer,
  before: Readonly<Record<string, number>>,
): Promise<string> {
  if (!server.alive || !server.statsUrl) return "codes unknown: the instance died";
  try {
    return codesDelta(before, await readErrorCodes(server.statsUrl)) || "none by code";
  } catch (err) {
    return `codes unknown: ${(err as Error).message}`;
  }
}
