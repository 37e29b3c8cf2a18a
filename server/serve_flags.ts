/**
 * The flags of `deno task serve`: every flag, its environment variable,
 * default and meaning, as one table (`lib/flags.ts` parses it and prints
 * `--help` from it; `cli/readme_flags.ts` writes it into the README).
 * {@linkcode parseConfig} in `config.ts` turns parsed values into a
 * `ServerConfig`.
 *
 * @module
 */
import * as defaults from "../lib/defaults.ts";
import { DEFAULT_BODY_TIMEOUT_MS } from "../http/fast/body_deadline.ts";
import { defineCommand } from "../lib/flags.ts";
import { drainFlag, FAST_PORT_FLAG, TLS_FLAGS } from "../lib/listen_flags.ts";

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
    FAST_PORT_FLAG,
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
        "unary path (for comparison: connect-es answers undecodable binary with INTERNAL\n" +
        "and reads JSON integers leniently)",
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
      name: "query-limit",
      env: "QUERY_LIMIT",
      type: "enum",
      choices: ["adaptive", "fixed"],
      default: "adaptive",
      help: "Concurrency limit of Cassandra reads: 'adaptive' (moved by query latency,\n" +
        "TCP Vegas as in Netflix's concurrency-limits, between --min- and\n" +
        "--max-concurrent-queries) or 'fixed' (--max-concurrent-queries)",
    },
    {
      name: "min-concurrent-queries",
      env: "MIN_CONCURRENT_QUERIES",
      type: "int",
      min: 1,
      max: 100_000,
      default: 32,
      help: "Floor of the adaptive limit (at most --max-concurrent-queries)",
    },
    {
      name: "max-concurrent-queries",
      env: "MAX_CONCURRENT_QUERIES",
      type: "int",
      min: 1,
      max: 100_000,
      default: 256,
      help: "Most Cassandra reads running at once: the ceiling of the adaptive limit, or\n" +
        "the fixed limit",
    },
    {
      name: "max-queue-wait-ms",
      env: "MAX_QUEUE_WAIT_MS",
      type: "duration",
      bare: "ms",
      min: 0,
      max: 600_000,
      default: 1000,
      help: "A new read whose estimated wait for a query slot (queued x recent query\n" +
        "time / limit) is over this is refused at once with RESOURCE_EXHAUSTED; 0 = no bound",
    },
    {
      name: "max-queued-queries",
      env: "MAX_QUEUED_QUERIES",
      type: "int",
      min: 0,
      max: 1_000_000,
      default: 2048,
      help: "Most reads waiting for a query slot (then RESOURCE_EXHAUSTED)",
    },
    {
      name: "max-concurrent-writes",
      env: "MAX_CONCURRENT_WRITES",
      type: "int",
      min: 1,
      max: 100_000,
      default: 256,
      help: "Most CreateMessage writes running against Cassandra at once",
    },
    {
      name: "max-queued-writes",
      env: "MAX_QUEUED_WRITES",
      type: "int",
      min: 0,
      max: 1_000_000,
      default: 2048,
      help: "Most writes waiting for a slot (then RESOURCE_EXHAUSTED)",
    },
    {
      name: "channel-write-rate",
      env: "CHANNEL_WRITE_RATE",
      type: "number",
      min: 0,
      default: 100,
      help: "CreateMessage per second per channel (token bucket; past it RESOURCE_EXHAUSTED\n" +
        "with a RetryInfo delay); 0 = no per-channel limit",
    },
    {
      name: "channel-write-burst",
      env: "CHANNEL_WRITE_BURST",
      type: "int",
      min: 1,
      max: 1_000_000,
      default: 200,
      help: "Writes a channel may send at once before the rate applies (bucket size)",
    },
    {
      name: "max-write-buckets",
      env: "MAX_WRITE_BUCKETS",
      type: "int",
      min: 1,
      max: 10_000_000,
      default: 100_000,
      help: "Channels with a write bucket kept at once (idle, full buckets are dropped\n" +
        "first; past it the least recently used goes)",
    },
    {
      name: "hot-keys",
      env: "HOT_KEYS",
      type: "int",
      min: 0,
      max: 4096,
      default: 64,
      help: "Counters per hot-key sketch (channels and coalescing keys tracked per 2 s\n" +
        "slice; GetHotKeys, /debug/hotkeys); 0 = no hot-key telemetry",
    },
    {
      name: "max-inflight-requests",
      env: "MAX_INFLIGHT_REQUESTS",
      type: "int",
      min: 1,
      max: 10_000_000,
      default: 20000,
      help: "Requests in flight on the instance (both listeners); past it, RESOURCE_EXHAUSTED\n" +
        "before the request is read (health, readiness, metrics, GetStats exempt)",
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
      name: "body-timeout-ms",
      env: "BODY_TIMEOUT_MS",
      type: "duration",
      bare: "ms",
      min: 0,
      max: 600_000,
      default: DEFAULT_BODY_TIMEOUT_MS,
      help: "Most time a unary request's body may take after its headers (then\n" +
        "DEADLINE_EXCEEDED; HTTP/1.1 closes the connection); 0 = no bound",
    },
    drainFlag(10000, "On SIGINT/SIGTERM, how long in-flight requests may finish"),
    {
      name: "drain-delay-ms",
      env: "DRAIN_DELAY_MS",
      type: "duration",
      bare: "ms",
      min: 0,
      max: 60_000,
      default: 1500,
      help: "On SIGINT/SIGTERM, how long the instance keeps serving after it reports not ready,\n" +
        "before it closes its connections, so routers (probing every second) and load\n" +
        "balancers move its channels first; 0 = close at once",
    },
    ...TLS_FLAGS,
  ],
  epilogue: "Environment only: LOG_LEVEL (debug, info, warn, error; default info),\n" +
    "OTEL_DENO=true (OpenTelemetry spans per RPC).",
});
