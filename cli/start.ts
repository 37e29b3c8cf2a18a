/**
 * `deno task start`: the whole local stack from one command.
 *
 * 0. Bundles the dashboard (`web/build.ts`), after the flags are read (so
 *    `--help` answers at once).
 * 1. Cassandra: uses the one at the configured contact points, or starts one
 *    (`deno task db up`); applies the schema.
 * 2. Demo data when the keyspace is empty: the original's 20 channels with its
 *    getMessage rows, plus a history per channel across several buckets.
 * 3. Data-service instances (50051, 50052, ...; `--instances N`) and the
 *    routing gateway (8080, fast listener 9080), as child processes; waits
 *    until each is ready.
 * 4. Prints where everything listens and how to call it. Ctrl-C stops
 *    everything it started (Cassandra stays up: `deno task db down`).
 *
 * @module
 */
import { ensureUp, portFree } from "../db/cluster.ts";
import * as defaults from "../lib/defaults.ts";
import { defineCommand, parseOrExitCode } from "../lib/flags.ts";
import { onShutdown } from "../lib/shutdown.ts";
import { ensureDemoData } from "../server/demo.ts";
import { CassandraStore } from "../server/store.ts";
import { buildDashboard } from "../web/build.ts";
import { spawnInstance, spawnService } from "./child.ts";
import { supervise, type Supervised } from "./supervisor.ts";

/** Options of {@link startStack}. */
export interface StackOptions {
  /** Data-service instances. Default 2 (`START_INSTANCES`). */
  instances?: number;
  /** Port of the first instance; the others follow. 0 = ephemeral ports. Default 50051. */
  basePort?: number;
  /** Gateway port; 0 = ephemeral. Default 8080. */
  gatewayPort?: number;
  /** Cassandra nodes if one has to be started. Default 1. */
  nodes?: number;
  /** Load demo data into an empty keyspace. Default true. */
  demo?: boolean;
  /** Extra flags for every instance (e.g. ["--no-coalesce"]). */
  serveArgs?: string[];
  /** Progress messages. Default: stderr. */
  log?: (line: string) => void;
  /** Every log line of the children, prefixed with their name. Default: dropped. */
  childLog?: (name: string, line: string) => void;
}

/** A running stack. */
export interface Stack {
  gatewayUrl: string;
  instanceUrls: string[];
  /** `host:port` of each instance, in routing order. */
  targets: string[];
  /** The instances and the gateway, each restarted when it exits unasked. */
  supervised: Supervised[];
  /** Stops the gateway and the instances (not Cassandra). */
  close(): Promise<void>;
}

/** A clear start-up failure (exit code 1). */
export class StartError extends Error {
  override name = "StartError";
}

