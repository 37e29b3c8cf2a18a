/**
 * Configuration of a data-service instance: the flags of `serve_flags.ts`
 * (each with an environment variable) parsed into a {@linkcode ServerConfig}.
 * `deno task serve --help` prints them.
 *
 * @module
 */
import { type Env, FlagError, helpText as commandHelp, parseCommand } from "../lib/flags.ts";
import { parseFastPort, parseTlsFlags, type TlsFiles } from "../lib/listen_flags.ts";
import { SERVE } from "./serve_flags.ts";

export { SERVE };

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
  queryLimit: "adaptive" | "fixed";
  minConcurrentQueries: number;
  maxConcurrentQueries: number;
  maxQueuedQueries: number;
  /** 0 = no bound. */
  maxQueueWaitMs: number;
  /** Writes/s per channel; 0 = no bucket. */
  channelWriteRate: number;
  channelWriteBurst: number;
  maxWriteBuckets: number;
  /** Counters per hot-key sketch; 0 = off. */
  hotKeys: number;
  maxConcurrentWrites: number;
  maxQueuedWrites: number;
  maxInFlightRequests: number;
  flightTimeoutMs: number;
  maxFlightAgeMs: number;
  readMaxBytes: number;
  /** Most ms a unary request body may take after its head; 0 = no bound. */
  bodyTimeoutMs: number;
  drainMs: number;
  /** On a signal, keep serving this long after readiness flips (ms). */
  drainDelayMs: number;
  tls?: TlsFiles;
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
  const tls = parseTlsFlags(v["tls-cert"], v["tls-key"]);
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
    queryLimit: v["query-limit"],
    // The floor never exceeds the ceiling (a small --max-concurrent-queries lowers it).
    minConcurrentQueries: Math.min(v["min-concurrent-queries"], v["max-concurrent-queries"]),
    maxConcurrentQueries: v["max-concurrent-queries"],
    maxQueuedQueries: v["max-queued-queries"],
    maxQueueWaitMs: v["max-queue-wait-ms"],
    channelWriteRate: v["channel-write-rate"],
    channelWriteBurst: v["channel-write-burst"],
    maxWriteBuckets: v["max-write-buckets"],
    hotKeys: v["hot-keys"],
    maxConcurrentWrites: v["max-concurrent-writes"],
    maxQueuedWrites: v["max-queued-writes"],
    maxInFlightRequests: v["max-inflight-requests"],
    flightTimeoutMs: v["flight-timeout-ms"],
    maxFlightAgeMs: v["max-flight-age-ms"],
    readMaxBytes: v["read-max-bytes"],
    bodyTimeoutMs: v["body-timeout-ms"],
    drainMs: v["drain-ms"],
    drainDelayMs: v["drain-delay-ms"],
    tls,
    help: false,
  };
}

/** The --help text. */
export function helpText(): string {
  return commandHelp(SERVE);
}
