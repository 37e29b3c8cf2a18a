/**
 * Worker-id leases: every running instance mints Snowflake ids under a worker
 * id (0..1023) that no other instance holds, without manual configuration,
 * and never mints an id that was minted before, even after a restart or a
 * clock step back.
 *
 * A lease is a row per worker id (`worker_leases`, db/schema.ts) with its
 * holder and a high-water mark. It is taken and kept with lightweight
 * transactions, so two instances can never both hold one id:
 *
 * - **taking**: `holder` is written with a TTL of {@linkcode WorkerLeaseOptions.ttlMs},
 *   only if nobody holds the id and its high-water mark is still the one
 *   read (`IF holder = null AND high_water_ms = ?`);
 * - **renewing** every `ttl / 3`: the TTL starts again, only if we still
 *   hold it (`IF holder = ?`);
 * - **releasing** on a clean shutdown (`IF holder = ?`); a crashed
 *   holder's lease expires by itself (Cassandra drops the TTL'd `holder`).
 *
 * **Minting stops before the lease could have expired.** A taking or renewal
 * sent at local (monotonic) time `t` lets ids be minted until
 * `t + 2/3 ttl`: a third of the TTL is left for Cassandra's clocks being
 * ahead of ours, the TTL's one-second granularity and the time the
 * transaction took to commit. A renewal that fails is retried every
 * second until then; past it `next()` fails with `UNAVAILABLE` until a
 * renewal succeeds or another id is taken.
 *
 * **Never reissued.** The row's high-water mark (Unix ms, kept without TTL)
 * is always at or above the time of every id minted under it: each taking
 * and renewal reserves time ahead (`max(mark, now) + ttl`), the generator
 * mints nothing past the confirmed reservation, and a clean release lowers
 * the mark to the last id actually minted. A new holder of the id (the same
 * instance restarted, or another one) mints only after the mark, whatever
 * its clock says (the generator borrows later milliseconds while its clock
 * is behind).
 *
 * Without `--worker-id` an instance takes a free id at random (a plain read
 * of the table suggests which are free; the transaction decides). With
 * `--worker-id N` it takes N, waiting up to one TTL for a crashed holder's
 * lease to expire; if N is still held after that, another running instance
 * uses N: {@linkcode WorkerLeaseOptions.onConflict} is called (the instance
 * exits at start-up) and the wait continues.
 *
 * @module
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { Logger } from "../lib/log.ts";
import { MAX_WORKER_ID, ReservationError, SnowflakeGenerator } from "./snowflake.ts";
import { candidates, freeRows, type LeaseRow, type LeaseStore } from "./lease_contract.ts";

/** An explicit `--worker-id` is held by another running instance. */
export class WorkerIdConflictError extends Error {
  override name = "WorkerIdConflictError";
}

/** Options of {@linkcode WorkerLease}. */
export interface WorkerLeaseOptions {
  readonly store: LeaseStore;
  /** Take exactly this id (`--worker-id`); default: any free one. */
  readonly workerId?: number;
  /** Lease length in ms, whole seconds, at least 3 s. */
  readonly ttlMs: number;
  /** This instance's name in the table. Default: a random UUID. */
  readonly holder?: string;
  /** Wall clock, Unix ms (ids and marks). Default `Date.now`. */
  readonly now?: () => number;
  /** Monotonic clock, ms (deadlines). Default `performance.now`. */
  readonly monotonic?: () => number;
  /** Default `Math.random`. */
  readonly random?: () => number;
  readonly log?: Logger;
  /**
   * At start-up, an explicit id is held by another running instance (called
   * once; the instance should exit). A conflict after the id was held once
   * only keeps the instance not ready.
   */
  readonly onConflict?: (error: WorkerIdConflictError) => void;
}

/** Ids tried per attempt to take any free id. */
const CANDIDATES_PER_ATTEMPT = 4;
/** Longest pause between attempts after a failure, ms. */
const MAX_RETRY_MS = 1000;
/** Waiting for an explicit id: one TTL plus this (Cassandra's one-second TTL granularity). */
const EXPIRY_GRACE_MS = 2000;

