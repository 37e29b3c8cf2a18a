/**
 * Configuration of a data-service instance: command-line flags, each with an
 * environment variable, and defaults. `deno task serve --help` prints them.
 *
 * @module
 */
import { parseArgs } from "node:util";

/** A flag, its environment variable, default and meaning. */
interface Option {
  flag: string;
  env: string;
  type: "string" | "boolean";
  default: string | boolean;
  help: string;
}

/** Every option of `deno task serve`. Order is the order of --help. */
export const OPTIONS = [
  { flag: "host", env: "HOST", type: "string", default: "127.0.0.1", help: "Address to listen on" },
  {
    flag: "port",
    env: "PORT",
    type: "string",
    default: "50051",
    help:
      "Main port: every protocol (gRPC, gRPC-web, Connect), HTTP/1.1 and h2c (0 = any free port)",
  },
  {
    flag: "fast-port",
    env: "FAST_PORT",
    type: "string",
    default: "",
    help:
      "Second listener (Deno.serve): Connect and gRPC-web at about half the CPU per call; clients find it in /healthz. 'off' = none (default: port + 1000; any free port when port is 0)",
  },
  {
    flag: "http2-max-streams",
    env: "HTTP2_MAX_STREAMS",
    type: "string",
    default: "100000",
    help:
      "Main port: HTTP/2 concurrent streams per connection (SETTINGS_MAX_CONCURRENT_STREAMS); gRPC clients open thousands on one connection",
  },
  {
    flag: "worker-id",
    env: "WORKER_ID",
    type: "string",
    default: "",
    help:
      "Snowflake worker id 0..1023, unique per instance (default: port mod 1024; random for port 0)",
  },
  {
    flag: "cassandra-contact-points",
    env: "CASSANDRA_CONTACT_POINTS",
    type: "string",
    default: "127.0.0.1",
    help: "Comma-separated Cassandra hosts (host or host:port)",
  },
  {
    flag: "cassandra-local-dc",
    env: "CASSANDRA_LOCAL_DC",
    type: "string",
    default: "datacenter1",
    help: "Local data center of the driver's load balancing",
  },
  {
    flag: "cassandra-keyspace",
    env: "CASSANDRA_KEYSPACE",
    type: "string",
    default: "dataservices",
    help: "Keyspace",
  },
  {
    flag: "cassandra-consistency",
    env: "CASSANDRA_CONSISTENCY",
    type: "string",
    default: "LOCAL_QUORUM",
    help: "Consistency level of reads and writes",
  },
  {
    flag: "query-timeout-ms",
    env: "QUERY_TIMEOUT_MS",
    type: "string",
    default: "5000",
    help: "Driver timeout of one Cassandra query (then DEADLINE_EXCEEDED)",
  },
  {
    flag: "no-schema",
    env: "NO_SCHEMA",
    type: "boolean",
    default: false,
    help: "Do not create the keyspace and tables at start",
  },
  {
    flag: "cors-origins",
    env: "CORS_ORIGINS",
    type: "string",
    default: "localhost",
    help:
      "Allowed browser origins, comma-separated; 'localhost' = any http(s)://localhost|127.0.0.1 port; '*' = any",
  },
  {
    flag: "no-coalesce",
    env: "NO_COALESCE",
    type: "boolean",
    default: false,
    help: "Turn request coalescing off (every read queries Cassandra)",
  },
  {
    flag: "max-waiters",
    env: "MAX_WAITERS",
    type: "string",
    default: "10000",
    help: "Most callers sharing one flight",
  },
  {
    flag: "max-flights",
    env: "MAX_FLIGHTS",
    type: "string",
    default: "10000",
    help: "Most distinct reads in flight",
  },
  {
    flag: "on-cap",
    env: "ON_CAP",
    type: "string",
    default: "reject",
    help:
      "Past max-waiters/max-flights: 'reject' (RESOURCE_EXHAUSTED) or 'independent' (own query)",
  },
  {
    flag: "max-concurrent-queries",
    env: "MAX_CONCURRENT_QUERIES",
    type: "string",
    default: "256",
    help: "Most Cassandra reads running at once",
  },
  {
    flag: "max-queued-queries",
    env: "MAX_QUEUED_QUERIES",
    type: "string",
    default: "10000",
    help: "Most reads waiting for a query slot (then RESOURCE_EXHAUSTED)",
  },
  {
    flag: "flight-timeout-ms",
    env: "FLIGHT_TIMEOUT_MS",
    type: "string",
    default: "10000",
    help: "Bound on a shared query; past it every waiter gets DEADLINE_EXCEEDED",
  },
  {
    flag: "max-flight-age-ms",
    env: "MAX_FLIGHT_AGE_MS",
    type: "string",
    default: "2000",
    help: "A flight older than this takes no new waiters (stuck-flight escape)",
  },
  {
    flag: "read-max-bytes",
    env: "READ_MAX_BYTES",
    type: "string",
    default: "65536",
    help: "Largest request message accepted (then RESOURCE_EXHAUSTED)",
  },
  {
    flag: "drain-ms",
    env: "DRAIN_MS",
    type: "string",
    default: "10000",
    help: "On SIGINT/SIGTERM, how long in-flight requests may finish",
  },
  {
    flag: "tls-cert",
    env: "TLS_CERT",
    type: "string",
    default: "",
    help: "PEM certificate file: serve TLS (HTTP/2 and HTTP/1.1 by ALPN)",
  },
  { flag: "tls-key", env: "TLS_KEY", type: "string", default: "", help: "PEM private key file" },
  { flag: "help", env: "", type: "boolean", default: false, help: "Print this help" },
] as const satisfies readonly Option[];

