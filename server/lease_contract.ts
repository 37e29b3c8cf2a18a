/**
 * What a worker-lease store is ({@linkcode LeaseStore}): rows, conditional
 * writes and their outcomes; and which rows to try to take. `worker_lease.ts` keeps a lease in one;
 * `lease_store.ts` is the Cassandra store, `memory_lease_store.ts` the
 * in-memory one.
 *
 * @module
 */
import { MAX_WORKER_ID } from "./snowflake.ts";

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

/**
 * Every worker id that is free or held by `holder`, as rows: `scanned` (a
 * plain read, only a hint) completed with a free row for each id it lacks.
 */
export function freeRows(scanned: readonly LeaseRow[], holder: string): LeaseRow[] {
  const rows = new Map(scanned.map((r) => [r.workerId, r]));
  const free: LeaseRow[] = [];
  for (let id = 0; id <= MAX_WORKER_ID; id++) {
    const row = rows.get(id) ?? { workerId: id, holder: undefined, highWaterMs: 0 };
    if (row.holder === undefined || row.holder === holder) free.push(row);
  }
  return free;
}

/**
 * At most `count` rows of `free` to try, in order: the id held last (if
 * free), then random ones. Takes them out of `free`.
 */
export function candidates(
  free: LeaseRow[],
  lastWorkerId: number | undefined,
  count: number,
  random: () => number,
): LeaseRow[] {
  const out: LeaseRow[] = [];
  const last = free.findIndex((r) => r.workerId === lastWorkerId);
  if (last >= 0) out.push(...free.splice(last, 1));
  while (out.length < count && free.length > 0) {
    out.push(...free.splice(Math.floor(random() * free.length), 1));
  }
  return out;
}