interface Held {
  readonly workerId: number;
  readonly generator: SnowflakeGenerator;
  /** Monotonic time until which ids may be minted. */
  mintUntil: number;
  /** The confirmed reservation: no id past this Unix ms. */
  reservedMs: number;
}

/** A worker-id lease kept in a {@linkcode LeaseStore}, and the ids minted under it. */
export class WorkerLease {
  readonly holder: string;
  readonly #store: LeaseStore;
  readonly #explicit: number | undefined;
  readonly #ttlMs: number;
  readonly #ttlSeconds: number;
  readonly #now: () => number;
  readonly #mono: () => number;
  readonly #random: () => number;
  readonly #log: Logger | undefined;
  readonly #onConflict: ((error: WorkerIdConflictError) => void) | undefined;
  readonly #listeners = new Set<() => void>();
  #held: Held | undefined;
  /** Why no id is held ("" when one is being taken for the first time). */
  #why = "worker lease not taken yet";
  /** The id held last (tried first when taking again). */
  #last: number | undefined;
  /** When an explicit id was first seen held by another (monotonic). */
  #heldByOtherSince: number | undefined;
  #conflictReported = false;
  #failures = 0;
  #started = false;
  #closed = false;
  #closing: Promise<void> | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #expiryTimer: ReturnType<typeof setTimeout> | undefined;
  #step: Promise<void> | undefined;

  constructor(options: WorkerLeaseOptions) {
    const { ttlMs, workerId } = options;
    if (!Number.isInteger(ttlMs / 1000) || ttlMs < 3000) {
      throw new RangeError(`Lease TTL must be whole seconds, at least 3 s; got ${ttlMs} ms`);
    }
    if (
      workerId !== undefined &&
      (!Number.isInteger(workerId) || workerId < 0 || workerId > MAX_WORKER_ID)
    ) {
      throw new RangeError(`Worker id must be an integer in 0..${MAX_WORKER_ID}, got ${workerId}`);
    }
    this.#store = options.store;
    this.#explicit = workerId;
    this.#ttlMs = ttlMs;
    this.#ttlSeconds = ttlMs / 1000;
    this.holder = options.holder ?? crypto.randomUUID();
    this.#now = options.now ?? Date.now;
    this.#mono = options.monotonic ?? (() => performance.now());
    this.#random = options.random ?? Math.random;
    this.#log = options.log;
    this.#onConflict = options.onConflict;
  }

  /** How long after a taking or renewal ids may be minted: 2/3 of the TTL. */
  get mintWindowMs(): number {
    return this.#ttlMs * 2 / 3;
  }

  /** Pause between renewals: a third of the TTL. */
  get renewEveryMs(): number {
    return this.#ttlMs / 3;
  }

  /** Pause after a failed attempt. */
  get #retryMs(): number {
    return Math.min(MAX_RETRY_MS, this.#ttlMs / 10);
  }

  /** True while ids may be minted. */
  get valid(): boolean {
    return this.#held !== undefined && this.#mono() < this.#held.mintUntil;
  }

  /** The worker id held (even past its mint deadline, while renewals are tried); or undefined. */
  get workerId(): number | undefined {
    return this.#held?.workerId;
  }

  /** Why no id may be minted now ("" when one may). */
  get reason(): string {
    const h = this.#held;
    if (!h) return this.#why;
    if (this.#mono() >= h.mintUntil) {
      return `worker lease of id ${h.workerId} not renewed in time: ${this.#why}`;
    }
    return "";
  }

