/**
 * The routing gateway (`deno task gateway`, command in main.ts): the
 * original's "API server" role.
 *
 * It serves the same API as a data-service instance (dataservices.v1 and the
 * original's messages.MessagesService) through the instances' own serving
 * plumbing (http/serving.ts): every protocol on the main port with the fast
 * unary path, Connect and gRPC-web on a fast listener, CORS, TLS, `/healthz`,
 * `/readyz`, `/metrics`, and the browser dashboard at `/`. Each call is
 * forwarded through the router client (upstream.ts, forward.ts), so curl,
 * browsers and clients that don't embed the router still get channel
 * affinity.
 *
 * Keyless calls (GetStats, getAndResetMetrics) go to the first live instance;
 * call instances directly for per-instance figures. GetHotKeys asks every live
 * instance and merges their answers (fleet_hot_keys.ts).
 *
 * @module
 */
import { createValidator } from "@bufbuild/protovalidate";
import type { ServiceImpl } from "@connectrpc/connect";
import { MessagesService } from "../gen/dataservices/v1/messages_pb.ts";
import { MessagesService as CompatService } from "../gen/messages/messages_pb.ts";
import { Health } from "../gen/grpc/health/v1/health_pb.ts";
import * as defaults from "../lib/defaults.ts";
import { createLogger, type Logger } from "../lib/log.ts";
import { healthService, type Readiness } from "../http/health.ts";
import { codeLabel, createObserver } from "../http/observe.ts";
import { peerOf } from "../http/peer.ts";
import { plainRoutes } from "../http/routes.ts";
import { serve, type Serving } from "../http/serving.ts";
import type { RoutingTransport } from "../router/transport.ts";
import { fleetHotKeys } from "./fleet_hot_keys.ts";
import { type ForwardedCall, forwardService } from "./forward.ts";
import { GatewayMetrics } from "./metrics.ts";
import { InstanceReadiness } from "./readiness.ts";
import { createUpstream, type UpstreamProtocol } from "./upstream.ts";
import { dashboardRoutes } from "./web.ts";

/** Options of {@link startGateway}. */
export interface GatewayOptions {
  host?: string;
  /** Main port (every protocol); 0 = any free port. */
  port: number;
  /**
   * The fast listener's port (Connect and gRPC-web over Deno.serve), "off"
   * for none. Default: port + 1000, or any free port when `port` is 0.
   */
  fastPort?: number | "off";
  /**
   * Ordered `host:port` list of the data-service instances, or one `dns:` /
   * `dns+srv:` target re-resolved every 5 s (see `router/dns.ts`).
   */
  targets?: string[];
  /** A file with the list, re-read when it changes (instead of targets). */
  targetsFile?: string;
  /**
   * Towards the instances: "fast" (default) is the lean Connect transport
   * over fetch to each instance's fast listener (found through its
   * `/healthz`); "grpc", "connect" or "grpc-web" use connect-node to each
   * instance's main port.
   */
  protocol?: UpstreamProtocol;
  /** Deadline of forwarded calls whose caller set none (ms). Default 30 s. */
  upstreamTimeoutMs?: number;
  corsOrigins?: readonly string[];
  /** Directory of the dashboard (index.html, dist/app.js). Default web/. */
  webDir?: string;
  readMaxBytes?: number;
  /** Main port: concurrent HTTP/2 streams per connection. */
  http2MaxStreams?: number;
  /** PEM certificate and key: both listeners serve TLS. */
  tls?: { cert: string; key: string };
  /** One JSON line per forwarded call at info level (default false). */
  accessLog?: boolean;
  /** Default: JSON lines on stderr, `service: "gateway"`. */
  log?: Logger;
  /** Between health probe rounds of the instances (ms). Default 1000. */
  probeIntervalMs?: number;
}

/** A running gateway. */
export interface Gateway {
  /** `http://host:port` (https with TLS) of the main port. */
  readonly url: string;
  readonly port: number;
  /** The fast listener's URL; undefined when off. */
  readonly fastUrl: string | undefined;
  readonly fastPort: number | undefined;
  readonly router: RoutingTransport;
  /** Ready while an instance is up (after the first probe round). */
  readonly readiness: Readiness;
  readonly metrics: GatewayMetrics;
  /** Drains (readiness first), then closes both listeners and the router. */
  close(graceMs?: number): Promise<void>;
}

