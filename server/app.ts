/**
 * A data-service instance: the coalescing MessagesService (ours and the
 * original's), health, readiness and metrics, served on one port for gRPC,
 * gRPC-web and Connect over HTTP/1.1 and HTTP/2.
 *
 * @module
 */
import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { MessagesService } from "../gen/dataservices/v1/messages_pb.ts";
import { MessagesService as CompatMessagesService } from "../gen/messages/messages_pb.ts";
import { Health } from "../gen/grpc/health/v1/health_pb.ts";
import { applySchema } from "../db/schema.ts";
import { CapacityError, Coalescer, FlightTimeoutError } from "./coalescer.ts";
import type { ServerConfig } from "./config.ts";
import { withCors } from "./cors.ts";
import { toConnectError } from "./errors.ts";
import { healthService, probeStore, Readiness } from "./health.ts";
import { observe } from "./interceptors.ts";
import { createLogger, type Logger } from "./log.ts";
import { ResettableWindow, ServiceMetrics } from "./metrics.ts";
import {
  type NodeHandler,
  type NodeRequest,
  type NodeResponse,
  type OnePortServer,
  serveOnePort,
} from "./one_port.ts";
import {
  type Coalesce,
  compatMessagesService,
  messagesService,
  UNCOUNTED_METHODS,
} from "./service.ts";
import { SnowflakeGenerator } from "./snowflake.ts";
import { CassandraStore, type MessageStore } from "./store.ts";

/** A running instance. */
export interface DataService {
  /** `http://host:port`. */
  readonly url: string;
  readonly port: number;
  readonly readiness: Readiness;
  readonly metrics: ServiceMetrics;
  readonly coalescer: Coalescer<unknown>;
  /** Drains (readiness first), then closes the server and the store. */
  close(graceMs?: number): Promise<void>;
}

/** Dependencies that tests may replace. */
export interface DataServiceDeps {
  /** A store to use instead of Cassandra (unit tests only). */
  store?: MessageStore;
  log?: Logger;
  /** How often the store is probed for readiness. Default 2000 ms. */
  probeIntervalMs?: number;
}

/** Builds the Coalesce function the services use, mapping coalescer errors to Connect codes. */
export function coalesceWith(coalescer: Coalescer<unknown>): Coalesce {
  return async <T>(key: string, fn: (s: AbortSignal) => Promise<T>, signal: AbortSignal) => {
    try {
      return (await coalescer.do(key, fn, { signal })).value as T;
    } catch (err) {
      if (signal.aborted && err === signal.reason) {
        // The caller's own deadline (a ConnectError) or hang-up: an HTTP/1.1 client closing its
        // connection aborts with a bare AbortError, which is CANCELED, not a Cassandra failure.
        throw ConnectError.from(err, Code.Canceled);
      }
      if (err instanceof CapacityError) {
        throw new ConnectError(`server busy: ${err.message}`, Code.ResourceExhausted);
      }
      if (err instanceof FlightTimeoutError) {
        throw new ConnectError(`query took longer than ${err.timeoutMs} ms`, Code.DeadlineExceeded);
      }
      throw toConnectError(err);
    }
  };
}

/** `/healthz`, `/readyz` and `/metrics`, the adapter's fallback for non-RPC paths. */
function httpRoutes(readiness: Readiness, metrics: ServiceMetrics) {
  return (req: NodeRequest, res: NodeResponse) => {
    const path = (req.url ?? "/").split("?")[0];
    const send = (status: number, type: string, body: string) => {
      res.statusCode = status;
      res.setHeader("content-type", type);
      res.setHeader("cache-control", "no-store");
      res.end(body);
    };
    const json = (status: number, body: unknown) =>
      send(status, "application/json", JSON.stringify(body) + "\n");
    if (req.method === "POST") {
      // An RPC path no service has: UNIMPLEMENTED in the caller's protocol.
      const message = `unknown procedure ${path}`;
      const type = String(req.headers["content-type"] ?? "");
      if (type.startsWith("application/grpc")) {
        // gRPC and gRPC-web "trailers-only" response: the status travels in the headers.
        res.statusCode = 200;
        res.setHeader("content-type", type.split(";")[0]);
        res.setHeader("grpc-status", String(Code.Unimplemented));
        res.setHeader("grpc-message", encodeURIComponent(message));
        return res.end();
      }
      return json(404, { code: "unimplemented", message });
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      return json(405, { error: `${req.method} not allowed on ${path}` });
    }
    if (path === "/healthz") return json(200, { status: "ok" });
    if (path === "/readyz") {
      return readiness.ready
        ? json(200, { status: "ready" })
        : json(503, { status: "not ready", reason: readiness.reason });
    }
    if (path === "/metrics") {
      metrics.exposition().then(
        ({ contentType, body }) => send(200, contentType, body),
        (err) => json(500, { error: String(err) }),
      );
      return;
    }
    json(404, { error: `no route for ${path}` });
  };
}

