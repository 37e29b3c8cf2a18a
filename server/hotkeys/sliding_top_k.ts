/**
 * Space-saving top-K over sliding windows, with fixed memory: the stream is
 * cut into slices (default 2 s); only the current slice takes events (one
 * {@linkcode SpaceSaving} update each); a slice that ends is frozen into its
 * `capacity` tallies. Two windows are read from them:
 *
 * - **short** (default the last 5 slices, 10 s): the frozen slices plus the
 *   current one, merged on read;
 * - **long** (default 30 × 10 s, 5 min): every `shortSlices` rotations the
 *   slices of that span are merged and cut back to `capacity` tallies (a
 *   coarse slice); the long view merges the coarse slices, the fine slices
 *   not yet folded, and the current one.
 *
 * A window therefore covers between its nominal length and one slice more
 * (`spanMs` says exactly), and moves in slice steps.
 *
 * Why slices rather than decay: counts stay plain counts ("requests in the
 * last 10 s", which operators can compare with their own numbers), the error
 * bound stays space-saving's, and the hot path touches one summary, not one
 * per window. Memory: (1 + shortSlices + longSlices) × capacity tallies,
 * whatever the number of distinct keys.
 *
 * **Error bound of a merged view.** A key monitored in a slice has
 * `count − error ≤ f ≤ count` there; a key not monitored has `f ≤ floor`
 * (the slice's smallest count when full, else 0). The merge adds counts where
 * the key is monitored and floors where it is not: an upper bound `count`,
 * and a lower bound `count − error`. Their gap is at most the sum of the
 * slices' floors, at most N / capacity for the short window (N = events in
 * the window). A coarse slice keeps the `capacity` largest upper bounds and
 * takes as floor the largest it dropped (or the sum of its fine slices'
 * floors if larger), so the long window's gap is at most about 2N / capacity.
 *
 * @module
 */
import { SpaceSaving, type Tally } from "./space_saving.ts";

/** Exact totals of a slice or window, over every key (monitored or not). */
export interface Totals {
  /** Events (the ranked count: requests). */
  events: number;
  queries: number;
  coalesced: number;
  errors: number;
  writes: number;
}

/** A frozen slice. */
interface Slice<K> {
  readonly tallies: readonly Tally<K>[];
  readonly floor: number;
  readonly totals: Readonly<Totals>;
  /** Clock time of its start and end (ms). */
  readonly startedAt: number;
  readonly endedAt: number;
}

/** One window's top keys. */
export interface WindowView<K> {
  /** What the view covers (ms): from the start of its oldest slice to now. */
  readonly spanMs: number;
  /** Exact totals over the span. */
  readonly totals: Readonly<Totals>;
  /** Bound on any key's `error` in this view (the sum of the slices' floors). */
  readonly maxError: number;
  /** The largest keys, count descending (count is an upper bound; count − error a lower one). */
  readonly top: readonly Tally<K>[];
}

/** Which window to read. */
export type WindowName = "short" | "long";

/** Options of {@linkcode SlidingTopK}. */
export interface SlidingTopKOptions {
  /** Counters per slice (the most keys tracked). Default 64. */
  readonly capacity?: number;
  /** Slices in the short window. Default 5. */
  readonly shortSlices?: number;
  /** Coarse slices (each shortSlices slices long) in the long window. Default 30. */
  readonly longSlices?: number;
  /** Clock (ms). Default performance.now. */
  readonly now?: () => number;
}

const zero = (): Totals => ({ events: 0, queries: 0, coalesced: 0, errors: 0, writes: 0 });

/**
 * The windows. Events go to {@linkcode current} (and its exact totals to
 * {@linkcode totals}); {@linkcode rotate} ends a slice (call it every slice
 * length, e.g. from a timer).
 */
export class SlidingTopK<K> {
  readonly capacity: number;
  readonly shortSlices: number;
  readonly longSlices: number;
  /** The slice taking events now. */
  readonly current: SpaceSaving<K>;
  /** Exact totals of the current slice; callers increment them with each event. */
  totals: Totals = zero();
  #startedAt: number;
  #fine: Slice<K>[] = [];
  #coarse: Slice<K>[] = [];
  /** Fine slices since the last fold (the newest ones not in a coarse slice). */
  #sinceFold = 0;
  #now: () => number;

