/**
 * The message store: Cassandra through `npm:cassandra-driver`, prepared
 * statements only. See db/schema.ts for the table layout.
 *
 * Failure handling (issue 10, item 5):
 * - every store operation, all of its statements and the driver's retries
 *   included, is bounded by `queryTimeoutMs` (then `DEADLINE_EXCEEDED`):
 *   the driver's own `readTimeout` is per attempt, and it retries a timed-out
 *   idempotent statement on the next node, so three frozen nodes took three
 *   timeouts;
 * - reconnection to a node that went away is attempted after 250 ms, then
 *   every second at most ({@linkcode RECONNECT_MAX_MS}; the driver's default
 *   backs off to 10 minutes, which made an instance serve again ~25 s after
 *   the cluster was back);
 * - idle connections send a heartbeat every second that times out after
 *   {@linkcode DRIVER_TIMEOUT_MS}, so a frozen node is dropped (and calls
 *   fail fast with `UNAVAILABLE`) instead of holding every call until its
 *   timeout;
 * - readiness probes and the worker lease use a client of their own
 *   ({@linkcode CassandraStore.control}), so they never wait behind data
 *   queries in the driver's queues, with their own short timeout.
 *
 * @module
 */
import cassandra from "cassandra-driver";
import { Code, ConnectError } from "@connectrpc/connect";
import { boundBy } from "../lib/bound.ts";
import { bucketAt, bucketOf } from "./snowflake.ts";
import { toConnectError } from "./errors.ts";

/** A stored message. */
export interface StoredMessage {
  channelId: bigint;
  messageId: bigint;
  authorId: bigint;
  content: string;
}

/** A page of history: newest first, ids in (after, before). */
export interface HistoryQuery {
  channelId: bigint;
  /** Exclusive upper bound on message_id; 0n = none. */
  before: bigint;
  /** Exclusive lower bound on message_id; 0n = none. */
  after: bigint;
  /** 1..100. */
  limit: number;
}

/** What the service needs from a store. Errors are ConnectErrors with mapped codes. */
export interface MessageStore {
  /** One message, or undefined when there is none. */
  getMessage(channelId: bigint, messageId: bigint): Promise<StoredMessage | undefined>;
  /** A page of a channel's history, newest first. */
  getMessages(query: HistoryQuery): Promise<StoredMessage[]>;
  /** Stores a message (id assigned by the caller). */
  createMessage(message: StoredMessage): Promise<void>;
  /**
   * Resolves when the store can answer a query; rejects otherwise, or once
   * `timeoutMs` has passed (when given).
   */
  ping(timeoutMs?: number): Promise<void>;
  /** Releases connections. */
  close(): Promise<void>;
}

/** Options of {@link CassandraStore}. */
export interface CassandraStoreOptions {
  contactPoints: string[];
  localDataCenter: string;
  keyspace: string;
  /** Consistency level name, e.g. "localQuorum" (default), "one", "quorum". */
  consistency?: string;
  /**
   * Bound of one store operation in ms: all of its statements, and the
   * driver's retries on other nodes, included. Default 5000.
   */
  queryTimeoutMs?: number;
  /** Connect timeout in ms. Default 3000. */
  connectTimeoutMs?: number;
  /** Most buckets one history read visits. Default 32. */
  maxBucketsPerRead?: number;
}

const MAX_INT64 = (1n << 63n) - 1n;

/** First reconnection attempt to a node that went away, in ms. */
export const RECONNECT_BASE_MS = 250;
/** Longest pause between reconnection attempts, in ms. */
export const RECONNECT_MAX_MS = 1000;
/** An idle connection sends a heartbeat this often, in ms. */
export const HEARTBEAT_MS = 1000;
/**
 * Timeout of the driver's own requests (heartbeats, preparing statements,
 * opening connections, metadata), in ms. Queries carry their own.
 */
export const DRIVER_TIMEOUT_MS = 2000;

/**
 * Longest wait for one attempt of a data statement, ms: a coordinator that
 * stopped answering (killed, frozen, partitioned) costs this much before the
 * driver tries the next node, instead of the whole `--query-timeout-ms`.
 */
export const ATTEMPT_TIMEOUT_MS = 2000;