/** Parsed configuration. */
export interface ServerConfig {
  host: string;
  port: number;
  /** The fast listener's port (0 = any free port); undefined = no fast listener. */
  fastPort: number | undefined;
  http2MaxStreams: number;
  workerId: number;
  contactPoints: string[];
  localDataCenter: string;
  keyspace: string;
  consistency: string;
  queryTimeoutMs: number;
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

/** A configuration error: printed with the help hint, exit code 2. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

function int(name: string, raw: string, min: number, max: number): number {
  const n = Number(raw);
  if (!/^-?\d+$/.test(raw.trim()) || n < min || n > max) {
    throw new ConfigError(
      `--${name} must be an integer in ${min}..${max}, got ${JSON.stringify(raw)}`,
    );
  }
  return n;
}

/** Parses flags (and environment variables for flags not given). */
export function parseConfig(
  args: string[],
  env: (name: string) => string | undefined = (n) => Deno.env.get(n),
): ServerConfig {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: Object.fromEntries(OPTIONS.map((o) => [o.flag, { type: o.type }])),
    }).values;
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  const get = (flag: string): string | boolean => {
    const o = OPTIONS.find((x) => x.flag === flag)!;
    const v = values[flag];
    if (v !== undefined) return v;
    const e = o.env ? env(o.env) : undefined;
    if (e !== undefined && e !== "") {
      return o.type === "boolean" ? /^(1|true|yes|on)$/i.test(e) : e;
    }
    return o.default;
  };
  const s = (flag: string) => String(get(flag));
  const port = int("port", s("port"), 0, 65535);
  const onCap = s("on-cap");
  if (onCap !== "reject" && onCap !== "independent") {
    throw new ConfigError(
      `--on-cap must be 'reject' or 'independent', got ${JSON.stringify(onCap)}`,
    );
  }
  const certFile = s("tls-cert");
  const keyFile = s("tls-key");
  if (Boolean(certFile) !== Boolean(keyFile)) {
    throw new ConfigError("--tls-cert and --tls-key must be given together");
  }
  const list = (flag: string) => s(flag).split(",").map((x) => x.trim()).filter(Boolean);
  const contactPoints = list("cassandra-contact-points");
  if (contactPoints.length === 0) throw new ConfigError("--cassandra-contact-points is empty");
  const fast = s("fast-port");
  const fastPort = fast === "off"
    ? undefined
    : fast === ""
    ? (port === 0 ? 0 : port + 1000)
    : int("fast-port", fast, 0, 65535);
  if (fastPort !== undefined && fastPort > 65535) {
    throw new ConfigError(`--fast-port defaults to port + 1000 = ${fastPort}: give --fast-port`);
  }
  if (fastPort !== undefined && fastPort !== 0 && fastPort === port) {
    throw new ConfigError("--fast-port must differ from --port");
  }
  return {
    host: s("host"),
    port,
    fastPort,
    http2MaxStreams: int("http2-max-streams", s("http2-max-streams"), 1, 2 ** 31 - 1),
    // Port 0 (any free port) gives no stable hint: pick a random worker id then.
    workerId: s("worker-id") !== ""
      ? int("worker-id", s("worker-id"), 0, 1023)
      : port === 0
      ? Math.floor(Math.random() * 1024)
      : port % 1024,
    contactPoints,
    localDataCenter: s("cassandra-local-dc"),
    keyspace: s("cassandra-keyspace"),
    consistency: s("cassandra-consistency"),
    queryTimeoutMs: int("query-timeout-ms", s("query-timeout-ms"), 1, 600_000),
    applySchema: !get("no-schema"),
    corsOrigins: list("cors-origins"),
    coalesce: !get("no-coalesce"),
    maxWaiters: int("max-waiters", s("max-waiters"), 1, 1_000_000),
    maxFlights: int("max-flights", s("max-flights"), 1, 1_000_000),
    onCap,
    maxConcurrentQueries: int("max-concurrent-queries", s("max-concurrent-queries"), 1, 100_000),
    maxQueuedQueries: int("max-queued-queries", s("max-queued-queries"), 0, 1_000_000),
    flightTimeoutMs: int("flight-timeout-ms", s("flight-timeout-ms"), 1, 600_000),
    maxFlightAgeMs: int("max-flight-age-ms", s("max-flight-age-ms"), 1, 600_000),
    readMaxBytes: int("read-max-bytes", s("read-max-bytes"), 1024, 64 * 1024 * 1024),
    drainMs: int("drain-ms", s("drain-ms"), 0, 600_000),
    tls: certFile ? { certFile, keyFile } : undefined,
    help: Boolean(get("help")),
  };
}

/** The --help text. */
export function helpText(): string {
  const rows = OPTIONS.map((o) => {
    const def = o.type === "boolean" || o.default === "" ? "" : ` (default ${o.default})`;
    const env = o.env ? ` [env ${o.env}]` : "";
    return `  --${o.flag}${o.type === "string" ? " <value>" : ""}\n      ${o.help}${def}${env}`;
  });
  return `Usage: deno task serve [options]\n\nRuns one data-service instance: gRPC, gRPC-web and Connect on one port, and Connect\nand gRPC-web on a second, faster listener.\n\nOptions:\n${
    rows.join("\n")
  }\n`;
}
