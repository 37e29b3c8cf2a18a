/**
 * Configuration of a data-service instance: command-line flags, each with an
 * environment variable, and defaults. `deno task serve --help` prints them.
 *
 * @module
 */
import * as defaults from "../lib/defaults.ts";
import {
  defineCommand,
  type Env,
  FlagError,
  helpText as commandHelp,
  parseCommand,
} from "../lib/flags.ts";

/** The command `deno task serve`: every flag, its environment variable, default and meaning. */
export const SERVE = defineCommand({
  name: "serve",
  summary: "Runs one data-service instance: gRPC, gRPC-web and Connect on one port, and Connect\n" +
    "and gRPC-web on a second, faster listener (see --fast-port).",
  flags: [
    {
      name: "host",
      env: "HOST",
      type: "string",
      default: defaults.HOST,
      help: "Address to listen on",
    },
    {
      name: "port",
      env: "PORT",
      type: "int",
      min: 0,
      max: 65535,
      default: defaults.INSTANCE_PORT,
      help: "Main port: every protocol (gRPC, gRPC-web, Connect), HTTP/1.1 and h2c\n" +
        "(0 = any free port)",
    },
    {
      name: "fast-port",
      env: "FAST_PORT",
      type: "string",
      arg: "PORT|off",
      help: "Second listener (Deno.serve): Connect and gRPC-web at about half the CPU per\n" +
        "call; clients find it in /healthz; 'off' = none",
      defaultHelp: "port + 1000; any free port when port is 0",
    },
    {
      name: "http2-max-streams",
      env: "HTTP2_MAX_STREAMS",
      type: "int",
      min: 1,
      max: 2 ** 31 - 1,
      default: defaults.HTTP2_MAX_STREAMS,
      help: "Main port: concurrent HTTP/2 streams per connection (gRPC clients open\n" +
        "thousands on one connection)",
    },
    {
      name: "no-fast-path",
      env: "NO_FAST_PATH",
      type: "bool",
      help: "Serve every call through connect-es (the library path) instead of the fast\n" +
        "unary path",
    },
    {
      name: "worker-id",
      env: "WORKER_ID",
      type: "int",
      min: 0,
      max: 1023,
      help: "Take this Snowflake worker id 0..1023 (leased in Cassandra like any other;\n" +
        "held by another running instance: the instance exits)",
      defaultHelp: "any free id, leased in Cassandra",
    },
    {
      name: "worker-lease-ttl",
      env: "WORKER_LEASE_TTL",
      type: "duration",
      bare: "s",
      min: 3000,
      max: 600_000,
      default: 30_000,
      help: "Lease of the worker id: renewed every third of it; ids are minted only\n" +
        "within 2/3 of it after a renewal; a crashed instance's id is free after it",
    },
    {
      name: "cassandra-contact-points",
      env: "CASSANDRA_CONTACT_POINTS",
      type: "list",
      default: defaults.CONTACT_POINTS,
      help: "Comma-separated Cassandra hosts (host or host:port)",
    },
    {
      name: "cassandra-local-dc",
      env: "CASSANDRA_LOCAL_DC",
      type: "string",
      default: defaults.LOCAL_DC,
      help: "Local data center of the driver's load balancing",
    },
    {
      name: "cassandra-keyspace",
      env: "CASSANDRA_KEYSPACE",
      type: "string",
      default: defaults.KEYSPACE,
      help: "Keyspace",
    },
    {
      name: "cassandra-consistency",
      env: "CASSANDRA_CONSISTENCY",
      type: "string",
      default: "LOCAL_QUORUM",
      help: "Consistency level of reads and writes",
    },
    {
      name: "query-timeout-ms",
      env: "QUERY_TIMEOUT_MS",
      type: "duration",
      bare: "ms",
      min: 1,
      max: 600_000,
      default: 5000,
      help: "Bound of one Cassandra read or write, all its statements and the driver's\n" +
        "retries included (then DEADLINE_EXCEEDED)",
    },
    {
      name: "probe-interval-ms",
      env: "PROBE_INTERVAL_MS",
      type: "duration",
      bare: "ms",
      min: 10,
      max: 60_000,
      default: 250,
      help: "Pause between readiness probes of Cassandra (on a connection of their own)",
    },
    {
      name: "probe-timeout-ms",
      env: "PROBE_TIMEOUT_MS",
      type: "duration",
      bare: "ms",
      min: 10,
      max: 60_000,
      default: 750,
      help: "A readiness probe not answered within this fails: not ready",
    },
    {
      name: "no-schema",
      env: "NO_SCHEMA",
      type: "bool",
      help: "Do not create the keyspace and tables at start",
    },
    {
      name: "cors-origins",
      env: "CORS_ORIGINS",
      type: "list",
      default: defaults.CORS_ORIGINS,
      help: "Allowed browser origins, comma-separated; 'localhost' = any\n" +
        "http(s)://localhost|127.0.0.1 port; '*' = any",
    },
    {
      name: "no-coalesce",
      env: "NO_COALESCE",
      type: "bool",
      help: "Turn request coalescing off (every read queries Cassandra)",
    },
    {
      name: "max-waiters",
      env: "MAX_WAITERS",
      type: "int",
      min: 1,
      max: 1_000_000,
      default: 10000,
      help: "Most callers sharing one flight",
    },
    {
      name: "max-flights",
      env: "MAX_FLIGHTS",
      type: "int",
      min: 1,
      max: 1_000_000,
      default: 10000,
      help: "Most distinct reads in flight",
    },
    {
      name: "on-cap",
      env: "ON_CAP",
      type: "enum",
      choices: ["reject", "independent"],
      default: "reject",
      help: "Past max-waiters/max-flights: 'reject' (RESOURCE_EXHAUSTED) or\n" +
        "'independent' (own query)",
    },
    {
      name: "max-concurrent-queries",
      env: "MAX_CONCURRENT_QUERIES",
      type: "int",
      min: 1,
      max: 100_000,
      default: 256,
      help: "Most Cassandra reads running at once",
    },
    {
      name: "max-queued-queries",
      env: "MAX_QUEUED_QUERIES",
      type: "int",
      min: 0,
      max: 1_000_000,
      default: 10000,
      help: "Most reads waiting for a query slot (then RESOURCE_EXHAUSTED)",
    },
    {
      name: "flight-timeout-ms",
      env: "FLIGHT_TIMEOUT_MS",
      type: "duration",
      bare: "ms",
      min: 1,
      max: 600_000,
      default: 10000,
      help: "Bound on a shared query; past it every waiter gets DEADLINE_EXCEEDED",
    },
    {
      name: "max-flight-age-ms",
      env: "MAX_FLIGHT_AGE_MS",
      type: "duration",
      bare: "ms",
      min: 1,
      max: 600_000,
      default: 2000,
      help: "A flight older than this takes no new waiters (stuck-flight escape)",
    },
    {
      name: "read-max-bytes",
      env: "READ_MAX_BYTES",
      type: "int",
      min: 1024,
      max: 64 * 1024 * 1024,
      default: defaults.READ_MAX_BYTES,
      help: "Largest request message accepted (then RESOURCE_EXHAUSTED)",
    },
    {
      name: "drain-ms",
      env: "DRAIN_MS",
      type: "duration",
      bare: "ms",
      min: 0,
      max: 600_000,
      default: 10000,
      help: "On SIGINT/SIGTERM, how long in-flight requests may finish",
    },
    {
      name: "tls-cert",
      env: "TLS_CERT",
      type: "string",
      arg: "FILE",
      help: "PEM certificate file: serve TLS (HTTP/2 and HTTP/1.1 by ALPN)",
    },
    { name: "tls-key", env: "TLS_KEY", type: "string", arg: "FILE", help: "PEM private key file" },
  ],
  epilogue: "Environment only: LOG_LEVEL (debug, info, warn, error; default info),\n" +
    "OTEL_DENO=true (OpenTelemetry spans per RPC).",
});

