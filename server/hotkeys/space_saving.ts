/**
 * Space-saving top-K (Metwally, Agrawal & El Abbadi, "Efficient Computation
 * of Frequent and Top-k Elements in Data Streams", 2005) on a stream-summary:
 * `capacity` counters whatever the number of distinct keys, O(1) per event.
 *
 * A key that has a counter gets +1. A new key takes a free counter, or, when
 * all are taken, the counter of a key with the smallest count: it inherits
 * that count (+1) and records it as its `error`. Hence, for a stream of N
 * events and m counters:
 *
 * - every monitored key's `count` over-estimates its true frequency f by at
 *   most its `error`: `count − error ≤ f ≤ count`;
 * - `error ≤ min count ≤ N / m`;
 * - every key with f > N / m is monitored (the smallest count never exceeds N / m).
 *
 * The stream-summary keeps counters in buckets of equal count, the buckets in
 * a doubly linked list in ascending order, so "+1" moves a counter to the next
 * bucket (creating it if needed) and the smallest count is the first bucket:
 * no heap, no sort, no allocation once warm (buckets are recycled).
 *
 * Counters also carry side tallies (queries, coalesced, errors, writes) that
 * the caller increments on events of a monitored key; they count from the
 * moment the key got its counter, so they are lower bounds (exact for keys
 * monitored all along).
 *
 * @module
 */

/** One monitored key. Fields are read by snapshots; callers increment the tallies. */
export class Counter<K> {
  /** The key; reassigned when the counter is taken over. */
  key: K;
  /** Estimated frequency (an upper bound). */
  count = 0;
  /** Count inherited when the key took this counter over (count − error ≤ true ≤ count). */
  error = 0;
  /** Side tallies since the key got this counter. */
  queries = 0;
  coalesced = 0;
  errors = 0;
  writes = 0;
  /** Anything the caller attaches to the key (e.g. its channel); reset on take-over. */
  tag: unknown = undefined;
  /** Bucket of counters with this count. */
  bucket: Bucket<K> | null = null;
  prev: Counter<K> | null = null;
  next: Counter<K> | null = null;

  constructor(key: K) {
    this.key = key;
  }
}

/** Counters of one count, in a list. */
class Bucket<K> {
  count = 0;
  head: Counter<K> | null = null;
  prev: Bucket<K> | null = null;
  next: Bucket<K> | null = null;
}

/** A frozen counter: what snapshots hold. */
export interface Tally<K> {
  readonly key: K;
  /** Upper bound of the key's frequency. */
  readonly count: number;
  /** count − error is a lower bound. */
  readonly error: number;
  readonly queries: number;
  readonly coalesced: number;
  readonly errors: number;
  readonly writes: number;
  readonly tag: unknown;
}

/**
 * The space-saving summary.
 *
 * @example
 * ```ts
 * const top = new SpaceSaving<string>(64);
 * for (const key of stream) top.add(key);
 * top.get("hot")!.queries++; // a side tally of a monitored key
 * top.tallies().slice(0, 10); // the ten largest, count descending
 * ```
 */
export class SpaceSaving<K> {
  /** Counters (the most keys monitored at once). */
  readonly capacity: number;
  #byKey = new Map<K, Counter<K>>();
  /** The bucket of the smallest count (the list's head). */
  #min: Bucket<K> | null = null;
  /** Recycled buckets. */
  #spare: Bucket<K>[] = [];
  /** Events added (N). */
  #total = 0;

