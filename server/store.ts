/**
 * The message store: Cassandra through `npm:cassandra-driver`, prepared
 * statements only. See db/schema.ts for the table layout.
 *
 * @module
 */
import cassandra from "cassandra-driver";
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
  /** Resolves when the store can answer a query; rejects otherwise. */
  ping(): Promise<void>;
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
  /** Client-side timeout of one query in ms (driver readTimeout). Default 5000. */
  queryTimeoutMs?: number;
  /** Connect timeout in ms. Default 3000. */
  connectTimeoutMs?: number;
  /** Most buckets one history read visits. Default 32. */
  maxBucketsPerRead?: number;
}

const MAX_INT64 = (1n << 63n) - 1n;

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
  readonly client: cassandra.Client;
  #ks: string;
  #consistency: number;
  #readTimeout: number;
  #maxBuckets: number;

  constructor(options: CassandraStoreOptions) {
    this.#ks = options.keyspace;
    if (!/^[a-z][a-z0-9_]{0,47}$/.test(this.#ks)) {
      throw new RangeError(`Invalid keyspace name: ${JSON.stringify(this.#ks)}`);
    }
    this.#consistency = parseConsistency(options.consistency ?? "localQuorum");
    this.#readTimeout = options.queryTimeoutMs ?? 5000;
    this.#maxBuckets = options.maxBucketsPerRead ?? 32;
    this.client = new cassandra.Client({
      contactPoints: options.contactPoints,
      localDataCenter: options.localDataCenter,
      protocolOptions: { maxVersion: cassandra.types.protocolVersion.v4 },
      socketOptions: {
        connectTimeout: options.connectTimeoutMs ?? 3000,
        readTimeout: this.#readTimeout,
      },
      // Our own reads are idempotent; writes carry a fresh id, so a retry rewrites the same row.
      queryOptions: { prepare: true, isIdempotent: true, consistency: this.#consistency },
      // bigint columns arrive as and are bound from JavaScript bigint.
      encoding: { useBigIntAsLong: true },
    });
  }

  /** Connects (and fails fast when no node answers). */
  async connect(): Promise<void> {
    try {
      await this.client.connect();
    } catch (err) {
      throw toConnectError(err, "Connecting to Cassandra");
    }
  }

  async #execute(query: string, params: unknown[]): Promise<cassandra.types.ResultSet> {
    try {
      return await this.client.execute(query, params, {
        prepare: true,
        consistency: this.#consistency,
        readTimeout: this.#readTimeout,
      });
    } catch (err) {
      throw toConnectError(err);
    }
  }

  async getMessage(channelId: bigint, messageId: bigint): Promise<StoredMessage | undefined> {
    const rs = await this.#execute(
      `SELECT channel_id, message_id, author_id, content FROM ${this.#ks}.messages
       WHERE channel_id = ? AND bucket = ? AND message_id = ?`,
      [channelId, bucketOf(messageId), messageId],
    );
    const row = rs.first();
    return row ? toMessage(row) : undefined;
  }

  async getMessages(q: HistoryQuery): Promise<StoredMessage[]> {
    const top = q.before > 0n ? bucketOf(q.before) : bucketAt(Date.now()) + 1;
    const bottom = q.after > 0n ? bucketOf(q.after) : 0;
    const buckets = await this.#execute(
      `SELECT bucket FROM ${this.#ks}.channel_buckets
       WHERE channel_id = ? AND bucket <= ? AND bucket >= ? LIMIT ?`,
      [q.channelId, top, bottom, this.#maxBuckets],
    );
    const out: StoredMessage[] = [];
    const before = q.before > 0n ? q.before : MAX_INT64;
    for (const b of buckets.rows) {
      const rs = await this.#execute(
        `SELECT channel_id, message_id, author_id, content FROM ${this.#ks}.messages
         WHERE channel_id = ? AND bucket = ? AND message_id < ? AND message_id > ? LIMIT ?`,
        [q.channelId, b.get("bucket"), before, q.after, q.limit - out.length],
      );
      for (const row of rs.rows) out.push(toMessage(row));
      if (out.length >= q.limit) break;
    }
    return out;
  }

  async createMessage(m: StoredMessage): Promise<void> {
    const bucket = bucketOf(m.messageId);
    // Index first: a failure after it leaves at worst an empty bucket entry, never a lost message
    // that history cannot find.
    await this.#execute(
      `INSERT INTO ${this.#ks}.channel_buckets (channel_id, bucket) VALUES (?, ?)`,
      [m.channelId, bucket],
    );
    await this.#execute(
      `INSERT INTO ${this.#ks}.messages (channel_id, bucket, message_id, author_id, content)
       VALUES (?, ?, ?, ?, ?)`,
      [m.channelId, bucket, m.messageId, m.authorId, m.content],
    );
  }

  /** Cassandra answers and the keyspace has the messages table (else reads could only fail). */
  async ping(): Promise<void> {
    const rs = await this.#execute(
      "SELECT table_name FROM system_schema.tables WHERE keyspace_name = ? AND table_name = ?",
      [this.#ks, "messages"],
    );
    if (rs.rowLength === 0) {
      throw new Error(`table ${this.#ks}.messages does not exist (schema not applied)`);
    }
  }

  async close(): Promise<void> {
    await this.client.shutdown();
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