  /** @throws {RangeError} on a bad option. */
  constructor(o: SlidingTopKOptions = {}) {
    this.capacity = o.capacity ?? 64;
    this.shortSlices = o.shortSlices ?? 5;
    this.longSlices = o.longSlices ?? 30;
    for (const [name, v] of [["shortSlices", this.shortSlices], ["longSlices", this.longSlices]]) {
      if (!Number.isInteger(v) || (v as number) < 1) {
        throw new RangeError(`${name} must be an integer >= 1, got ${v}`);
      }
    }
    this.current = new SpaceSaving<K>(this.capacity);
    this.#now = o.now ?? (() => performance.now());
    this.#startedAt = this.#now();
  }

  /** Tallies held now, over every slice (bounded by (1 + short + long) × capacity). */
  get retained(): number {
    let n = this.current.size;
    for (const s of this.#fine) n += s.tallies.length;
    for (const s of this.#coarse) n += s.tallies.length;
    return n;
  }

  /** Ends the current slice and starts the next. */
  rotate(): void {
    const now = this.#now();
    this.#fine.push(this.#freeze(now));
    if (this.#fine.length > this.shortSlices) this.#fine.shift();
    this.current.clear();
    this.totals = zero();
    this.#startedAt = now;
    if (++this.#sinceFold === this.shortSlices) {
      this.#coarse.push(this.#fold(this.#fine));
      if (this.#coarse.length > this.longSlices) this.#coarse.shift();
      this.#sinceFold = 0;
    }
  }

  /** The `limit` largest keys of a window. */
  view(window: WindowName, limit: number): WindowView<K> {
    const now = this.#now();
    const live = this.#freeze(now);
    const slices = window === "short"
      ? [...this.#fine, live]
      : [...this.#coarse, ...this.#fine.slice(this.#fine.length - this.#sinceFold), live];
    const merged = merge(slices);
    const totals = zero();
    for (const s of slices) {
      for (const k of Object.keys(totals) as (keyof Totals)[]) totals[k] += s.totals[k];
    }
    return {
      spanMs: now - slices[0].startedAt,
      totals,
      maxError: merged.floors,
      top: merged.tallies.slice(0, Math.max(0, limit)),
    };
  }

  #freeze(now: number): Slice<K> {
    return {
      tallies: this.current.tallies(),
      floor: this.current.floor,
      totals: { ...this.totals },
      startedAt: this.#startedAt,
      endedAt: now,
    };
  }

  /** Merges fine slices into one coarse slice of at most `capacity` tallies. */
  #fold(fine: readonly Slice<K>[]): Slice<K> {
    const { tallies, floors } = merge(fine);
    const kept = tallies.slice(0, this.capacity);
    const dropped = tallies.length > this.capacity ? tallies[this.capacity].count : 0;
    const totals = zero();
    for (const s of fine) {
      for (const k of Object.keys(totals) as (keyof Totals)[]) totals[k] += s.totals[k];
    }
    return {
      tallies: kept,
      floor: Math.max(floors, dropped),
      totals,
      startedAt: fine[0].startedAt,
      endedAt: fine[fine.length - 1].endedAt,
    };
  }
}

/** A key's running merge. */
interface Acc<K> {
  key: K;
  count: number;
  error: number;
  queries: number;
  coalesced: number;
  errors: number;
  writes: number;
  tag: unknown;
  /** Sum of the floors of the slices where the key is monitored. */
  covered: number;
}

/**
 * Merges slices: per key, counts and errors where monitored plus the floors of
 * the slices where it is not (see the module documentation); count descending.
 */
function merge<K>(slices: readonly Slice<K>[]): { tallies: Tally<K>[]; floors: number } {
  let floors = 0;
  const byKey = new Map<K, Acc<K>>();
  for (const s of slices) {
    floors += s.floor;
    for (const t of s.tallies) {
      let a = byKey.get(t.key);
      if (a === undefined) {
        a = {
          ...t,
          count: 0,
          error: 0,
          queries: 0,
          coalesced: 0,
          errors: 0,
          writes: 0,
          covered: 0,
        };
        byKey.set(t.key, a);
      }
      a.count += t.count;
      a.error += t.error;
      a.queries += t.queries;
      a.coalesced += t.coalesced;
      a.errors += t.errors;
      a.writes += t.writes;
      a.covered += s.floor;
      a.tag ??= t.tag;
    }
  }
  const tallies: Tally<K>[] = [];
  for (const a of byKey.values()) {
    const absent = floors - a.covered;
    const { covered: _, ...t } = a;
    tallies.push({ ...t, count: a.count + absent, error: a.error + absent });
  }
  tallies.sort((x, y) => y.count - x.count);
  return { tallies, floors };
}