/** Starts an instance and resolves once its port is bound (readiness follows the store). */
export async function startDataService(
  config: ServerConfig,
  deps: DataServiceDeps = {},
): Promise<DataService> {
  const log = deps.log ?? createLogger({ service: "data-service", port: config.port });
  const cassandra = deps.store ? undefined : new CassandraStore({
    contactPoints: config.contactPoints,
    localDataCenter: config.localDataCenter,
    keyspace: config.keyspace,
    consistency: config.consistency,
    queryTimeoutMs: config.queryTimeoutMs,
  });
  const store: MessageStore = deps.store ?? cassandra!;
  // inFlight reads the coalescer below; it is only called when metrics are scraped.
  const metrics: ServiceMetrics = new ServiceMetrics(() => inFlight());
  const coalescer = new Coalescer<unknown>({
    enabled: config.coalesce,
    flightTimeoutMs: config.flightTimeoutMs,
    maxFlightAgeMs: config.maxFlightAgeMs,
    maxWaitersPerFlight: config.maxWaiters,
    maxFlights: config.maxFlights,
    overCap: config.onCap,
    maxConcurrentCalls: config.maxConcurrentQueries,
    maxQueuedCalls: config.maxQueuedQueries,
    onEvent: (e) => {
      if (e.type === "join") metrics.coalesced.inc();
      else if (e.type === "reject") metrics.rejected.inc({ cap: e.cap });
      else if (e.type === "aged") log.warn("flight aged out", { key: e.key, ageMs: e.ageMs });
    },
  });
  const inFlight = () => {
    const s = coalescer.stats();
    return { flights: s.flights, waiters: s.waiters };
  };
  const readiness = new Readiness();
  const startedAt = new Date();
  const serviceDeps = {
    store,
    coalesce: coalesceWith(coalescer),
    metrics,
    ids: new SnowflakeGenerator(config.workerId),
    instance: `${config.host}:${config.port}#${config.workerId}`, // set to the bound port below
    startedAt,
    inFlight,
    window: new ResettableWindow(),
  };
  const routes = (router: ConnectRouter) => {
    router.service(MessagesService, messagesService(serviceDeps));
    router.service(CompatMessagesService, compatMessagesService(serviceDeps));
    router.service(
      Health,
      healthService(readiness, [MessagesService.typeName, CompatMessagesService.typeName]),
    );
  };
  const shutdown = new AbortController();
  const adapter = connectNodeAdapter({
    routes,
    readMaxBytes: config.readMaxBytes,
    interceptors: [
      observe(metrics, log, {
        services: new Set([MessagesService.typeName, CompatMessagesService.typeName]),
        uncounted: UNCOUNTED_METHODS,
      }),
    ],
    fallback: httpRoutes(readiness, metrics) as NodeHandler as never,
    shutdownSignal: shutdown.signal,
  });

  let schemaDone = !config.applySchema || !cassandra;
  let wasReady: boolean | undefined;
  const stopProbe = probeStore(readiness, async () => {
    if (cassandra && !schemaDone) {
      await cassandra.connect();
      const hosts = cassandra.client.hosts.length;
      const applied = await applySchema(cassandra.client, {
        keyspace: config.keyspace,
        dataCenter: config.localDataCenter,
        replicationFactor: Math.min(3, Math.max(1, hosts)),
      });
      schemaDone = true;
      if (applied.length) log.info("schema applied", { versions: applied });
    }
    await store.ping();
  }, deps.probeIntervalMs ?? 2000);
  readiness.onChange(() => {
    if (wasReady === readiness.ready) return;
    wasReady = readiness.ready;
    (readiness.ready ? log.info : log.warn)(readiness.ready ? "ready" : "not ready", {
      reason: readiness.reason,
    });
  });

  let server: OnePortServer;
  try {
    // Inside the try: a missing certificate must not leave the probe loop and the store running.
    const tls = config.tls && {
      cert: await Deno.readTextFile(config.tls.certFile),
      key: await Deno.readTextFile(config.tls.keyFile),
    };
    server = await serveOnePort({
      hostname: config.host,
      port: config.port,
      handler: withCors(config.corsOrigins, adapter),
      tls,
      shutdownController: shutdown,
      limits: { maxConcurrentStreams: 4096 },
      onError: (err, where) => log.debug("client connection error", { where, error: err.message }),
    });
  } catch (err) {
    stopProbe();
    await store.close().catch(() => {});
    throw err;
  }
  serviceDeps.instance = `${new URL(server.url).host}#${config.workerId}`;
  log.info("listening", {
    url: server.url,
    protocols: ["grpc", "grpc-web", "connect"],
    coalesce: config.coalesce,
    workerId: config.workerId,
  });

  let closing: Promise<void> | undefined;
  return {
    url: server.url,
    port: server.port,
    readiness,
    metrics,
    coalescer,
    close(graceMs = config.drainMs) {
      closing ??= (async () => {
        readiness.drain();
        stopProbe();
        await server.close({ graceMs });
        await store.close().catch((err) => log.warn("store close failed", { error: err }));
        log.info("stopped");
      })();
      return closing;
    },
  };
}
