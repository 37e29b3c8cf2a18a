/**
 * The routing gateway (`deno task gateway`): the original's "API server" role.
 *
 * It serves the same API as a data-service instance (dataservices.v1 and the
 * original's messages.MessagesService; gRPC, gRPC-web and Connect on one
 * port, CORS) and forwards each call through the router client, so curl,
 * browsers and clients that don't embed the router still get channel
 * affinity. It also serves the browser dashboard at `/`.
 *
 * Keyless calls (GetStats, getAndResetMetrics) go to the first live instance;
 * call instances directly for per-instance figures. Requests are validated
 * against the proto's rules here already (as on an instance), and it answers
 * gRPC server reflection for the services it serves.
 *
 * @module
 */
import { createValidator } from "@bufbuild/protovalidate";
import { createClient, type ServiceImpl } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { MessagesService } from "../gen/dataservices/v1/messages_pb.ts";
import { MessagesService as CompatService } from "../gen/messages/messages_pb.ts";
import { Health } from "../gen/grpc/health/v1/health_pb.ts";
import * as defaults from "../lib/defaults.ts";
import { defineCommand, FlagError, parseOrExitCode, usageError } from "../lib/flags.ts";
import { onShutdown } from "../lib/shutdown.ts";
import { withCors } from "../http/cors.ts";
import { healthService, Readiness } from "../http/health.ts";
import { reflectionServices } from "../http/reflection.ts";
import { requestValidation } from "../http/validation.ts";
import { createLogger } from "../lib/log.ts";
import { type NodeRequest, type NodeResponse, serveOnePort } from "../http/one_port.ts";
import { createNodeRoutingTransport, DATA_SERVICES_ENV } from "../router/node.ts";
import type { RoutingTransport } from "../router/transport.ts";

/** Options of {@link startGateway}. */
export interface GatewayOptions {
  host?: string;
  port: number;
  /**
   * Ordered `host:port` list of the data-service instances, or one `dns:` /
   * `dns+srv:` target re-resolved every 5 s (see `router/dns.ts`).
   */
  targets?: string[];
  /** A file with the list, re-read when it changes (instead of targets). */
  targetsFile?: string;
  /** Protocol towards the instances. Default "grpc". */
  protocol?: "grpc" | "connect" | "grpc-web";
  corsOrigins?: string[];
  /** Directory of the dashboard (index.html, dist/app.js). Default web/. */
  webDir?: string;
  readMaxBytes?: number;
}

/** A running gateway. */
export interface Gateway {
  readonly url: string;
  readonly router: RoutingTransport;
  close(graceMs?: number): Promise<void>;
}

/** Forwards every method of `service` to `client`, with the caller's signal and deadline. */
function forward<T extends object>(client: T): T {
  return new Proxy(client, {
    get(target, prop) {
      const fn = (target as Record<string | symbol, unknown>)[prop];
      if (typeof fn !== "function") return fn;
      return (req: unknown, ctx: { signal: AbortSignal; timeoutMs(): number | undefined }) =>
        fn.call(target, req, { signal: ctx.signal, timeoutMs: ctx.timeoutMs() });
    },
  });
}

const STATIC: Record<string, [string, string]> = {
  "/": ["index.html", "text/html; charset=utf-8"],
  "/index.html": ["index.html", "text/html; charset=utf-8"],
  "/app.js": ["dist/app.js", "text/javascript; charset=utf-8"],
  "/style.css": ["style.css", "text/css; charset=utf-8"],
};

