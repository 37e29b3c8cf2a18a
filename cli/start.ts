/**
 * `deno task start`: the whole local stack from one command.
 *
 * 1. Cassandra: uses the one at the configured contact points, or starts one
 *    (`deno task db up`); applies the schema.
 * 2. Demo data when the keyspace is empty: the original's 20 channels with its
 *    getMessage rows, plus a history per channel across several buckets.
 * 3. Data-service instances (50051, 50052, ...; `--instances N`) and the
 *    routing gateway (8080), as child processes; waits until each is ready.
 * 4. Prints where everything listens and how to call it. Ctrl-C stops
 *    everything it started (Cassandra stays up: `deno task db down`).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { ensureUp, portFree } from "../db/cluster.ts";
import { KEYSPACE } from "../db/schema.ts";
import { ensureDemoData } from "../server/demo.ts";
import { CassandraStore } from "../server/store.ts";
import { type ChildService, spawnService } from "./child.ts";

/** Options of {@link startStack}. */
export interface StackOptions {
  /** Data-service instances. Default 2. */
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
  children: ChildService[];
  /** Stops the gateway and the instances (not Cassandra). */
  close(): Promise<void>;
}

/** A clear start-up failure (exit code 1). */
export class StartError extends Error {
  override name = "StartError";
}

async function waitReady(child: ChildService, path: string): Promise<string> {
  const url = await child.listening;
  for (;;) {
    const ok = await fetch(`${url}${path}`).then(async (r) => {
      await r.body?.cancel();
      return r.ok;
    }, () => false);
    if (ok) return url;
    const exited = await Promise.race([
      child.exited.then(() => true),
      new Promise<false>((r) => setTimeout(() => r(false), 250)),
    ]);
    if (exited) {
      throw new StartError(
        `${child.name} exited while starting:\n  ${child.tail().slice(-15).join("\n  ")}`,
      );
    }
  }
}

/** Starts Cassandra (if needed), demo data, the instances and the gateway. */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const log = options.log ?? ((l: string) => console.error(l));
  const n = options.instances ?? 2;
  const basePort = options.basePort ?? 50051;
  const gatewayPort = options.gatewayPort ?? 8080;
  const host = "127.0.0.1";
  const ports = Array.from({ length: n }, (_, i) => (basePort === 0 ? 0 : basePort + i));
  for (const p of [...ports, gatewayPort]) {
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
      keyspace: KEYSPACE,
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

  const children: ChildService[] = [];
  const stopAll = async () => {
    await Promise.all(children.map((c) => c.stop()));
  };
  const childLog = options.childLog;
  try {
    const cassandraFlags = [
      "--cassandra-contact-points",
      up.contactPoints.join(","),
      "--cassandra-local-dc",
      up.localDataCenter,
    ];
    const instances = ports.map((port, i) =>
      spawnService(`data-service-${i + 1}`, "server/main.ts", [
        "--host",
        host,
        "--port",
        String(port),
        "--worker-id",
        String(i + 1),
        ...cassandraFlags,
        ...(options.serveArgs ?? []),
      ], { onLine: childLog && ((l) => childLog(`data-service-${i + 1}`, l)) })
    );
    children.push(...instances);
    const instanceUrls = await Promise.all(instances.map((c) => waitReady(c, "/readyz")));
    const targets = instanceUrls.map((u) => new URL(u).host);
    const gateway = spawnService("gateway", "router/gateway.ts", [
      "--host",
      host,
      "--port",
      String(gatewayPort),
      "--targets",
      targets.join(","),
    ], { onLine: childLog && ((l) => childLog("gateway", l)) });
    children.push(gateway);
    const gatewayUrl = await waitReady(gateway, "/healthz");
    return { gatewayUrl, instanceUrls, targets, children, close: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

const HELP = `Usage: deno task start [options]

Starts the whole local stack: Cassandra (if none answers), demo data, data-service
instances and the routing gateway. Ctrl-C stops what it started (Cassandra stays up;
stop it with 'deno task db down').

Options:
  --instances N      data-service instances (default 2)
  --base-port P      port of the first instance, the others follow (default 50051)
  --gateway-port P   gateway port (default 8080)
  --nodes 1|3        Cassandra nodes, if it has to be started (default 1)
  --no-demo          do not load demo data into an empty keyspace
  --no-coalesce      start the instances with coalescing off
  --quiet            do not print the children's logs
  --help             print this help
`;

if (import.meta.main) {
  let values;
  try {
    values = parseArgs({
      args: Deno.args,
      strict: true,
      options: {
        instances: { type: "string", default: "2" },
        "base-port": { type: "string", default: "50051" },
        "gateway-port": { type: "string", default: "8080" },
        nodes: { type: "string" },
        "no-demo": { type: "boolean", default: false },
        "no-coalesce": { type: "boolean", default: false },
        quiet: { type: "boolean", default: false },
        help: { type: "boolean", default: false },
      },
    }).values;
  } catch (err) {
    console.error(`error: ${(err as Error).message}\n\n${HELP}`);
    Deno.exit(2);
  }
  if (values.help) {
    console.log(HELP);
    Deno.exit(0);
  }
  const int = (name: string, v: string | undefined, min: number, max: number) => {
    const x = Number(v);
    if (v === undefined) return undefined;
    if (!Number.isInteger(x) || x < min || x > max) {
      console.error(`error: --${name} must be an integer in ${min}..${max}, got ${v}`);
      Deno.exit(2);
    }
    return x;
  };
  const t0 = performance.now();
  let stack: Stack;
  try {
    stack = await startStack({
      instances: int("instances", values.instances, 1, 64),
      basePort: int("base-port", values["base-port"], 1, 65535),
      gatewayPort: int("gateway-port", values["gateway-port"], 1, 65535),
      nodes: int("nodes", values.nodes, 1, 3),
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
  for (const c of stack.children) {
    c.exited.then((code) => {
      if (!stopping) {
        console.error(`warning: ${c.name} exited with code ${code}; the router fails over`);
      }
    });
  }
  let stopping = false;
  const stop = async () => {
    if (stopping) Deno.exit(130);
    stopping = true;
    console.error("stopping...");
    await stack.close();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
}
