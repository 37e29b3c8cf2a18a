/**
 * The command `deno task gateway`: flags (each with an environment variable)
 * to {@linkcode startGateway}, SIGINT/SIGTERM to a drain.
 *
 * @module
 */
import * as defaults from "../lib/defaults.ts";
import { defineCommand, FlagError, parseOrExitCode, usageError } from "../lib/flags.ts";
import {
  drainFlag,
  FAST_PORT_FLAG,
  parseFastPort,
  parseTlsFlags,
  readTlsFiles,
  TLS_FLAGS,
} from "../lib/listen_flags.ts";
import { onShutdown } from "../lib/shutdown.ts";
import { createLogger } from "../lib/log.ts";
import { guardPeerGone } from "../lib/peer_gone.ts";
import { DATA_SERVICES_ENV } from "../router/node.ts";
import { type Gateway, startGateway } from "./gateway.ts";
import { UPSTREAM_PROTOCOLS } from "./upstream.ts";

/** The command `deno task gateway`. */
export const GATEWAY = defineCommand({
  name: "gateway",
  summary: `Serves the data-services API (gRPC, gRPC-web, Connect; CORS) on a main port and a fast
listener, and forwards each call to the instance that owns its channel (jump consistent
hash, health-aware failover, one retry of reads on the fallback). Serves the dashboard
at /, /healthz, /readyz (200 while an instance is up) and /metrics.`,
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
      help: "main port: every protocol, HTTP/1.1 and h2c (0 = any free port)",
    },
    FAST_PORT_FLAG,
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
      env: "UPSTREAM_PROTOCOL",
      type: "enum",
      choices: UPSTREAM_PROTOCOLS,
      default: "fast",
      help: "towards the instances: 'fast' = Connect over fetch to each instance's fast\n" +
        "listener (found in its /healthz); grpc, connect or grpc-web = connect-node\n" +
        "to its main port",
    },
    {
      name: "upstream-timeout",
      env: "UPSTREAM_TIMEOUT",
      type: "duration",
      bare: "ms",
      min: 1,
      max: 600_000,
      default: 30_000,
      help: "deadline of forwarded calls whose caller set none",
    },
    {
      name: "cors-origins",
      env: "CORS_ORIGINS",
      type: "list",
      default: defaults.CORS_ORIGINS,
      arg: "L",
      help: "allowed browser origins",
    },
    {
      name: "access-log",
      env: "ACCESS_LOG",
      type: "bool",
      help: "one JSON line per forwarded call at info level (rpc, code, ms, instance,\n" +
        "attempts, protocol, peer); also on with LOG_LEVEL=debug. Off by default:\n" +
        "under overload a line per call becomes its own overload",
    },
    drainFlag(5000, "on SIGINT/SIGTERM, how long in-flight calls may finish"),
    ...TLS_FLAGS,
  ],
  epilogue: "Environment only: LOG_LEVEL (debug, info, warn, error; default info),\n" +
    "OTEL_DENO=true (OpenTelemetry spans per RPC).",
});

if (import.meta.main) {
  const parsed = parseOrExitCode(GATEWAY, Deno.args);
  if (typeof parsed === "number") Deno.exit(parsed);
  const values = parsed.values;
  const targetsFile = values["targets-file"];
  const targets = values.targets?.length ? values.targets : undefined;
  let fastPort: number | undefined;
  let tlsFiles;
  try {
    if (!targets && !targetsFile) {
      throw new FlagError("no instances: give --targets, --targets-file or DATA_SERVICES");
    }
    fastPort = parseFastPort(values["fast-port"], values.port);
    tlsFiles = parseTlsFlags(values["tls-cert"], values["tls-key"]);
  } catch (err) {
    if (!(err instanceof FlagError)) throw err;
    Deno.exit(usageError(GATEWAY, err));
  }
  // A peer that hung up must not end the process through a node:http2-internal socket.
  guardPeerGone(createLogger({ service: "gateway" }));
  let gw: Gateway;
  try {
    gw = await startGateway({
      host: values.host,
      port: values.port,
      fastPort: fastPort ?? "off",
      // A file, when given, replaces DATA_SERVICES (an explicit --targets still wins).
      targets: targetsFile && !parsed.given.has("targets") ? undefined : targets,
      targetsFile,
      protocol: values.protocol,
      upstreamTimeoutMs: values["upstream-timeout"],
      corsOrigins: values["cors-origins"],
      accessLog: values["access-log"] || Deno.env.get("LOG_LEVEL")?.toLowerCase() === "debug",
      tls: tlsFiles && await readTlsFiles(tlsFiles),
    });
  } catch (err) {
    const e = err as Error & { code?: string };
    const ports = fastPort === undefined ? `${values.port}` : `${values.port} or ${fastPort}`;
    console.error(
      `error: ${e.code === "EADDRINUSE" ? `port ${ports} is already in use` : e.message}`,
    );
    Deno.exit(1);
  }
  const drainMs = values["drain-ms"];
  onShutdown({ onFirst: () => gw.close(drainMs) });
}