  /** Calls `fn` whenever {@linkcode valid} or the worker id changes. */
  onChange(fn: () => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** Starts taking a lease, then keeps it (in the background). */
  start(): void {
    if (this.#started || this.#closed) return;
    this.#started = true;
    this.#schedule(0);
  }

  /**
   * A new id under the lease.
   *
   * @throws {ConnectError} `UNAVAILABLE` when no valid lease is held or the
   *   clock ran past the reservation (the next renewal extends it).
   */
  next(): bigint {
    const h = this.#held;
    if (!h || this.#mono() >= h.mintUntil) {
      throw new ConnectError(`cannot mint a message id: ${this.reason}`, Code.Unavailable);
    }
    try {
      return h.generator.next(h.reservedMs);
    } catch (err) {
      if (!(err instanceof ReservationError)) throw err;
      throw new ConnectError(`cannot mint a message id yet: ${err.message}`, Code.Unavailable);
    }
  }

  /**
   * Stops minting and renewing, then gives the id back with the time of the
   * last id minted as its mark. Errors of the release are logged, not
   * thrown: the lease then expires by itself.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#closed = true;
      clearTimeout(this.#timer);
      clearTimeout(this.#expiryTimer);
      await this.#step;
      const h = this.#held;
      this.#held = undefined;
      this.#why = "closed";
      this.#changed();
      if (!h) return;
      try {
        const out = await this.#store.release({
          workerId: h.workerId,
          holder: this.holder,
          highWaterMs: h.generator.lastMs,
        });
        if (out.applied) this.#log?.info("worker lease released", { workerId: h.workerId });
        else this.#log?.warn("worker lease was not ours any more", { workerId: h.workerId });
      } catch (err) {
        this.#log?.warn("worker lease release failed; it expires by itself", {
          workerId: h.workerId,
          error: err,
        });
      }
    })();
    return this.#closing;
  }

  #schedule(delayMs: number): void {
    if (this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#step = this.#run().then((next) => {
        this.#step = undefined;
        this.#schedule(next);
      });
    }, Math.max(0, delayMs));
  }

  /** One step: renew what is held, else take an id. Returns the pause before the next. */
  async #run(): Promise<number> {
    try {
      const next = this.#held ? await this.#renew(this.#held) : await this.#take();
      if (this.#failures > 0 && this.#held && this.valid) {
        this.#log?.info("worker lease store answers again", { failures: this.#failures });
        this.#failures = 0;
      }
      return next;
    } catch (err) {
      this.#failures++;
      const why = err instanceof ConnectError
        ? err.rawMessage
        : err instanceof Error
        ? err.message
        : String(err);
      this.#why = `lease store failed: ${why}`;
      (this.#failures === 1 ? this.#log?.warn : this.#log?.debug)?.(
        "worker lease attempt failed",
        { workerId: this.#held?.workerId ?? this.#explicit, error: err },
      );
      this.#changed();
      return this.#retryMs;
    }
  }

  async #renew(h: Held): Promise<number> {
    const sentAt = this.#mono();
    const reserveMs = Math.max(h.reservedMs, this.#now() + this.#ttlMs);
    const out = await this.#store.renew({
      workerId: h.workerId,
      holder: this.holder,
      ttlSeconds: this.#ttlSeconds,
      reserveMs,
    });
    if (this.#closed) return 0;
    if (out.applied) {
      this.#confirm(h, sentAt, reserveMs);
      return this.renewEveryMs - (this.#mono() - sentAt);
    }
    this.#held = undefined;
    this.#why = `worker id ${h.workerId} was taken by ${
      out.current.holder ?? "nobody (it expired)"
    } while renewals failed`;
    this.#log?.warn("worker lease lost", { workerId: h.workerId, holder: out.current.holder });
    this.#changed();
    return 0;
  }

  async #take(): Promise<number> {
    if (this.#explicit !== undefined) {
      const current = await this.#claimRow(this.#rowOf(this.#explicit));
      if (current === undefined) return this.#nextAfterTaking();
      if (current.holder === undefined) {
        // Free, but its mark moved under us twice (others taking and releasing it): again soon.
        this.#why = `worker id ${current.workerId} changed hands while taking it`;
        this.#changed();
      } else {
        this.#waitForExplicit(current);
      }
      return this.#retryMs;
    }
    const free = freeRows(await this.#store.scan(), this.holder);
    if (free.length === 0) {
      this.#why = `all ${MAX_WORKER_ID + 1} worker ids are held`;
      this.#changed();
      return this.#retryMs;
    }
    for (const row of candidates(free, this.#last, CANDIDATES_PER_ATTEMPT, this.#random)) {
      const current = await this.#claimRow(row);
      if (current === undefined) return this.#nextAfterTaking();
      if (this.#closed) return 0;
    }
    this.#why = "every free worker id tried was taken by another instance first";
    this.#changed();
    // Soon, at a random moment: instances racing for the same ids fall out of step.
    return this.#random() * this.#retryMs / 4;
  }

  /** After taking an id: renew in a third of the TTL, or at once if it still needs one. */
  #nextAfterTaking(): number {
    return this.valid ? this.renewEveryMs : 0;
  }

  #rowOf(workerId: number): LeaseRow {
    return { workerId, holder: undefined, highWaterMs: 0 };
  }

  /**
   * Tries to take `row`'s id (again with the mark found, if only the mark had
   * changed). Returns undefined when taken, else the row as it is.
   */
  async #claimRow(row: LeaseRow): Promise<LeaseRow | undefined> {
    let current = row;
    for (let attempt = 0; attempt < 2; attempt++) {
      if (current.holder === this.holder) {
        // An earlier claim of ours applied although its answer was lost: ours, with the mark it
        // set as the floor, valid once renewed.
        this.#adopt(current);
        return undefined;
      }
      if (current.holder !== undefined) return current;
      const sentAt = this.#mono();
      const floorMs = current.highWaterMs;
      const reserveMs = Math.max(floorMs, this.#now()) + this.#ttlMs;
      const out = await this.#store.claim({
        workerId: current.workerId,
        holder: this.holder,
        ttlSeconds: this.#ttlSeconds,
        expectedHighWaterMs: floorMs,
        reserveMs,
      });
      if (out.applied) {
        const h: Held = {
          workerId: current.workerId,
          generator: new SnowflakeGenerator(current.workerId, this.#now, floorMs || undefined),
          mintUntil: sentAt,
          reservedMs: reserveMs,
        };
        this.#held = h;
        this.#last = h.workerId;
        this.#heldByOtherSince = undefined;
        this.#log?.info("worker lease taken", {
          workerId: h.workerId,
          floor: floorMs ? new Date(floorMs).toISOString() : undefined,
          ttlSeconds: this.#ttlSeconds,
        });
        this.#confirm(h, sentAt, reserveMs);
        return undefined;
      }
      current = out.current;
    }
    return current;
  }

  /** Holds `row` (ours already) with its mark as the floor; a renewal makes it valid. */
  #adopt(row: LeaseRow): void {
    this.#held = {
      workerId: row.workerId,
      generator: new SnowflakeGenerator(row.workerId, this.#now, row.highWaterMs || undefined),
      mintUntil: this.#mono(),
      reservedMs: row.highWaterMs,
    };
    this.#last = row.workerId;
    this.#log?.info("worker lease found ours", { workerId: row.workerId });
  }

  /** An explicit id is held by `row.holder`: wait for a crashed holder's lease to expire. */
  #waitForExplicit(row: LeaseRow): void {
    const id = row.workerId;
    const now = this.#mono();
    this.#heldByOtherSince ??= now;
    const waited = now - this.#heldByOtherSince;
    if (waited < this.#ttlMs + EXPIRY_GRACE_MS) {
      this.#why =
        `worker id ${id} is held by ${row.holder}; waiting up to ${this.#ttlSeconds} s for its lease to expire`;
    } else {
      this.#why = `worker id ${id} is held by another running instance (${row.holder}): ` +
        `its lease was renewed while we waited ${Math.round(waited / 1000)} s; ` +
        `give each instance its own --worker-id, or none`;
      if (!this.#conflictReported && this.#last === undefined) {
        // At start-up (never held it): a configuration error. Later, the instance stays not ready.
        this.#conflictReported = true;
        this.#log?.error("worker id conflict", { workerId: id, holder: row.holder });
        this.#onConflict?.(new WorkerIdConflictError(this.#why));
      }
    }
    this.#changed();
  }

  /** A taking or renewal sent at `sentAt` applied: ids may be minted for a while. */
  #confirm(h: Held, sentAt: number, reserveMs: number): void {
    h.mintUntil = sentAt + this.mintWindowMs;
    h.reservedMs = Math.max(h.reservedMs, reserveMs);
    this.#why = "renewals failing";
    clearTimeout(this.#expiryTimer);
    this.#expiryTimer = setTimeout(
      () => this.#changed(),
      Math.max(0, h.mintUntil - this.#mono()),
    );
    this.#changed();
  }

  /** Tells listeners that validity, the worker id or the reason may have changed. */
  #changed(): void {
    for (const fn of this.#listeners) fn();
  }
}