/** Driver options shared by the data client and the control client. */
function driverOptions(
  options: CassandraStoreOptions,
): cassandra.ClientOptions {
  return {
    contactPoints: options.contactPoints,
    localDataCenter: options.localDataCenter,
    protocolOptions: { maxVersion: cassandra.types.protocolVersion.v4 },
    policies: {
      reconnection: new cassandra.policies.reconnection.ExponentialReconnectionPolicy(
        RECONNECT_BASE_MS,
        RECONNECT_MAX_MS,
        false,
      ),
    },
    pooling: { heartBeatInterval: HEARTBEAT_MS },
    socketOptions: {
      connectTimeout: options.connectTimeoutMs ?? 3000,
      readTimeout: DRIVER_TIMEOUT_MS,
    },
    // bigint columns arrive as and are bound from JavaScript bigint.
    encoding: { useBigIntAsLong: true },
  };
}

/** The error of an operation past its bound (set by `flag`). */
function deadlineError(
  timeoutMs: number,
  what: string,
  flag = "--query-timeout-ms",
): ConnectError {
  return new ConnectError(
    `${what} took longer than ${timeoutMs} ms (${flag})`,
    Code.DeadlineExceeded,
  );
}

/** Parses a consistency name ("LOCAL_QUORUM", "localQuorum", "one") to the driver's value. */
export function parseConsistency(name: string): number {
  const key = name.toLowerCase().replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
  const table = cassandra.types.consistencies as unknown as Record<string, number>;
  const value = Object.entries(table).find(([k]) => k.toLowerCase() === key.toLowerCase())?.[1];
  if (value === undefined) {
    throw new RangeError(
      `Unknown consistency level ${JSON.stringify(name)}; use one of ${
        Object.keys(table).join(", ")
      }`,
    );
  }
  return value;
}

/** A {@link MessageStore} on Cassandra. */
export class CassandraStore implements MessageStore {
  /** The client of data queries. */
  readonly client: cassandra.Client;
  /**
   * A second client, with connections of its own, for what must not wait
   * behind data queries: readiness probes and the worker lease.
   */
  readonly control: cassandra.Client;
  #ks: string;
  #consistency: number;
  #timeoutMs: number;
  #maxBuckets: number;

  constructor(options: CassandraStoreOptions) {
    this.#ks = options.keyspace;
    if (!/^[a-z][a-z0-9_]{0,47}$/.test(this.#ks)) {
      throw new RangeError(`Invalid keyspace name: ${JSON.stringify(this.#ks)}`);
    }
    this.#consistency = parseConsistency(options.consistency ?? "localQuorum");
    this.#timeoutMs = options.queryTimeoutMs ?? 5000;
    this.#maxBuckets = options.maxBucketsPerRead ?? 32;
    this.client = new cassandra.Client({
      ...driverOptions(options),
      // Our own reads are idempotent; writes carry a fresh id, so a retry rewrites the same row.
      queryOptions: { prepare: true, isIdempotent: true, consistency: this.#consistency },
    });
    this.control = new cassandra.Client({
      ...driverOptions(options),
      // Probes and lease statements need no schema metadata.
      isMetadataSyncEnabled: false,
    });
  }

  /** Connects both clients (and fails fast when no node answers). */
  async connect(): Promise<void> {
    try {
      await Promise.all([this.client.connect(), this.control.connect()]);
    } catch (err) {
      throw toConnectError(err, "Connecting to Cassandra");
    }
  }

  /** The deadline of an operation starting now. */
  #deadline(): number {
    return performance.now() + this.#timeoutMs;
  }

  /** One statement within its operation's deadline. */
  async #execute(
    query: string,
    params: unknown[],
    deadline: number,
  ): Promise<cassandra.types.ResultSet> {
    const left = Math.ceil(deadline - performance.now());
    if (left <= 0) throw deadlineError(this.#timeoutMs, "Cassandra query");
    try {
      return await boundBy(
        this.client.execute(query, params, {
          prepare: true,
          consistency: this.#consistency,
          // One attempt waits at most ATTEMPT_TIMEOUT_MS; then the driver tries the next node
          // (every statement is idempotent), within the operation's bound.
          readTimeout: Math.min(left, ATTEMPT_TIMEOUT_MS),
        }),
        deadline,
        () => deadlineError(this.#timeoutMs, "Cassandra query"),
      );
    } catch (err) {
      const e = toConnectError(err);
      // The driver's timeout of the last attempt is the operation's bound too: say so.
      if (e.code !== Code.DeadlineExceeded || /--query-timeout-ms/.test(e.rawMessage)) throw e;
      throw new ConnectError(
        `${deadlineError(this.#timeoutMs, "Cassandra query").rawMessage}: ${e.rawMessage}`,
        Code.DeadlineExceeded,
        undefined,
        undefined,
        err,
      );
    }
  }

  async getMessage(channelId: bigint, messageId: bigint): Promise<StoredMessage | undefined> {
    const deadline = this.#deadline();
    const rs = await this.#execute(
      `SELECT channel_id, message_id, author_id, content FROM ${this.#ks}.messages
       WHERE channel_id = ? AND bucket = ? AND message_id = ?`,
      [channelId, bucketOf(messageId), messageId],
      deadline,
    );
    const row = rs.first();
    return row ? toMessage(row) : undefined;
  }

  async getMessages(q: HistoryQuery): Promise<StoredMessage[]> {
    const deadline = this.#deadline();
    const top = q.before > 0n ? bucketOf(q.before) : bucketAt(Date.now()) + 1;
    const bottom = q.after > 0n ? bucketOf(q.after) : 0;
    const buckets = await this.#execute(
      `SELECT bucket FROM ${this.#ks}.channel_buckets
       WHERE channel_id = ? AND bucket <= ? AND bucket >= ? LIMIT ?`,
      [q.channelId, top, bottom, this.#maxBuckets],
      deadline,
    );
    const out: StoredMessage[] = [];
    const before = q.before > 0n ? q.before : MAX_INT64;
    for (const b of buckets.rows) {
      const rs = await this.#execute(
        `SELECT channel_id, message_id, author_id, content FROM ${this.#ks}.messages
         WHERE channel_id = ? AND bucket = ? AND message_id < ? AND message_id > ? LIMIT ?`,
        [q.channelId, b.get("bucket"), before, q.after, q.limit - out.length],
        deadline,
      );
      for (const row of rs.rows) out.push(toMessage(row));
      if (out.length >= q.limit) break;
    }
    return out;
  }

