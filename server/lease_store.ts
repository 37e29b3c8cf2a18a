/**
 * The {@linkcode LeaseStore} on Cassandra: table `worker_leases` (db/schema.ts,
 * migration 2), one row per worker id, written only with lightweight
 * transactions (Paxos at SERIAL, committed at QUORUM), so two instances never
 * hold one id even across data centers. `holder` carries the lease's TTL;
 * `high_water_ms` has none and outlives every holder.
 *
 * @module
 */
import cassandra from "cassandra-driver";
import { boundBy } from "../lib/bound.ts";
import { Code, ConnectError } from "@connectrpc/connect";
import { toConnectError } from "./errors.ts";
import type {
  Claim,
  LeaseOutcome,
  LeaseRow,
  LeaseStore,
  Release,
  Renewal,
} from "./lease_contract.ts";

/** Options of {@linkcode CassandraLeaseStore}. */
export interface CassandraLeaseStoreOptions {
  readonly keyspace: string;
  /** Bound of one call in ms (a transaction is four round trips). */
  readonly timeoutMs: number;
}

const { consistencies } = cassandra.types;

/** Worker-id leases in Cassandra. */
export class CassandraLeaseStore implements LeaseStore {
  readonly #client: cassandra.Client;
  readonly #table: string;
  readonly #timeoutMs: number;

  /**
   * @param client a connected client (the store's control client: lease
   *   statements must not wait behind data queries).
   */
  constructor(client: cassandra.Client, options: CassandraLeaseStoreOptions) {
    if (!/^[a-z][a-z0-9_]{0,47}$/.test(options.keyspace)) {
      throw new RangeError(`Invalid keyspace name: ${JSON.stringify(options.keyspace)}`);
    }
    this.#client = client;
    this.#table = `${options.keyspace}.worker_leases`;
    this.#timeoutMs = options.timeoutMs;
  }

  async scan(): Promise<LeaseRow[]> {
    const rs = await this.#run(() =>
      this.#client.execute(
        `SELECT worker_id, holder, high_water_ms FROM ${this.#table}`,
        [],
        this.#options(),
      )
    );
    return rs.rows.map((r) => toRow(r, r.get("worker_id") as number));
  }

  claim(c: Claim): Promise<LeaseOutcome> {
    return this.#conditional(c.workerId, () =>
      this.#client.batch([
        {
          query: `UPDATE ${this.#table} USING TTL ? SET holder = ? WHERE worker_id = ?
                  IF holder = null AND high_water_ms = ?`,
          params: [
            c.ttlSeconds,
            c.holder,
            c.workerId,
            c.expectedHighWaterMs ? BigInt(c.expectedHighWaterMs) : null,
          ],
        },
        {
          query: `UPDATE ${this.#table} SET high_water_ms = ? WHERE worker_id = ?`,
          params: [BigInt(Math.ceil(c.reserveMs)), c.workerId],
        },
      ], this.#options()));
  }

  renew(r: Renewal): Promise<LeaseOutcome> {
    return this.#conditional(r.workerId, () =>
      this.#client.batch([
        {
          query: `UPDATE ${this.#table} USING TTL ? SET holder = ? WHERE worker_id = ?
                  IF holder = ?`,
          params: [r.ttlSeconds, r.holder, r.workerId, r.holder],
        },
        {
          query: `UPDATE ${this.#table} SET high_water_ms = ? WHERE worker_id = ?`,
          params: [BigInt(Math.ceil(r.reserveMs)), r.workerId],
        },
      ], this.#options()));
  }

  release(r: Release): Promise<LeaseOutcome> {
    return this.#conditional(r.workerId, () =>
      this.#client.execute(
        `UPDATE ${this.#table} SET holder = null, high_water_ms = ? WHERE worker_id = ?
         IF holder = ?`,
        // No mark (nothing minted, no floor) stays null: "none" is null, never 0, for the claim's
        // `high_water_ms = ?` to match.
        [r.highWaterMs > 0 ? BigInt(Math.ceil(r.highWaterMs)) : null, r.workerId, r.holder],
        this.#options(),
      ));
  }

  /**
   * Each attempt waits at most {@linkcode ATTEMPT_TIMEOUT_MS}, then the driver
   * tries the next node (idempotent: a renewal or release is conditioned on
   * our own holder, so running it twice is running it once; a taking applied
   * whose answer was lost comes back "not applied, held by us", which the
   * lease recognizes); the whole statement stays bounded by the timeout. A
   * node killed or frozen under the lease's partition then costs one attempt,
   * not every renewal until minting stops (seen in the fault suite: two 5 s
   * renewals in a row to a just-killed node).
   */
  #options(): cassandra.QueryOptions {
    return {
      prepare: true,
      isIdempotent: true,
      consistency: consistencies.quorum,
      serialConsistency: consistencies.serial,
      readTimeout: Math.min(ATTEMPT_TIMEOUT_MS, this.#timeoutMs),
    };
  }

  async #conditional(
    workerId: number,
    write: () => Promise<cassandra.types.ResultSet>,
  ): Promise<LeaseOutcome> {
    const rs = await this.#run(write);
    const row = rs.first();
    if (row?.get("[applied]") === true) return { applied: true };
    return { applied: false, current: toRow(row, workerId) };
  }

  async #run<T>(fn: () => Promise<T>): Promise<T> {
    const deadline = performance.now() + this.#timeoutMs;
    try {
      return await boundBy(
        fn(),
        deadline,
        () =>
          new ConnectError(
            `worker lease statement took longer than ${this.#timeoutMs} ms`,
            Code.DeadlineExceeded,
          ),
      );
    } catch (err) {
      throw toConnectError(err, "Worker lease statement");
    }
  }
}

/** Longest wait for one attempt of a lease statement, ms. */
const ATTEMPT_TIMEOUT_MS = 1500;

function toRow(row: cassandra.types.Row | null | undefined, workerId: number): LeaseRow {
  const holder = row?.get("holder") as string | null | undefined;
  const mark = row?.get("high_water_ms") as bigint | null | undefined;
  return { workerId, holder: holder ?? undefined, highWaterMs: mark ? Number(mark) : 0 };
}
