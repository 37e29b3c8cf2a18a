/**
 * What a worker-lease store is ({@linkcode LeaseStore}): rows, conditional
 * writes and their outcomes. `worker_lease.ts` keeps a lease in one;
 * `lease_store.ts` is the Cassandra store, `memory_lease_store.ts` the
 * in-memory one.
 *
 * @module
 */

/** A worker id's row as the store holds it. */
export interface LeaseRow {
  readonly workerId: number;
  /** Who holds it; undefined when free (never taken, released, or expired). */
  readonly holder: string | undefined;
  /** Ids of this worker id carry times at or below this (Unix ms); 0 for none. */
  readonly highWaterMs: number;
}

/** What a conditional write did: applied, or not, with the row as it is. */
export type LeaseOutcome =
  | { readonly applied: true }
  | { readonly applied: false; readonly current: LeaseRow };

/** A request to take a worker id. */
export interface Claim {
  readonly workerId: number;
  readonly holder: string;
  readonly ttlSeconds: number;
  /** The mark read: the claim applies only if it is unchanged (0: none). */
  readonly expectedHighWaterMs: number;
  /** The new mark: the time ids may be minted up to under this lease. */
  readonly reserveMs: number;
}

/** A request to extend a lease. */
export interface Renewal {
  readonly workerId: number;
  readonly holder: string;
  readonly ttlSeconds: number;
  readonly reserveMs: number;
}

/** A request to give a worker id back. */
export interface Release {
  readonly workerId: number;
  readonly holder: string;
  /** The time of the last id minted (or the floor): the new mark. */
  readonly highWaterMs: number;
}

/**
 * Where leases live: Cassandra (lease_store.ts) or memory
 * (memory_lease_store.ts). Writes are atomic compare-and-set; a call that
 * fails may or may not have applied.
 */
export interface LeaseStore {
  /** Every row: a plain read, a hint of which ids are free. */
  scan(): Promise<LeaseRow[]>;
  /** Takes the id if nobody holds it and its mark is `expectedHighWaterMs`; sets the mark. */
  claim(claim: Claim): Promise<LeaseOutcome>;
  /** Extends the lease if `holder` holds it; sets the mark. */
  renew(renewal: Renewal): Promise<LeaseOutcome>;
  /** Frees the id if `holder` holds it; sets the mark. */
  release(release: Release): Promise<LeaseOutcome>;
}