  async createMessage(m: StoredMessage): Promise<void> {
    const deadline = this.#deadline();
    const bucket = bucketOf(m.messageId);
    // Index first: a failure after it leaves at worst an empty bucket entry, never a lost message
    // that history cannot find.
    await this.#execute(
      `INSERT INTO ${this.#ks}.channel_buckets (channel_id, bucket) VALUES (?, ?)`,
      [m.channelId, bucket],
      deadline,
    );
    await this.#execute(
      `INSERT INTO ${this.#ks}.messages (channel_id, bucket, message_id, author_id, content)
       VALUES (?, ?, ?, ?, ?)`,
      [m.channelId, bucket, m.messageId, m.authorId, m.content],
      deadline,
    );
  }

  /**
   * Cassandra answers within `timeoutMs` (default: the query timeout) on the
   * control client, the data client has a connection open, and the keyspace
   * has the messages table (else reads could only fail).
   */
  async ping(timeoutMs = this.#timeoutMs): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    const late = () => deadlineError(timeoutMs, "Cassandra probe", "--probe-timeout-ms");
    let rs: cassandra.types.ResultSet;
    try {
      // A no-op once connected; connects (again, after a failed start) otherwise.
      await boundBy(this.connect(), deadline, late);
      rs = await boundBy(
        this.control.execute(
          "SELECT table_name FROM system_schema.tables WHERE keyspace_name = ? AND table_name = ?",
          [this.#ks, "messages"],
          { prepare: true, readTimeout: Math.max(1, Math.ceil(deadline - performance.now())) },
        ),
        deadline,
        late,
      );
    } catch (err) {
      throw toConnectError(err, "Cassandra probe");
    }
    if (rs.rowLength === 0) {
      throw new Error(`table ${this.#ks}.messages does not exist (schema not applied)`);
    }
    if (this.client.getState().getConnectedHosts().length === 0) {
      throw new ConnectError("no connection of the data client is open yet", Code.Unavailable);
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.client.shutdown(), this.control.shutdown()]);
  }
}

function toMessage(row: cassandra.types.Row): StoredMessage {
  return {
    channelId: row.get("channel_id") as bigint,
    messageId: row.get("message_id") as bigint,
    authorId: (row.get("author_id") as bigint | null) ?? 0n,
    content: String(row.get("content") ?? ""),
  };
}
