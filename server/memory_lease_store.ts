/**
 * An in-memory {@linkcode LeaseStore} for unit tests and for instances over
 * a {@linkcode MemoryStore}: the contract of the Cassandra one
 * (lease_store.ts) on a clock of its own, the database's: a holder expires
 * like a Cassandra TTL, at a whole second (`floor(now / 1000) + ttl`), so up
 * to a second early. Test controls: hold calls at a gate, fail calls (before
 * or after they apply: a lost answer), count calls, read rows, set a holder
 * directly.
 *
 * @module
 */
import { Gate } from "./memory_store.ts";
import type {
  Claim,
  LeaseOutcome,
  LeaseRow,
  LeaseStore,
  Release,
  Renewal,
} from "./lease_contract.ts";

/** The store's operations. */
export type LeaseOp = "scan" | "claim" | "renew" | "release";

interface Row {
  holder: string | undefined;
  /** Second (of the store's clock) at which the holder expires. */
  expiresAtSec: number;
  highWaterMs: number;
}

interface Failure {
  readonly error: unknown;
  /** The write applies, then the call fails: its answer was lost. */
  readonly afterApply: boolean;
}

/** Options of {@linkcode MemoryLeaseStore}. */
export interface MemoryLeaseStoreOptions {
  /** The database's clock, Unix ms. Default `Date.now`. */
  readonly now?: () => number;
}

/** A {@linkcode LeaseStore} in memory. */
export class MemoryLeaseStore implements LeaseStore {
  /** Calls started per operation (failed ones included). */
  readonly calls: Record<LeaseOp, number> = { scan: 0, claim: 0, renew: 0, release: 0 };
  readonly #rows = new Map<number, Row>();
  readonly #gates = new Map<LeaseOp, Gate>();
  readonly #failures = new Map<LeaseOp, Failure>();
  readonly #now: () => number;

  constructor(options: MemoryLeaseStoreOptions = {}) {
    this.#now = options.now ?? Date.now;
  }

  /** A worker id's row as it is now (expired holders gone). */
  row(workerId: number): LeaseRow {
    const r = this.#rows.get(workerId);
    return {
      workerId,
      holder: r && this.#live(r) ? r.holder : undefined,
      highWaterMs: r?.highWaterMs ?? 0,
    };
  }

  /** Makes `holder` hold `workerId` for `ttlSeconds` (another instance, say), with this mark. */
  put(workerId: number, holder: string | undefined, ttlSeconds: number, highWaterMs = 0): void {
    this.#rows.set(workerId, { holder, expiresAtSec: this.#sec() + ttlSeconds, highWaterMs });
  }

  /** Holds every later call of `op` at a new gate until the test opens or fails it. */
  hold(op: LeaseOp): Gate {
    const gate = new Gate();
    this.#gates.set(op, gate);
    return gate;
  }

  /**
   * Makes calls of `op` fail with `error` until {@linkcode heal}; with
   * `afterApply`, writes apply first (the answer is lost, not the write).
   */
  failWith(op: LeaseOp, error: unknown, options: { afterApply?: boolean } = {}): void {
    this.#failures.set(op, { error, afterApply: options.afterApply ?? false });
  }

  /** Ends the failures of `op` (of every operation without one). */
  heal(op?: LeaseOp): void {
    if (op) this.#failures.delete(op);
    else this.#failures.clear();
  }

  async scan(): Promise<LeaseRow[]> {
    await this.#enter("scan");
    return [...this.#rows.keys()].sort((a, b) => a - b).map((id) => this.row(id));
  }

  claim(c: Claim): Promise<LeaseOutcome> {
    return this.#write("claim", c.workerId, (row) => {
      if (row.holder !== undefined || row.highWaterMs !== c.expectedHighWaterMs) return false;
      this.put(c.workerId, c.holder, c.ttlSeconds, c.reserveMs);
      return true;
    });
  }

  renew(r: Renewal): Promise<LeaseOutcome> {
    return this.#write("renew", r.workerId, (row) => {
      if (row.holder !== r.holder) return false;
      this.put(r.workerId, r.holder, r.ttlSeconds, r.reserveMs);
      return true;
    });
  }

  release(r: Release): Promise<LeaseOutcome> {
    return this.#write("release", r.workerId, (row) => {
      if (row.holder !== r.holder) return false;
      this.#rows.set(r.workerId, {
        holder: undefined,
        expiresAtSec: 0,
        highWaterMs: Math.max(0, r.highWaterMs), // none is 0, as the Cassandra store reads null
      });
      return true;
    });
  }

  /** A conditional write: `apply` sees the row as it is and says whether it applied. */
  async #write(
    op: LeaseOp,
    workerId: number,
    apply: (row: LeaseRow) => boolean,
  ): Promise<LeaseOutcome> {
    await this.#enter(op);
    const before = this.row(workerId);
    const applied = apply(before);
    const failure = this.#failures.get(op);
    if (failure?.afterApply) throw failure.error;
    return applied ? { applied: true } : { applied: false, current: before };
  }

  /** Counts the call; then its gate and its failure (unless it fails after applying). */
  async #enter(op: LeaseOp): Promise<void> {
    this.calls[op]++;
    await this.#gates.get(op)?.pass();
    const failure = this.#failures.get(op);
    if (failure && !failure.afterApply) throw failure.error;
  }

  #sec(): number {
    return Math.floor(this.#now() / 1000);
  }

  #live(r: Row): boolean {
    return r.holder !== undefined && this.#sec() < r.expiresAtSec;
  }
}