/** Starts a gateway and resolves once both listeners are bound. */
export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const log = options.log ?? createLogger({ service: "gateway" });
  const protocol = options.protocol ?? "fast";
  // Read only after the router exists: by the probe callbacks, routes and metrics.
  const instances = () => router.instances;
  const ready = new InstanceReadiness(instances);
  const router = await createUpstream({
    targets: options.targets,
    targetsFile: options.targetsFile,
    protocol,
    defaultTimeoutMs: options.upstreamTimeoutMs ?? 30_000,
    // A busy instance answers probes late; only a refusal or NOT_SERVING should move
    // its channels (a timeout marks it down, so be generous).
    probeTimeoutMs: 3000,
    probeIntervalMs: options.probeIntervalMs,
    onHealthChange: (c) => {
      (c.up ? log.info : log.warn)("instance health", {
        instance: c.instance.id,
        up: c.up,
        reason: c.reason,
        error: c.error?.rawMessage,
      });
      ready.update();
    },
    onInstancesChange: (list) => {
      log.info("instances changed", { instances: list });
      ready.update();
    },
    onSourceError: (what, error) =>
      log.warn(what === "dns" ? "dns resolution failed" : "membership file unreadable", { error }),
  });
  void router.checkHealth().then(() => ready.probed());

  const metrics = new GatewayMetrics(instances);
  let serving: Serving | undefined;
  const onCall = options.accessLog ? accessLogger(log) : undefined;
  const plain = plainRoutes({
    health: () => (serving?.fastPort !== undefined ? { fastPort: serving.fastPort } : {}),
    ready: () => ({
      ok: ready.readiness.ready,
      reason: ready.readiness.reason,
      detail: ready.detail(),
    }),
    metrics: () => metrics.exposition(),
    get: dashboardRoutes({
      webDir: options.webDir ?? new URL("../web/", import.meta.url).pathname,
      config: () => ({ instances: instances().map((i) => i.id), gateway: serving?.url ?? "" }),
    }),
  });
  const api: Partial<ServiceImpl<typeof MessagesService>> = {
    ...forwardService(MessagesService, router, { onCall }),
    getHotKeys: fleetHotKeys(router),
  };
  const port = options.port;
  const fastPort = options.fastPort === "off"
    ? undefined
    : options.fastPort ?? (port === 0 ? 0 : port + defaults.FAST_PORT_OFFSET);
  try {
    serving = await serve({
      hostname: options.host ?? defaults.HOST,
      port,
      fastPort,
      services: [
        { service: MessagesService, impl: api },
        { service: CompatService, impl: forwardService(CompatService, router, { onCall }) },
        {
          service: Health,
          impl: healthService(ready.readiness, [MessagesService.typeName, CompatService.typeName]),
        },
      ],
      readMaxBytes: options.readMaxBytes ?? defaults.READ_MAX_BYTES,
      limits: { maxConcurrentStreams: options.http2MaxStreams ?? defaults.HTTP2_MAX_STREAMS },
      observer: createObserver(metrics, log, { logFailures: false }),
      plain,
      corsOrigins: options.corsOrigins ?? defaults.CORS_ORIGINS,
      tls: options.tls,
      // Requests are validated against the proto's rules here already, as on an instance.
      validator: createValidator(),
      reflection: true,
      onError: (err, where) =>
        log.debug("client connection error", { where, error: (err as Error)?.message }),
    });
  } catch (err) {
    await router.close();
    throw err;
  }
  const server = serving;
  log.info("listening", {
    url: server.url,
    fastUrl: server.fastUrl,
    targets: instances().map((i) => i.id),
    protocol,
    accessLog: options.accessLog ?? false,
  });
  let closing: Promise<void> | undefined;
  return {
    url: server.url,
    port: server.port,
    fastUrl: server.fastUrl,
    fastPort: server.fastPort,
    router: router,
    readiness: ready.readiness,
    metrics,
    close(graceMs = 5000) {
      closing ??= (async () => {
        ready.readiness.drain();
        await server.close(graceMs);
        await router.close();
        log.info("stopped");
      })();
      return closing;
    },
  };
}

/** The access log: one info line per forwarded call. */
function accessLogger(log: Logger): (call: ForwardedCall) => void {
  return (call) =>
    log.info("rpc", {
      rpc: call.rpc,
      code: codeLabel(call.code),
      ms: Math.round(call.durationMs * 100) / 100,
      instance: call.instance,
      attempts: call.attempts,
      protocol: call.protocol,
      peer: peerOf(call.ctx),
    });
}