/** Starts a gateway and resolves once it listens. */
export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const log = createLogger({ service: "gateway" });
  const router = await createNodeRoutingTransport({
    instances: options.targets,
    file: options.targetsFile,
    protocol: options.protocol ?? "grpc",
    // A busy instance answers probes late; only a refusal or NOT_SERVING should move
    // its channels (a timeout marks it down, so be generous).
    probeTimeoutMs: 3000,
    onHealthChange: (c) => (c.up ? log.info : log.warn)("instance health", { ...c }),
    onInstancesChange: (list) => log.info("instances changed", { instances: list }),
    watch: { onError: (error) => log.warn("membership file unreadable", { error }) },
    dns: { onError: (error) => log.warn("dns resolution failed", { error }) },
  });
  const readiness = new Readiness();
  const updateReady = () =>
    readiness.setStore(router.instances.some((i) => i.up), "no live instance");
  updateReady();
  const timer = setInterval(updateReady, 500);
  const webDir = options.webDir ?? new URL("../web/", import.meta.url).pathname;
  let selfUrl = "";

  const fallback = async (req: NodeRequest, res: NodeResponse) => {
    const path = (req.url ?? "/").split("?")[0];
    const send = (status: number, type: string, body: string | Uint8Array) => {
      res.statusCode = status;
      res.setHeader("content-type", type);
      res.setHeader("cache-control", "no-store");
      res.end(body);
    };
    if (req.method !== "GET" && req.method !== "HEAD") {
      return send(
        404,
        "application/json",
        JSON.stringify({ code: "unimplemented", message: `unknown procedure ${path}` }),
      );
    }
    if (path === "/healthz") return send(200, "application/json", '{"status":"ok"}\n');
    if (path === "/readyz") {
      return send(
        readiness.ready ? 200 : 503,
        "application/json",
        JSON.stringify({
          status: readiness.ready ? "ready" : "not ready",
          instances: router.instances.map((i) => ({ id: i.id, up: i.up })),
        }) + "\n",
      );
    }
    if (path === "/config.json") {
      return send(
        200,
        "application/json",
        JSON.stringify({
          instances: router.instances.map((i) => i.id),
          gateway: selfUrl,
        }),
      );
    }
    const file = STATIC[path];
    if (file) {
      try {
        return send(200, file[1], await Deno.readFile(`${webDir}/${file[0]}`));
      } catch {
        return send(404, "text/plain", `${file[0]} not found: run 'deno task web:build'\n`);
      }
    }
    send(404, "application/json", JSON.stringify({ error: `no route for ${path}` }));
  };

  const shutdown = new AbortController();
  const adapter = connectNodeAdapter({
    routes: (r) => {
      r.service(
        MessagesService,
        forward(createClient(MessagesService, router)) as unknown as ServiceImpl<
          typeof MessagesService
        >,
      );
      r.service(
        CompatService,
        forward(createClient(CompatService, router)) as unknown as ServiceImpl<
          typeof CompatService
        >,
      );
      r.service(
        Health,
        healthService(readiness, [MessagesService.typeName, CompatService.typeName]),
      );
      for (const x of reflectionServices([MessagesService, CompatService, Health])) {
        r.service(x.service, x.impl);
      }
    },
    // Invalid requests are answered here, as an instance would, without a round trip.
    interceptors: [requestValidation(createValidator()).interceptor],
    readMaxBytes: options.readMaxBytes ?? defaults.READ_MAX_BYTES,
    fallback: ((req: NodeRequest, res: NodeResponse) => void fallback(req, res)) as never,
    shutdownSignal: shutdown.signal,
  });
  const server = await serveOnePort({
    hostname: options.host ?? defaults.HOST,
    port: options.port,
    handler: withCors(options.corsOrigins ?? [...defaults.CORS_ORIGINS], adapter),
    shutdownController: shutdown,
    limits: { maxConcurrentStreams: defaults.HTTP2_MAX_STREAMS },
  });
  selfUrl = server.url;
  log.info("listening", {
    url: server.url,
    targets: router.instances.map((i) => i.id),
    protocol: options.protocol ?? "grpc",
  });
  return {
    url: server.url,
    router,
    async close(graceMs = 5000) {
      readiness.drain();
      clearInterval(timer);
      await server.close({ graceMs });
      await router.close();
      log.info("stopped");
    },
  };
}

/** The command `deno task gateway`. */
export const GATEWAY = defineCommand({
  name: "gateway",
  summary: `Serves the data-services API on one port (gRPC, gRPC-web, Connect; CORS) and forwards
each call to the instance that owns its channel (jump consistent hash, health-aware
failover). Serves the dashboard at /.`,
  flags: [
    {
      name: "host",
      env: "HOST",
      type: "string",
      default: defaults.HOST,
      help: "address to listen on",
    },
    {
      name: "port",
      env: "PORT",
      type: "int",
      min: 0,
      max: 65535,
      default: defaults.GATEWAY_PORT,
      arg: "P",
      help: "port",
    },
    {
      name: "targets",
      env: DATA_SERVICES_ENV,
      type: "list",
      help: "ordered host:port,... of the instances, or one DNS name re-resolved every\n" +
        "5 s: dns:///data-services.default.svc:50051 (A/AAAA records, sorted) or\n" +
        "dns+srv:///_grpc._tcp.NAME (SRV)",
    },
    {
      name: "targets-file",
      type: "string",
      arg: "F",
      help: "file with the list (one per line or comma-separated), re-read on change",
    },
    {
      name: "protocol",
      type: "enum",
      choices: ["grpc", "connect", "grpc-web"],
      default: "grpc",
      help: "towards the instances",
    },
    {
      name: "cors-origins",
      env: "CORS_ORIGINS",
      type: "list",
      default: defaults.CORS_ORIGINS,
      arg: "L",
      help: "allowed browser origins",
    },
  ],
});

if (import.meta.main) {
  const parsed = parseOrExitCode(GATEWAY, Deno.args);
  if (typeof parsed === "number") Deno.exit(parsed);
  const values = parsed.values;
  const targetsFile = values["targets-file"];
  const targets = values.targets?.length ? values.targets : undefined;
  if (!targets && !targetsFile) {
    Deno.exit(usageError(
      GATEWAY,
      new FlagError("no instances: give --targets, --targets-file or DATA_SERVICES"),
    ));
  }
  let gw: Gateway;
  try {
    gw = await startGateway({
      host: values.host,
      port: values.port,
      // A file, when given, replaces DATA_SERVICES (an explicit --targets still wins).
      targets: targetsFile && !parsed.given.has("targets") ? undefined : targets,
      targetsFile,
      protocol: values.protocol,
      corsOrigins: values["cors-origins"],
    });
  } catch (err) {
    const e = err as Error & { code?: string };
    console.error(
      `error: ${e.code === "EADDRINUSE" ? `port ${values.port} is already in use` : e.message}`,
    );
    Deno.exit(1);
  }
  onShutdown({ onFirst: () => gw.close() });
}
