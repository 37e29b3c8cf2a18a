/**
 * Defaults that more than one room uses, in one place: where the local stack
 * listens, what it calls its Cassandra data center and keyspace, and the
 * per-connection limits of every server.
 *
 * Browser-safe: constants only.
 *
 * @module
 */

/** Address every server listens on by default (loopback only). */
export const HOST = "127.0.0.1";

/** Port of a data-service instance (`deno task serve`); `deno task start` counts up from it. */
export const INSTANCE_PORT = 50051;

/** Port of the routing gateway (`deno task gateway`, `deno task start`). */
export const GATEWAY_PORT = 8080;

/** Instances `deno task start` runs by default. */
export const START_INSTANCES = 2;

/** `host:port` of the instances `deno task start` runs by default, in router order. */
export const LOCAL_TARGETS: readonly string[] = Object.freeze(
  Array.from({ length: START_INSTANCES }, (_, i) => `${HOST}:${INSTANCE_PORT + i}`),
);

/** Cassandra hosts when none are configured. */
export const CONTACT_POINTS: readonly string[] = Object.freeze([HOST]);

/** The data center of a local Cassandra (SimpleSnitch names it so). */
export const LOCAL_DC = "datacenter1";

/** Keyspace of the messages tables. */
export const KEYSPACE = "dataservices";

/** Browser origins allowed by default: any port of http(s)://localhost or 127.0.0.1. */
export const CORS_ORIGINS: readonly string[] = Object.freeze(["localhost"]);

/**
 * Most concurrent HTTP/2 streams a server's main port allows on one
 * connection. grpc-go sets no limit, and gRPC clients (the original's among
 * them) open thousands of streams on one connection; admission control, not
 * this, bounds the work.
 */
export const HTTP2_MAX_STREAMS = 100_000;

/** Offset of an instance's fast listener from its main port (50051 -> 51051). */
export const FAST_PORT_OFFSET = 1000;

/** Largest request message a server reads, in bytes (then RESOURCE_EXHAUSTED). */
export const READ_MAX_BYTES = 65536;

/**
 * Response header (or trailer) an instance sets on an error that means "this
 * instance cannot take the call, another can" (value "elsewhere"): draining
 * on shutdown. Routers retry such calls on the fallback instance and count
 * them as failures of the instance, not of the call.
 */
export const RETRY_ELSEWHERE_HEADER = "x-dataservices-retry";