/** Starts Cassandra (if needed), demo data, the instances and the gateway. */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const log = options.log ?? ((l: string) => console.error(l));
  const n = options.instances ?? defaults.START_INSTANCES;
  const basePort = options.basePort ?? defaults.INSTANCE_PORT;
  const gatewayPort = options.gatewayPort ?? defaults.GATEWAY_PORT;
  const host = defaults.HOST;
  const ports = Array.from({ length: n }, (_, i) => (basePort === 0 ? 0 : basePort + i));
  const gatewayFast = gatewayPort === 0 ? 0 : gatewayPort + defaults.FAST_PORT_OFFSET;
  for (const p of [...ports, gatewayPort, gatewayFast]) {
    if (p !== 0 && !portFree(host, p)) {
      throw new StartError(
        `port ${p} on ${host} is already in use (another 'deno task start'?); ` +
          `choose others with --base-port / --gateway-port`,
      );
    }
  }

  const up = await ensureUp(options.nodes, { settings: undefined });
  log(
    `cassandra: ${up.alreadyUp ? "already up" : "started"} at ${
      up.contactPoints.join(",")
    } (${up.nodes} node${up.nodes > 1 ? "s" : ""}, ${(up.elapsedMs / 1000).toFixed(1)} s)`,
  );
  if (options.demo ?? true) {
    const store = new CassandraStore({
      contactPoints: up.contactPoints,
      localDataCenter: up.localDataCenter,
      keyspace: defaults.KEYSPACE,
    });
    try {
      const t0 = performance.now();
      const written = await ensureDemoData(store);
      log(
        written
          ? `demo data: ${written} messages in channels 1..20 (${
            ((performance.now() - t0) / 1000).toFixed(1)
          } s)`
          : "demo data: present",
      );
    } finally {
      await store.close();
    }
  }

  const supervised: Supervised[] = [];
  const stopAll = async () => {
    await Promise.all(supervised.map((s) => s.stop()));
  };
  const childLog = options.childLog;
  // A crashed child comes back on the port it had (also when it was given port 0).
  const onExit = (e: { name: string; code: number; restartInMs: number }) =>
    log(`${e.name} exited with code ${e.code}; restarting in ${e.restartInMs} ms`);
  try {
    const instances = ports.map((port, i) => {
      const name = `data-service-${i + 1}`;
      let bound = port;
      const s = supervise(() => {
        const child = spawnInstance(name, {
          host,
          port: bound,
          cassandra: up,
          extraArgs: options.serveArgs,
          onLine: childLog && ((l) => childLog(name, l)),
        });
        child.listening.then((url) => bound = Number(new URL(url).port), () => {});
        return child;
      }, { onExit });
      supervised.push(s);
      return s;
    });
    const instanceUrls = await Promise.all(instances.map((s) => s.current.ready("/readyz")));
    const targets = instanceUrls.map((u) => new URL(u).host);
    let gatewayBound = gatewayPort;
    const gateway = supervise(() => {
      const child = spawnService("gateway", "gateway/main.ts", [
        "--host",
        host,
        "--port",
        String(gatewayBound),
        "--targets",
        targets.join(","),
      ], { onLine: childLog && ((l) => childLog("gateway", l)) });
      child.listening.then((url) => gatewayBound = Number(new URL(url).port), () => {});
      return child;
    }, { onExit });
    supervised.push(gateway);
    const gatewayUrl = await gateway.current.ready("/healthz");
    return { gatewayUrl, instanceUrls, targets, supervised, close: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** The command `deno task start`. */
export const START = defineCommand({
  name: "start",
  summary: `Starts the whole local stack: bundles the dashboard, then Cassandra (if none answers),
demo data, data-service instances and the routing gateway. Ctrl-C stops what it started
(Cassandra stays up; stop it with 'deno task db down').`,
  flags: [
    {
      name: "instances",
      type: "int",
      min: 1,
      max: 64,
      default: defaults.START_INSTANCES,
      help: "data-service instances",
    },
    {
      name: "base-port",
      type: "int",
      min: 1,
      max: 65535,
      default: defaults.INSTANCE_PORT,
      arg: "P",
      help: "port of the first instance, the others follow",
    },
    {
      name: "gateway-port",
      type: "int",
      min: 1,
      max: 65535,
      default: defaults.GATEWAY_PORT,
      arg: "P",
      help: "gateway port",
    },
    {
      name: "nodes",
      type: "int",
      min: 1,
      max: 3,
      arg: "1|3",
      help: "Cassandra nodes, if it has to be started",
      defaultHelp: "1",
    },
    { name: "no-demo", type: "bool", help: "do not load demo data into an empty keyspace" },
    { name: "no-coalesce", type: "bool", help: "start the instances with coalescing off" },
    { name: "quiet", type: "bool", help: "do not print the children's logs" },
  ],
});

if (import.meta.main) {
  const parsed = parseOrExitCode(START, Deno.args);
  if (typeof parsed === "number") Deno.exit(parsed);
  const values = parsed.values;
  const t0 = performance.now();
  let stack: Stack;
  try {
    await buildDashboard();
    stack = await startStack({
      instances: values.instances,
      basePort: values["base-port"],
      gatewayPort: values["gateway-port"],
      nodes: values.nodes,
      demo: !values["no-demo"],
      serveArgs: values["no-coalesce"] ? ["--no-coalesce"] : [],
      childLog: values.quiet ? undefined : (name, line) => console.error(`[${name}] ${line}`),
    });
  } catch (err) {
    console.error(`error: ${(err as Error).message}`);
    Deno.exit(1);
  }
  const secs = ((performance.now() - t0) / 1000).toFixed(1);
  console.log(`
ready in ${secs} s
  data services: ${stack.instanceUrls.join("  ")}  (gRPC, gRPC-web, Connect; /metrics /readyz)
  gateway:       ${stack.gatewayUrl}  (same API, routed by channel; dashboard at ${stack.gatewayUrl}/)

try:
  curl -s -H 'content-type: application/json' -d '{"channelId":"1","limit":3}' \\
    ${stack.gatewayUrl}/dataservices.v1.MessagesService/GetMessages
  deno task load --channels 20 --requests 10000

Ctrl-C stops the gateway and the instances (Cassandra stays up: deno task db down).`);
  onShutdown({
    onFirst: async () => {
      console.error("stopping...");
      await stack.close();
    },
  });
}
