/**
 * Helpers of the integration tests: the running Cassandra (started by
 * `deno task db up`, which `deno task test` runs first), data-service
 * instances on ephemeral ports, and a client transport for every protocol.
 */
import assert from "node:assert/strict";
import type { Transport } from "@connectrpc/connect";
import { createConnectTransport as createWebConnectTransport } from "@connectrpc/connect-web";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
  Http2SessionManager,
} from "@connectrpc/connect-node";
import { type ClusterInfo, contactPoints } from "../db/cluster.ts";
import { type DataService, startDataService } from "../server/app.ts";
import { parseConfig } from "../server/config.ts";
import { createLogger } from "../lib/log.ts";
import { WaitTimeoutError, withTimeout } from "../lib/wait.ts";

/** How long an instance may take to become ready against the test Cassandra. */
export const READY_TIMEOUT_MS = 30_000;

/** Where the test Cassandra is; fails with a hint when none runs. */
export async function cassandraInfo(): Promise<ClusterInfo> {
  const info = await contactPoints();
  assert.ok(info, "no Cassandra running: run `deno task db up` (deno task test does)");
  return info;
}

/** Starts an instance on an ephemeral port against the test Cassandra; waits until ready. */
export async function startInstance(
  args: string[] = [],
  opts: { waitReady?: boolean } = {},
): Promise<DataService> {
  const info = await cassandraInfo();
  const config = parseConfig([
    "--port",
    "0",
    "--cassandra-contact-points",
    info.contactPoints.join(","),
    "--cassandra-local-dc",
    info.localDataCenter,
    ...args,
  ], () => undefined);
  const log = createLogger({ test: true }, { level: "error" });
  const service = await startDataService(config, { log, probeIntervalMs: 200 });
  if ((opts.waitReady ?? true) && !service.readiness.ready) {
    const { promise, resolve } = Promise.withResolvers<void>();
    const off = service.readiness.onChange(() => service.readiness.ready && resolve());
    try {
      await withTimeout(
        promise,
        READY_TIMEOUT_MS,
        `instance ${service.url} to be ready against Cassandra at ${info.contactPoints}`,
      );
    } catch (err) {
      await service.close(0);
      if (!(err instanceof WaitTimeoutError)) throw err;
      throw new WaitTimeoutError(`${err.message} (last reason: ${service.readiness.reason})`);
    } finally {
      off();
    }
  }
  return service;
}

/** Every protocol and HTTP version a client can use against one port. */
export const PROTOCOLS = [
  "grpc/h2",
  "grpc-web/h1",
  "grpc-web/h2",
  "connect-json/h1",
  "connect-json/h2",
  "connect-binary/h1",
  "connect-binary/h2",
  "connect-get/h1",
  "connect-get/h2",
] as const;
export type Protocol = typeof PROTOCOLS[number];

/** What the fast listener serves: everything but native gRPC. */
export const FAST_PROTOCOLS: readonly Protocol[] = PROTOCOLS.filter((p) => p !== "grpc/h2");

/** A transport for `protocol`, and a function that closes its connections. */
export function transportFor(
  baseUrl: string,
  protocol: Protocol,
): { transport: Transport; close: () => void } {
  const [kind, ver] = protocol.split("/");
  if (kind === "connect-get") {
    // Over fetch (connect-web): Deno's node:http client hangs on a POST that follows a
    // GET error on the same keep-alive connection (seen with any server, ours or not).
    const client = ver === "h2" ? Deno.createHttpClient({ http1: false, http2: true }) : undefined;
    const transport = createWebConnectTransport({
      baseUrl,
      useHttpGet: true,
      fetch: client ? (input, init) => fetch(input, { ...init, client }) : undefined,
    });
    return { transport, close: () => client?.close() };
  }
  const httpVersion = ver === "h2" ? "2" as const : "1.1" as const;
  const sessionManager = httpVersion === "2" ? new Http2SessionManager(baseUrl) : undefined;
  const common = httpVersion === "2"
    ? { baseUrl, httpVersion, sessionManager }
    : { baseUrl, httpVersion };
  const transport = kind === "grpc"
    ? createGrpcTransport(common as Parameters<typeof createGrpcTransport>[0])
    : kind === "grpc-web"
    ? createGrpcWebTransport(common)
    : createConnectTransport({ ...common, useBinaryFormat: kind === "connect-binary" });
  return { transport, close: () => sessionManager?.abort() };
}

/** A random positive channel id, so reruns never collide. */
export function randomChannel(): bigint {
  return BigInt(Math.floor(Math.random() * 2 ** 48)) + 1_000_000n;
}
