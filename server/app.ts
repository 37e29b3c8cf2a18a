/**
 * A data-service instance: the coalescing MessagesService (ours and the
 * original's), health, readiness and metrics, served on one port for gRPC,
 * gRPC-web and Connect over HTTP/1.1 and HTTP/2, and on a second, faster
 * listener for Connect and gRPC-web (see fast_listener.ts). Unary calls take
 * the fast path (fast/); everything else goes through connect-es.
 *
 * @module
 */
import { createValidator } from "@bufbuild/protovalidate";
import { Code, ConnectError } from "@connectrpc/connect";
import { MessagesService } from "../gen/dataservices/v1/messages_pb.ts";
import { MessagesService as CompatMessagesService } from "../gen/messages/messages_pb.ts";
import { Health } from "../gen/grpc/health/v1/health_pb.ts";
import { applySchema } from "../db/schema.ts";
import { boundBy } from "../lib/bound.ts";
import { CapacityError, Coalescer, FlightTimeoutError, Limiter } from "./coalescer.ts";
import { VegasLimit } from "./adaptive_limit.ts";
import { HotKeys, type HotKeysView, type WindowName } from "./hotkeys/hot_keys.ts";
import { HOT_KEYS_LIMIT, hotKeysResponse } from "./hotkeys/response.ts";
import { WriteBuckets } from "./write_buckets.ts";
import { toJson } from "@bufbuild/protobuf";
import { GetHotKeysResponseSchema } from "../gen/dataservices/v1/messages_pb.ts";
import type { ServerConfig } from "./config.ts";
import type { Cancellation } from "../lib/cancellation.ts";
import { codeOfDriverError, toConnectError } from "./errors.ts";
import { healthService, probeStore, Readiness } from "../http/health.ts";
import { plainRoutes } from "../http/routes.ts";
import { readTlsFiles } from "../lib/listen_flags.ts";
import { createLogger, type Logger, LogThrottle } from "../lib/log.ts";
import { ResettableWindow, ServiceMetrics } from "./metrics.ts";
import { createObserver } from "../http/observe.ts";
import { type Registration, serve, type Serving } from "../http/serving.ts";
import {
  type Coalesce,
  compatMessagesService,
  messagesService,
  UNCOUNTED_METHODS,
} from "./service.ts";
import { queryTracer } from "./tracing.ts";
import { CassandraStore, type MessageStore } from "./store.ts";
import { CassandraLeaseStore } from "./lease_store.ts";
import { MemoryLeaseStore } from "./memory_lease_store.ts";
import type { LeaseStore } from "./lease_contract.ts";
import { WorkerLease } from "./worker_lease.ts";

/** Bound of connecting to Cassandra and applying the schema at start (then tried again). */
const SETUP_TIMEOUT_MS = 60_000;

/** A running instance. */
export interface DataService {
  /** `http://host:port` of the main port (every protocol). */
  readonly url: string;
  readonly port: number;
  /** `http://host:port` of the fast listener (Connect, gRPC-web); undefined when off. */
  readonly fastUrl: string | undefined;
  readonly fastPort: number | undefined;
  readonly readiness: Readiness;
  readonly metrics: ServiceMetrics;
  readonly coalescer: Coalescer<unknown>;
  /** The read query limiter (its limit, queue, shed count). */
  readonly limiter: Limiter;
  /** Hot-key telemetry; undefined with --hot-keys 0. */
  readonly hotKeys: HotKeys | undefined;
  /** The worker-id lease new message ids are minted under. */
  readonly lease: WorkerLease;
  /**
   * Drains: readiness first, then (after `delayMs` of still serving, so routers
   * and load balancers move its channels away) closes the server within
   * `graceMs`, releases the lease, closes the store.
   */
  close(graceMs?: number, delayMs?: number): Promise<void>;
}