  /** @throws {RangeError} unless capacity is an integer >= 1. */
  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`capacity must be an integer >= 1, got ${capacity}`);
    }
    this.capacity = capacity;
  }

  /** Events added since construction or {@linkcode clear} (N). */
  get total(): number {
    return this.#total;
  }

  /** Keys monitored now (<= capacity). */
  get size(): number {
    return this.#byKey.size;
  }

  /** Buckets in the list now (<= size); for memory tests. */
  get buckets(): number {
    let n = 0;
    for (let b = this.#min; b !== null; b = b.next) n++;
    return n;
  }

  /**
   * The smallest count when every counter is taken, else 0: an upper bound of
   * the frequency of any key not monitored.
   */
  get floor(): number {
    return this.#byKey.size < this.capacity || this.#min === null ? 0 : this.#min.count;
  }

  /** Counts one event of `key`; returns its counter (to bump side tallies). */
  add(key: K): Counter<K> {
    this.#total++;
    let c = this.#byKey.get(key);
    if (c !== undefined) {
      this.#increment(c);
      return c;
    }
    if (this.#byKey.size < this.capacity) {
      c = new Counter(key);
      this.#byKey.set(key, c);
      this.#insertFirst(c);
      return c;
    }
    // Take over a counter of the smallest count.
    c = this.#min!.head!;
    this.#byKey.delete(c.key);
    c.key = key;
    c.error = c.count;
    c.queries =
      c.coalesced =
      c.errors =
      c.writes =
        0;
    c.tag = undefined;
    this.#byKey.set(key, c);
    this.#increment(c);
    return c;
  }

  /** The counter of `key`, if it is monitored. */
  get(key: K): Counter<K> | undefined {
    return this.#byKey.get(key);
  }

  /** Every monitored key's counter as a frozen tally, count descending. */
  tallies(): Tally<K>[] {
    const out: Tally<K>[] = [];
    for (let b = this.#min; b !== null; b = b.next) {
      for (let c = b.head; c !== null; c = c.next) {
        const { key, count, error, queries, coalesced, errors, writes, tag } = c;
        out.push({ key, count, error, queries, coalesced, errors, writes, tag });
      }
    }
    return out.reverse();
  }

  /** Forgets every key (counters and buckets are dropped; N is 0 again). */
  clear(): void {
    this.#byKey.clear();
    this.#min = null;
    this.#spare.length = 0;
    this.#total = 0;
  }

  /** A new key with count 1 goes to the first bucket (count 1), made if needed. */
  #insertFirst(c: Counter<K>): void {
    let b = this.#min;
    if (b === null || b.count !== 1) {
      const nb = this.#bucket(1);
      nb.next = b;
      if (b !== null) b.prev = nb;
      this.#min = b = nb;
    }
    c.count = 1;
    this.#attach(c, b);
  }

  /** +1: moves `c` to the bucket of count + 1. */
  #increment(c: Counter<K>): void {
    const b = c.bucket!;
    const count = b.count + 1;
    c.count = count;
    const next = b.next;
    if (next !== null && next.count === count) {
      this.#detach(c);
      this.#attach(c, next);
      return;
    }
    if (b.head === c && c.next === null) { // alone in its bucket: bump the bucket in place
      b.count = count;
      return;
    }
    const nb = this.#bucket(count);
    nb.prev = b;
    nb.next = next;
    if (next !== null) next.prev = nb;
    b.next = nb;
    this.#detach(c);
    this.#attach(c, nb);
  }

  #attach(c: Counter<K>, b: Bucket<K>): void {
    c.bucket = b;
    c.prev = null;
    c.next = b.head;
    if (b.head !== null) b.head.prev = c;
    b.head = c;
  }

  /** Takes `c` out of its bucket; an emptied bucket leaves the list. */
  #detach(c: Counter<K>): void {
    const b = c.bucket!;
    if (c.prev !== null) c.prev.next = c.next;
    else b.head = c.next;
    if (c.next !== null) c.next.prev = c.prev;
    c.prev = c.next = null;
    c.bucket = null;
    if (b.head !== null) return;
    if (b.prev !== null) b.prev.next = b.next;
    else this.#min = b.next;
    if (b.next !== null) b.next.prev = b.prev;
    b.prev = b.next = null;
    this.#spare.push(b);
  }

  #bucket(count: number): Bucket<K> {
    const b = this.#spare.pop() ?? new Bucket<K>();
    b.count = count;
    return b;
  }
}
