/**
 * The system under test: a 3-node Cassandra of its own (the launcher's second
 * cluster: own state directory, own loopback prefix, beside the shared one),
 * two data-service instances and the gateway as child processes
 * (`server/main.ts`, `gateway/main.ts`), and the clients the experiments
 * use run in load workers (`load_worker.ts`), so a client crash cannot take
 * the suite down.
 *
 * @module
 */
import cassandra from "cassandra-driver";
import {
  clientOptions,
  type ClusterInfo,
  contactPoints,
  down,
  ensureUp,
  nodeStates,
  type Settings,
  settingsFromEnv,
} from "../../db/cluster.ts";
import { type ChildService, spawnService } from "../../cli/child.ts";
import { type ClosableClient, directClient } from "./clients.ts";

/** Rejects with "`what` did not ... within" when `p` takes longer than `ms`. */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within ${ms / 1000} s`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `url` until it answers 200; fails naming `what` after `timeoutMs`. */
export async function waitHttp200(url: string, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "no answer";
  while (Date.now() < deadline) {
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await r.body?.cancel();
      if (r.status === 200) return;
      last = `HTTP ${r.status}`;
    } catch (e) {
      last = (e as Error).message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} not ready (${url}: ${last}) within ${timeoutMs / 1000} s`);
}

/** A free TCP port on 127.0.0.1 (bound, then released). */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Options of {@link Stack.start}. */
export interface StackOptions {
  /** The fault cluster's state directory. */
  stateDir: string;
  /** Its loopback prefix (nodes on `<ipBase>.1..3`). */
  ipBase: string;
  /** First of three ports (instances, gateway); 0: free ports. */
  basePort: number;
  /** Where child logs go. */
  logDir: string;
  /** Progress lines. */
  log: (line: string) => void;
  /** Client deadline of every call. */
  callTimeoutMs: number;
}

/** One data-service instance or the gateway. */
interface Proc {
  name: string;
  port: number;
  /** An instance's fast listener (Deno.serve: Connect and gRPC-web). */
  fastPort?: number;
  args: string[];
  script: string;
  child?: ChildService;
  /** False once the current child exited. */
  alive: boolean;
  lines: string[];
}

/** The running system. See the module doc. */
export class Stack {
  readonly settings: Settings;
  cluster!: ClusterInfo;
  /** Whether the cluster was already running before {@link start} (then it is left up). */
  clusterWasUp = false;
  readonly instances: Proc[];
  readonly gateway: Proc;
  /** A driver client on every node, for reading back acknowledged writes. */
  verifier!: cassandra.Client;
  /** Sees every progress line of the launcher (e.g. "db: node2 ... serving CQL"). */
  onLauncherLine?: (line: string) => void;

  private constructor(readonly options: StackOptions) {
    this.settings = settingsFromEnv({
      stateDir: options.stateDir,
      ipBase: options.ipBase,
      mode: "java",
      externalContactPoints: undefined,
      log: (line) => {
        options.log(line);
        this.onLauncherLine?.(line);
      },
    });
    const port = (k: number) => options.basePort ? options.basePort + k : freePort();
    const contact = `${options.ipBase}.1`; // the contact node: the only address instances are given
    this.instances = [0, 1].map((k) => {
      const p = port(k);
      // Fixed fast ports too, so a restarted instance is where the routers found it.
      const fast = port(10 + k);
      return {
        name: `instance-${k + 1}`,
        port: p,
        fastPort: fast,
        script: "server/main.ts",
        // No --worker-id: each instance leases one (a restarted one gets a free id at once).
        args: [
          "--port",
          String(p),
          "--fast-port",
          String(fast),
          "--cassandra-contact-points",
          contact,
        ],
        alive: false,
        lines: [],
      };
    });
    const gw = port(2);
    this.gateway = {
      name: "gateway",
      port: gw,
      script: "gateway/main.ts",
      args: [
        "--port",
        String(gw),
        "--fast-port",
        "off",
        "--targets",
        this.instances.map((i) => addr(i)).join(","),
      ],
      alive: false,
      lines: [],
    };
  }

  /** Brings up the cluster (RF 3), both instances and the gateway. */
  static async start(options: StackOptions): Promise<Stack> {
    const s = new Stack(options);
    s.clusterWasUp = (await contactPoints(s.settings))?.nodes === 3;
    s.cluster = await ensureUp(3, { settings: s.settings });
    s.verifier = new cassandra.Client({
      ...clientOptions(s.cluster),
      socketOptions: { readTimeout: 12_000 },
    });
    await s.verifier.connect();
    for (const i of s.instances) await s.startProc(i);
    await s.startProc(s.gateway);
    return s;
  }

