/**
 * Schema of the data services keyspace, as an ordered list of migrations.
 *
 * Every statement is idempotent (`IF NOT EXISTS`), and applied migrations are
 * recorded in `schema_migrations` (written and read at QUORUM), so
 * {@link applySchema} may run at every start of every instance and of
 * `deno task db up`. DDL runs only for what is missing: Cassandra gives two
 * `CREATE TABLE IF NOT EXISTS` run at once on different coordinators two
 * different table ids, and a node that ends up with the other one cannot
 * read or write the table (seen on the 3-node fault cluster when instances
 * re-applied migrations they had read as missing at LOCAL_ONE).
 *
 * Layout (after Discord's "How Discord stores trillions of messages"):
 * - `messages`: partition `(channel_id, bucket)`, clustered by `message_id`
 *   descending. `bucket` is a fixed window of time derived from the
 *   Snowflake-style id ({@link bucketOf}), so a partition stays bounded however
 *   long a channel lives, and a message is found by one single-partition read
 *   from `(channel_id, message_id)` alone.
 * - `channel_buckets`: the buckets a channel has messages in, newest first, so
 *   a history read visits only non-empty partitions.
 * - `worker_leases`: one row per Snowflake worker id (0..1023): who holds it
 *   (`holder`, written with the lease's TTL by lightweight transactions) and
 *   the time every id minted under it is at or below (`high_water_ms`, no
 *   TTL). See server/worker_lease.ts.
 *
 * @module
 */
import cassandra from "cassandra-driver";

/** Default keyspace name. */
export const KEYSPACE = "dataservices";

/** One schema step. `cql` may use `{ks}` for the keyspace name. */
export interface Migration {
  /** Increasing version number. */
  version: number;
  /** What the step does. */
  description: string;
  /** Idempotent CQL statements, run in order. */
  cql: string[];
}

/** The migrations, oldest first. Append; never edit a released step. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: "messages partitioned by (channel_id, bucket), newest first; bucket index",
    cql: [
      `CREATE TABLE IF NOT EXISTS {ks}.messages (
        channel_id bigint,
        bucket int,
        message_id bigint,
        author_id bigint,
        content text,
        PRIMARY KEY ((channel_id, bucket), message_id)
      ) WITH CLUSTERING ORDER BY (message_id DESC)`,
      `CREATE TABLE IF NOT EXISTS {ks}.channel_buckets (
        channel_id bigint,
        bucket int,
        PRIMARY KEY (channel_id, bucket)
      ) WITH CLUSTERING ORDER BY (bucket DESC)`,
    ],
  },
  {
    version: 2,
    description: "worker_leases: Snowflake worker ids leased with a TTL, and high-water marks",
    cql: [
      `CREATE TABLE IF NOT EXISTS {ks}.worker_leases (
        worker_id int PRIMARY KEY,
        holder text,
        high_water_ms bigint
      )`,
    ],
  },
];

/** Options of {@link applySchema}. */
export interface ApplySchemaOptions {
  /** Keyspace to create and use. Default {@link KEYSPACE}. */
  keyspace?: string;
  /** Replication factor for a new keyspace: `min(3, nodes)`. */
  replicationFactor: number;
  /** Data center name for NetworkTopologyStrategy. Default `datacenter1`. */
  dataCenter?: string;
}

const IDENTIFIER = /^[a-z][a-z0-9_]{0,47}$/;

/**
 * Timeout of one schema statement: DDL waits for the schema to reach every
 * node, far longer than a query (clients may set short driver timeouts).
 */
const DDL_TIMEOUT_MS = 60_000;

/**
 * Creates the keyspace (NetworkTopologyStrategy) and applies every migration
 * not yet recorded. Returns the versions applied by this call.
 */
export async function applySchema(
  client: cassandra.Client,
  options: ApplySchemaOptions,
): Promise<number[]> {
  const ks = options.keyspace ?? KEYSPACE;
  const dc = options.dataCenter ?? "datacenter1";
  if (!IDENTIFIER.test(ks)) throw new Error(`Invalid keyspace name: ${JSON.stringify(ks)}`);
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(dc)) {
    throw new Error(`Invalid data center name: ${JSON.stringify(dc)}`);
  }
  const rf = options.replicationFactor;
  if (!Number.isInteger(rf) || rf < 1) throw new Error(`Invalid replication factor: ${rf}`);
  // DDL cannot take bind markers; ks and dc are validated above.
  const ddl = { readTimeout: DDL_TIMEOUT_MS };
  // What every instance agrees on: a majority of the replicas.
  const quorum = { ...ddl, consistency: cassandra.types.consistencies.quorum, prepare: true };
  await client.metadata.refreshKeyspace(ks).catch(() => {});
  if (client.metadata.keyspaces[ks] === undefined) {
    await client.execute(
      `CREATE KEYSPACE IF NOT EXISTS ${ks} WITH replication = ` +
        `{'class': 'NetworkTopologyStrategy', '${dc}': ${rf}}`,
      [],
      ddl,
    );
  }
  if (!(await client.metadata.getTable(ks, "schema_migrations"))) {
    await client.execute(
      `CREATE TABLE IF NOT EXISTS ${ks}.schema_migrations (
        version int PRIMARY KEY, description text, applied_at timestamp)`,
      [],
      ddl,
    );
  }
  const rs = await client.execute(`SELECT version FROM ${ks}.schema_migrations`, [], quorum);
  const done = new Set(rs.rows.map((r) => r.get("version") as number));
  const applied: number[] = [];
  for (const m of MIGRATIONS) {
    if (done.has(m.version)) continue;
    for (const stmt of m.cql) await client.execute(stmt.replaceAll("{ks}", ks), [], ddl);
    await client.execute(
      `INSERT INTO ${ks}.schema_migrations (version, description, applied_at) VALUES (?, ?, ?)`,
      [m.version, m.description, new Date()],
      quorum,
    );
    applied.push(m.version);
  }
  return applied;
}