/** Every option of `deno task serve`, in --help order. */
export const OPTIONS = SERVE.flags;

/** Parsed configuration. */
export interface ServerConfig {
  host: string;
  port: number;
  /** The fast listener's port (0 = any free port); undefined = no fast listener. */
  fastPort: number | undefined;
  http2MaxStreams: number;
  fastPath: boolean;
  /** An explicit worker id; undefined: any free one (leased either way). */
  workerId: number | undefined;
  workerLeaseTtlMs: number;
  contactPoints: string[];
  localDataCenter: string;
  keyspace: string;
  consistency: string;
  queryTimeoutMs: number;
  probeIntervalMs: number;
  probeTimeoutMs: number;
  applySchema: boolean;
  corsOrigins: string[];
  coalesce: boolean;
  maxWaiters: number;
  maxFlights: number;
  onCap: "reject" | "independent";
  maxConcurrentQueries: number;
  maxQueuedQueries: number;
  flightTimeoutMs: number;
  maxFlightAgeMs: number;
  readMaxBytes: number;
  drainMs: number;
  tls?: { certFile: string; keyFile: string };
  help: boolean;
}

/** A configuration error: {@linkcode FlagError} (printed with the help hint, exit code 2). */
export { FlagError as ConfigError };

/**
 * Parses flags (and environment variables for flags not given).
 *
 * @throws {FlagError} naming the flag (exit code 2).
 */
