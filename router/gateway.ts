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
 * call instances directly for per-instance figures.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { createClient, type ServiceImpl } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { MessagesService } from "../gen/dataservices/v1/messages_pb.ts";
import { MessagesService as CompatService } from "../gen/messages/messages_pb.ts";
import { Health } from "../gen/grpc/health/v1/health_pb.ts";
import { withCors } from "../server/cors.ts";
import { healthService, Readiness } from "../server/health.ts";
import { createLogger } from "../server/log.ts";
import { type NodeRequest, type NodeResponse, serveOnePort } from "../server/one_port.ts";
import { createNodeRoutingTransport, instancesFromEnv } from "./node.ts";
import type { RoutingTransport } from "./transport.ts";

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
    },
    readMaxBytes: options.readMaxBytes ?? 65536,
    fallback: ((req: NodeRequest, res: NodeResponse) => void fallback(req, res)) as never,
    shutdownSignal: shutdown.signal,
  });
  const server = await serveOnePort({
    hostname: options.host ?? "127.0.0.1",
    port: options.port,
    handler: withCors(options.corsOrigins ?? ["localhost"], adapter),
    shutdownController: shutdown,
    limits: { maxConcurrentStreams: 4096 },
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

const HELP = `Usage: deno task gateway [options]

Serves the data-services API on one port (gRPC, gRPC-web, Connect; CORS) and forwards
each call to the instance that owns its channel (jump consistent hash, health-aware
failover). Serves the dashboard at /.

Options:
  --host H            address to listen on (default 127.0.0.1)  [env HOST]
  --port P            port (default 8080)  [env PORT]
  --targets LIST      ordered host:port,... of the instances, or one DNS name
                      re-resolved every 5 s: dns:///data-services.default.svc:50051
                      (A/AAAA records, sorted) or dns+srv:///_grpc._tcp.NAME (SRV)
                      [env DATA_SERVICES]
  --targets-file F    file with the list (one per line or comma-separated), re-read on change
  --protocol P        grpc | connect | grpc-web towards the instances (default grpc)
  --cors-origins L    allowed browser origins (default localhost)  [env CORS_ORIGINS]
  --help              print this help
`;

if (import.meta.main) {
  let values;
  try {
    values = parseArgs({
      args: Deno.args,
      strict: true,
      options: {
        host: { type: "string", default: Deno.env.get("HOST") ?? "127.0.0.1" },
        port: { type: "string", default: Deno.env.get("PORT") ?? "8080" },
        targets: { type: "string" },
        "targets-file": { type: "string" },
        protocol: { type: "string", default: "grpc" },
        "cors-origins": { type: "string", default: Deno.env.get("CORS_ORIGINS") ?? "localhost" },
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
  const port = Number(values.port);
  const protocol = values.protocol;
  const targets = values.targets?.split(",").map((s) => s.trim()).filter(Boolean) ??
    (values["targets-file"] ? undefined : instancesFromEnv());
  const fail = (msg: string) => {
    console.error(`error: ${msg}\n\nRun with --help for the options.`);
    Deno.exit(2);
  };
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    fail(`--port must be 0..65535, got ${values.port}`);
  }
  if (protocol !== "grpc" && protocol !== "connect" && protocol !== "grpc-web") {
    fail(`--protocol must be grpc, connect or grpc-web, got ${protocol}`);
  }
  if (!targets?.length && !values["targets-file"]) {
    fail("no instances: give --targets, --targets-file or DATA_SERVICES");
  }
  let gw: Gateway;
  try {
    gw = await startGateway({
      host: values.host,
      port,
      targets,
      targetsFile: values["targets-file"],
      protocol: protocol as "grpc",
      corsOrigins: values["cors-origins"].split(",").map((s) => s.trim()).filter(Boolean),
    });
  } catch (err) {
    const e = err as Error & { code?: string };
    console.error(
      `error: ${e.code === "EADDRINUSE" ? `port ${port} is already in use` : e.message}`,
    );
    Deno.exit(1);
  }
  let stopping = false;
  const stop = () => {
    if (stopping) Deno.exit(130);
    stopping = true;
    gw.close().then(() => Deno.exit(0), () => Deno.exit(1));
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
}