  /** Base URL of an instance or the gateway. */
  url(p: Proc): string {
    return `http://${addr(p)}`;
  }

  /** Base URL of an instance's fast listener (where routers and the gateway send calls). */
  fastUrl(p: Proc): string {
    if (p.fastPort === undefined) throw new Error(`${p.name} has no fast listener`);
    return `http://127.0.0.1:${p.fastPort}`;
  }

  /** Current pids of the instances and the gateway (undefined while one is down). */
  pids(): Record<string, number | undefined> {
    const out: Record<string, number | undefined> = {};
    for (const p of [...this.instances, this.gateway]) {
      out[p.name] = p.alive ? p.child?.pid : undefined;
    }
    return out;
  }

  /** Starts (or restarts) a child and waits until its /readyz answers 200. */
  async startProc(p: Proc): Promise<void> {
    const child = spawnService(p.name, p.script, p.args, {
      onLine: (line) => {
        p.lines.push(line);
        if (p.lines.length > 20_000) p.lines.splice(0, 10_000);
      },
    });
    p.child = child;
    p.alive = true;
    child.exited.then((code) => {
      if (p.child === child) p.alive = false;
      p.lines.push(`--- ${p.name} pid ${child.pid} exited with code ${code}`);
    });
    await within(p.child.listening, 60_000, `${p.name} did not listen`);
    await waitHttp200(`${this.url(p)}/readyz`, p.name);
  }

  /** Sends `signal` to a child and resolves with its exit code once it exited. */
  async signalProc(p: Proc, signal: Deno.Signal): Promise<number> {
    const child = p.child;
    if (!child) throw new Error(`${p.name} is not running`);
    Deno.kill(child.pid, signal);
    const code = await within(child.exited, 60_000, `${p.name} did not exit after ${signal}`);
    p.alive = false;
    p.child = undefined;
    return code;
  }

  /** Pids of the Cassandra nodes, node 1 first. */
  async nodePids(): Promise<number[]> {
    return (await nodeStates(this.settings, 3)).map((n) => {
      if (!n.alive || n.pid === undefined) {
        throw new Error(`Cassandra node${n.index} is not running`);
      }
      return n.pid;
    });
  }

  /** Restarts any dead node and waits until every node sees the others (the launcher's `up`). */
  async healCluster(): Promise<void> {
    await ensureUp(3, { settings: this.settings });
  }

  /** Makes sure everything runs and answers before an experiment (restarts what died). */
  async ensureHealthy(): Promise<string[]> {
    const restarted: string[] = [];
    const states = await nodeStates(this.settings, 3);
    if (states.some((n) => !n.alive)) restarted.push("cassandra");
    await this.healCluster();
    for (const p of [...this.instances, this.gateway]) {
      if (!p.alive) {
        restarted.push(p.name);
        await this.startProc(p);
      } else {
        await waitHttp200(`${this.url(p)}/readyz`, p.name);
      }
    }
    return restarted;
  }

  /** The instances as `host:port`, in router order. */
  instanceAddrs(): string[] {
    return this.instances.map((i) => addr(i));
  }

  /** A plain connect-node client to one base URL. */
  directClient(baseUrl: string): ClosableClient {
    return directClient(baseUrl, this.options.callTimeoutMs);
  }

  /** Writes the children's logs to the log directory. */
  async flushLogs(): Promise<void> {
    await Deno.mkdir(this.options.logDir, { recursive: true });
    for (const p of [...this.instances, this.gateway]) {
      await Deno.writeTextFile(`${this.options.logDir}/${p.name}.log`, p.lines.join("\n") + "\n");
    }
  }

  /** Stops the children, and the cluster when this run started it (unless `keepCluster`). */
  async close(keepCluster: boolean): Promise<void> {
    for (const p of [this.gateway, ...this.instances]) await p.child?.stop(15_000);
    await this.verifier?.shutdown().catch(() => {});
    await this.flushLogs();
    if (!keepCluster && !this.clusterWasUp) await down(this.settings);
  }
}

function addr(p: Proc): string {
  return `127.0.0.1:${p.port}`;
}