export function parseConfig(args: string[], env?: Env): ServerConfig {
  const parsed = parseCommand(SERVE, args, env);
  if (parsed.help) return { ...parseConfig([], () => undefined), help: true };
  const v = parsed.values;
  const certFile = v["tls-cert"] ?? "";
  const keyFile = v["tls-key"] ?? "";
  if (Boolean(certFile) !== Boolean(keyFile)) {
    throw new FlagError("--tls-cert and --tls-key must be given together");
  }
  if (v["cassandra-contact-points"].length === 0) {
    throw new FlagError("--cassandra-contact-points is empty");
  }
  const fastPort = parseFastPort(v["fast-port"], v.port);
  if (v["worker-lease-ttl"] % 1000 !== 0) {
    throw new FlagError(
      `--worker-lease-ttl must be whole seconds (a Cassandra TTL), got ${v["worker-lease-ttl"]} ms`,
    );
  }
  return {
    host: v.host,
    port: v.port,
    fastPort,
    http2MaxStreams: v["http2-max-streams"],
    fastPath: !v["no-fast-path"],
    workerId: v["worker-id"],
    workerLeaseTtlMs: v["worker-lease-ttl"],
    contactPoints: v["cassandra-contact-points"],
    localDataCenter: v["cassandra-local-dc"],
    keyspace: v["cassandra-keyspace"],
    consistency: v["cassandra-consistency"],
    queryTimeoutMs: v["query-timeout-ms"],
    probeIntervalMs: v["probe-interval-ms"],
    probeTimeoutMs: v["probe-timeout-ms"],
    applySchema: !v["no-schema"],
    corsOrigins: v["cors-origins"],
    coalesce: !v["no-coalesce"],
    maxWaiters: v["max-waiters"],
    maxFlights: v["max-flights"],
    onCap: v["on-cap"],
    maxConcurrentQueries: v["max-concurrent-queries"],
    maxQueuedQueries: v["max-queued-queries"],
    flightTimeoutMs: v["flight-timeout-ms"],
    maxFlightAgeMs: v["max-flight-age-ms"],
    readMaxBytes: v["read-max-bytes"],
    drainMs: v["drain-ms"],
    tls: certFile ? { certFile, keyFile } : undefined,
    help: false,
  };
}

/** `--fast-port`: a port, "off", or unset (port + 1000; 0 when port is 0). */
function parseFastPort(raw: string | undefined, port: number): number | undefined {
  if (raw === "off") return undefined;
  let fast: number;
  if (raw === undefined || raw === "") {
    fast = port === 0 ? 0 : port + defaults.FAST_PORT_OFFSET;
    if (fast > 65535) {
      throw new FlagError(
        `--fast-port defaults to --port + ${defaults.FAST_PORT_OFFSET} = ${fast}: give --fast-port`,
      );
    }
    return fast;
  }
  fast = Number(raw);
  if (!/^\d+$/.test(raw) || fast > 65535) {
    throw new FlagError(`--fast-port must be a port 0..65535 or 'off', got ${JSON.stringify(raw)}`);
  }
  if (fast !== 0 && fast === port) throw new FlagError("--fast-port must differ from --port");
  return fast;
}

/** The --help text. */
export function helpText(): string {
  return commandHelp(SERVE);
}