/** Dependencies that tests may replace. */
export interface DataServiceDeps {
  /** A store to use instead of Cassandra (unit tests only). */
  store?: MessageStore;
  log?: Logger;
  /** How often the store is probed for readiness. Default: `config.probeIntervalMs`. */
  probeIntervalMs?: number;
  /**
   * Where worker ids are leased. Default: Cassandra (with a store given: a
   * MemoryLeaseStore of this instance's own).
   */
  leaseStore?: LeaseStore;
  /**
   * The instance cannot run as configured: `--worker-id` is held by another
   * running instance. Default: logged (the instance stays not ready).
   */
  onFatal?: (error: Error) => void;
}

/** Driver errors that mean Cassandra is overloaded: they lower the adaptive query limit. */
const OVERLOAD_CODES: ReadonlySet<Code> = new Set([
  Code.DeadlineExceeded,
  Code.Unavailable,
  Code.ResourceExhausted,
]);

/** An empty view (telemetry off). */
const EMPTY_VIEW = (window: WindowName): HotKeysView => {
  const empty = {
    spanMs: 0,
    totals: { events: 0, queries: 0, coalesced: 0, errors: 0, writes: 0 },
    maxError: 0,
    top: [],
  };
  return { window, channels: empty, keys: empty };
};

/** Builds the Coalesce function the services use, mapping coalescer errors to Connect codes. */
export function coalesceWith(coalescer: Coalescer<unknown>): Coalesce {
  return async <T>(
    key: string,
    fn: (s: AbortSignal) => Promise<T>,
    signal: Cancellation | undefined,
  ) => {
    try {
      return (await coalescer.do(key, fn, { signal })).value as T;
    } catch (err) {
      if (signal?.aborted && err === signal.reason) {
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
  const hot = config.hotKeys > 0 ? new HotKeys({ capacity: config.hotKeys }) : undefined;
  const rotation = hot && setInterval(() => hot.rotate(), hot.sliceMs);
  if (rotation !== undefined) Deno.unrefTimer(rotation);
  // Views for the metrics, made once per scrape rather than once per gauge.
  const views = new Map<WindowName, { at: number; view: HotKeysView }>();
  const hotView = (window: WindowName): HotKeysView => {
    const now = Date.now();
    let v = views.get(window);
    if (v === undefined || now - v.at > 200) {
      views.set(window, v = { at: now, view: hot!.view(window, HOT_KEYS_LIMIT.default) });
    }
    return v.view;
  };
  const limiter = new Limiter({
    maxConcurrent: config.maxConcurrentQueries,
    maxQueued: config.maxQueuedQueries,
    maxQueueWaitMs: config.maxQueueWaitMs === 0 ? Infinity : config.maxQueueWaitMs,
    algorithm: config.queryLimit === "adaptive"
      ? new VegasLimit({ min: config.minConcurrentQueries, max: config.maxConcurrentQueries })
      : undefined,
  });
  // inFlight reads the coalescer below; it is only called when metrics are scraped.
  const dataServices = new Set([MessagesService.typeName, CompatMessagesService.typeName]);
  const metrics: ServiceMetrics = new ServiceMetrics(
    () => inFlight(),
    (service, method) => dataServices.has(service) && !UNCOUNTED_METHODS.has(method),
    {
      limiter: () => ({
        limit: limiter.limit,
        running: limiter.running,
        queued: limiter.queued,
        rttMs: limiter.rttMs,
      }),
      hotKeys: hot && hotView,
    },
  );
  const agedLog = new LogThrottle(1000);
  const coalescer = new Coalescer<unknown>({
    enabled: config.coalesce,
    flightTimeoutMs: config.flightTimeoutMs,
    maxFlightAgeMs: config.maxFlightAgeMs,
    maxWaitersPerFlight: config.maxWaiters,
    maxFlights: config.maxFlights,
    overCap: config.onCap,
    limiter,
    // Cassandra timing out, overloaded or unavailable lowers the adaptive limit.
    isOverload: (err) => OVERLOAD_CODES.has(codeOfDriverError(err)),
    onEvent: (e) => {
      if (e.type === "join") {
        metrics.coalesced.inc();
        hot?.joined(e.key);
      } else if (e.type === "reject") metrics.rejected.inc({ cap: e.cap });
      else if (e.type === "end") {
        if (!e.called && (e.end === "abandoned" || e.end === "timeout")) metrics.dropped.inc();
      } else if (e.type === "aged") {
        // Under overload thousands of flights age at once: a sample line a second.
        const t = agedLog.allow("aged");
        if (t.ok) {
          log.warn("flight aged out", {
            key: e.key,
            ageMs: Math.round(e.ageMs),
            similarSuppressed: t.suppressed,
          });
        }
      }
    },
  });
  const inFlight = () => {
    const s = coalescer.stats();
    return { flights: s.flights, waiters: s.waiters };
  };
  const readiness = new Readiness(["store", "lease"]);
  const startedAt = new Date();
  const lease = new WorkerLease({
    store: deps.leaseStore ?? (cassandra
      ? new CassandraLeaseStore(cassandra.control, {
        keyspace: config.keyspace,
        timeoutMs: config.queryTimeoutMs,
      })
      : new MemoryLeaseStore()),
    workerId: config.workerId,
    ttlMs: config.workerLeaseTtlMs,
    holder: `${hostName()}:${config.port}/${crypto.randomUUID()}`,
    log,
    onConflict: deps.onFatal ?? ((err) => log.error("cannot mint message ids", { error: err })),
  });
  let address = `${config.host}:${config.port}`; // the bound port once listening
  const serviceDeps = {
    store,
    coalesce: coalesceWith(coalescer),
    metrics,
    ids: lease,
    instance: `${address}#-`,
    startedAt,
    inFlight,
    window: new ResettableWindow(),
    traceQuery: queryTracer(config.keyspace),
    writes: new Limiter({
      maxConcurrent: config.maxConcurrentWrites,
      maxQueued: config.maxQueuedWrites,
      cap: "maxQueuedWrites",
    }),
    writeBuckets: config.channelWriteRate > 0
      ? new WriteBuckets({
        ratePerSec: config.channelWriteRate,
        burst: config.channelWriteBurst,
        maxBuckets: config.maxWriteBuckets,
      })
      : undefined,
    hot,
    admission: () => ({
      queryLimit: limiter.limit,
      runningQueries: limiter.running,
      queuedQueries: limiter.queued,
      shedQueries: limiter.shed,
      droppedQueries: coalescer.stats().dropped,
    }),
  };
  lease.onChange(() => {
    readiness.set("lease", lease.valid, lease.reason);
    serviceDeps.instance = `${address}#${lease.workerId ?? "-"}`;
  });
  const services: Registration[] = [
    { service: MessagesService, impl: messagesService(serviceDeps) },
    { service: CompatMessagesService, impl: compatMessagesService(serviceDeps) },
    { service: Health, impl: healthService(readiness, [...dataServices]) },
  ];
  let serving: Serving | undefined;
  const plain = plainRoutes({
    health: () => (serving?.fastPort !== undefined ? { fastPort: serving.fastPort } : {}),
    ready: () => ({ ok: readiness.ready, reason: readiness.reason }),
    metrics: () => metrics.exposition(),
    hotKeys: () => {
      const answer = (window: WindowName) =>
        toJson(
          GetHotKeysResponseSchema,
          hot
            ? hotKeysResponse(hot.view(window, HOT_KEYS_LIMIT.default), {
              instance: serviceDeps.instance,
              capacity: hot.channels.capacity,
            })
            : hotKeysResponse(EMPTY_VIEW(window), { instance: serviceDeps.instance, capacity: 0 }),
        );
      return { short: answer("short"), long: answer("long") };
    },
  });

  let schemaDone = !config.applySchema || !cassandra;
  let wasReady: boolean | undefined;
  // Until the schema is applied each probe first connects and applies it (bounded by the
  // driver's timeouts, not by the probe timeout: DDL takes longer than a ping); then it pings.
  const setUp = async (c: CassandraStore) => {
    await c.connect();
    const hosts = c.client.hosts.length;
    const applied = await applySchema(c.client, {
      keyspace: config.keyspace,
      dataCenter: config.localDataCenter,
      replicationFactor: Math.min(3, Math.max(1, hosts)),
    });
    schemaDone = true;
    if (applied.length) log.info("schema applied", { versions: applied });
  };
  const stopProbe = probeStore(readiness, async (timeoutMs) => {
    if (cassandra && !schemaDone) {
      // Bounded, so that a cluster in a bad way cannot stall the probe loop for good (the steps are
      // idempotent: the next probe starts again, joining a connection attempt still running).
      await boundBy(setUp(cassandra), performance.now() + SETUP_TIMEOUT_MS, () =>
        new Error(
          `connecting to Cassandra and applying the schema took over ${SETUP_TIMEOUT_MS} ms`,
        ));
    }
    lease.start(); // once the schema (its table) is there; a no-op after the first time
    await store.ping(timeoutMs);
  }, {
    intervalMs: deps.probeIntervalMs ?? config.probeIntervalMs,
    timeoutMs: config.probeTimeoutMs,
  });
  readiness.onChange(() => {
    if (wasReady === readiness.ready) return;
    wasReady = readiness.ready;
    (readiness.ready ? log.info : log.warn)(readiness.ready ? "ready" : "not ready", {
      reason: readiness.reason,
    });
  });

  try {
    // Inside the try: a missing certificate must not leave the probe loop and the store running.
    const tls = config.tls && await readTlsFiles(config.tls);
    serving = await serve({
      hostname: config.host,
      port: config.port,
      fastPort: config.fastPort,
      services,
      readMaxBytes: config.readMaxBytes,
      bodyTimeoutMs: config.bodyTimeoutMs,
      fastPath: config.fastPath,
      limits: { maxConcurrentStreams: config.http2MaxStreams },
      maxInFlight: config.maxInFlightRequests,
      // Probes and dashboards must answer under any load.
      exempt: [
        ...Health.methods.map((m) => `/${Health.typeName}/${m.name}`),
        `/${MessagesService.typeName}/${MessagesService.method.getStats.name}`,
        `/${MessagesService.typeName}/${MessagesService.method.getHotKeys.name}`,
        "/debug/hotkeys",
        `/${CompatMessagesService.typeName}/${CompatMessagesService.method.getAndResetMetrics.name}`,
      ],
      onShed: () => metrics.rejected.inc({ cap: "maxInFlightRequests" }),
      observer: createObserver(metrics, log),
      // dataservices.v1's rules (its proto); the original's messages.MessagesService has none
      // and keeps its own checks (service.ts).
      validator: createValidator(),
      reflection: true,
      plain,
      corsOrigins: config.corsOrigins,
      tls,
      onError: (err, where) =>
        log.debug("client connection error", { where, error: (err as Error)?.message }),
    });
  } catch (err) {
    stopProbe();
    clearInterval(rotation);
    await lease.close();
    await store.close().catch(() => {});
    throw err;
  }
  const server = serving;
  address = new URL(server.url).host;
  serviceDeps.instance = `${address}#${lease.workerId ?? "-"}`;
  log.info("listening", {
    url: server.url,
    fastUrl: server.fastUrl,
    protocols: ["grpc", "grpc-web", "connect"],
    coalesce: config.coalesce,
    workerId: config.workerId ?? "leased",
  });

  let closing: Promise<void> | undefined;
  return {
    url: server.url,
    port: server.port,
    fastUrl: server.fastUrl,
    fastPort: server.fastPort,
    readiness,
    metrics,
    coalescer,
    limiter,
    hotKeys: hot,
    lease,
    close(graceMs = config.drainMs, delayMs = 0) {
      closing ??= (async () => {
        readiness.drain();
        stopProbe();
        clearInterval(rotation);
        // Still serving while "not ready" travels: routers probe every second.
        if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
        await server.close(graceMs);
        // After the drain (calls in flight may still mint ids), before the store's clients close.
        await lease.close();
        await store.close().catch((err) => log.warn("store close failed", { error: err }));
        log.info("stopped");
      })();
      return closing;
    },
  };
}

/** This machine's name for the lease table (a pod's name in Kubernetes), if the environment says. */
function hostName(): string {
  try {
    return Deno.env.get("HOSTNAME") || "instance";
  } catch {
    return "instance";
  }
}
