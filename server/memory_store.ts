/**
 * An in-memory {@linkcode MessageStore}, shipped beside the Cassandra one
 * (`store.ts`) for unit tests and demos that need no database: the same
 * contract (history newest first, ids in `(after, before)`, at most `limit`;
 * a missing message is `undefined`; writing an existing id replaces it, as a
 * Cassandra INSERT does), plus controls for tests: hold calls at a gate
 * (a deferred) and release or fail them, fail calls on demand, add latency,
 * count calls.
 *
 * What it does not model: Cassandra's time buckets (a history read visits
 * every message of the channel, with no 32-bucket bound) and consistency
 * levels. Uses no Deno or `node:` API (its import of `store.ts` is types
 * only, so the Cassandra driver is not loaded).
 *
 * @example
 * ```ts
 * const store = new MemoryStore();
 * const gate = store.hold("getMessages");
 * const reading = store.getMessages({ channelId: 1n, before: 0n, after: 0n, limit: 10 });
 * await gate.arrived(1); // the read is in the store now
 * gate.open(); // ... and answers
 * await reading; // []
 * ```
 *
 * @module
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { HistoryQuery, MessageStore, StoredMessage } from "./store.ts";

/** The store's operations. */
export type StoreOp = "getMessage" | "getMessages" | "createMessage" | "ping";

/** One call of the store, as failure rules see it. */
export type StoreCall =
  | { readonly op: "getMessage"; readonly channelId: bigint; readonly messageId: bigint }
  | { readonly op: "getMessages"; readonly query: HistoryQuery }
  | { readonly op: "createMessage"; readonly message: StoredMessage }
  | { readonly op: "ping" };

/**
 * Where calls of one operation wait until a test lets them through.
 * A held call is released by {@linkcode Gate.open} or rejected by
 * {@linkcode Gate.fail}.
 */
export class Gate {
  /** Calls waiting now. Guarded by: only this class changes it. */
  #held: PromiseWithResolvers<void>[] = [];
  /** Calls that ever arrived. */
  #arrivals = 0;
  /** Waiters of {@linkcode arrived}, by the count they wait for. */
  #watchers: { n: number; resolve: () => void }[] = [];
  #open = false;

  /** Calls held at the gate now. */
  get waiting(): number {
    return this.#held.length;
  }

  /** Resolves once `n` calls in all have arrived at the gate. */
  arrived(n = 1): Promise<void> {
    if (this.#arrivals >= n) return Promise.resolve();
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#watchers.push({ n, resolve });
    return promise;
  }

  /** Lets every held call through, and every later one. */
  open(): void {
    this.#open = true;
    for (const d of this.#held.splice(0)) d.resolve();
  }

  /** Rejects every held call with `error`; later calls are held again. */
  fail(error: unknown): void {
    for (const d of this.#held.splice(0)) d.reject(error);
  }

  /** Called by the store: waits here unless the gate is open. */
  pass(): Promise<void> {
    this.#arrivals++;
    const due = this.#watchers.filter((w) => w.n <= this.#arrivals);
    this.#watchers = this.#watchers.filter((w) => w.n > this.#arrivals);
    for (const w of due) w.resolve();
    if (this.#open) return Promise.resolve();
    const d = Promise.withResolvers<void>();
    this.#held.push(d);
    return d.promise;
  }
}

/** Options of {@linkcode MemoryStore}. */
export interface MemoryStoreOptions {
  /** Messages present from the start. */
  readonly messages?: Iterable<StoredMessage>;
  /** Every call answers after this long (a real timer). Default 0. */
  readonly latencyMs?: number;
}

const ZERO_COUNTS = (): Record<StoreOp, number> => ({
  getMessage: 0,
  getMessages: 0,
  createMessage: 0,
  ping: 0,
});

/** A {@linkcode MessageStore} in memory. */
export class MemoryStore implements MessageStore {
  /** Calls started per operation (failed ones included). */
  readonly calls: Record<StoreOp, number> = ZERO_COUNTS();
  /** Messages by channel, then by message id. */
  readonly #channels = new Map<bigint, Map<bigint, StoredMessage>>();
  readonly #gates = new Map<StoreOp, Gate>();
  readonly #failures = new Map<StoreOp, (call: StoreCall) => unknown>();
  readonly #latencyMs: number;
  #closes = 0;

  constructor(options: MemoryStoreOptions = {}) {
    this.#latencyMs = options.latencyMs ?? 0;
    for (const m of options.messages ?? []) this.#put(m);
  }

  /** Times {@linkcode close} was called. */
  get closes(): number {
    return this.#closes;
  }

  /** Messages stored, over every channel. */
  get size(): number {
    let n = 0;
    for (const c of this.#channels.values()) n += c.size;
    return n;
  }

  /**
   * Holds every later call of `op` at a new gate until the test opens or
   * fails it (replaces an earlier gate of `op`, which stays as it is).
   */
  hold(op: StoreOp): Gate {
    const gate = new Gate();
    this.#gates.set(op, gate);
    return gate;
  }

  /**
   * Makes calls of `op` fail with `error`; a function decides per call (it
   * returns the error to throw, or undefined to let the call succeed).
   * Lasts until {@linkcode heal}.
   */
  failWith(op: StoreOp, error: unknown): void {
    this.#failures.set(
      op,
      typeof error === "function" ? error as (call: StoreCall) => unknown : () => error,
    );
  }

  /** Ends the failures of `op` (of every operation without one). */
  heal(op?: StoreOp): void {
    if (op) this.#failures.delete(op);
    else this.#failures.clear();
  }

  async getMessage(channelId: bigint, messageId: bigint): Promise<StoredMessage | undefined> {
    await this.#enter({ op: "getMessage", channelId, messageId });
    const m = this.#channels.get(channelId)?.get(messageId);
    return m && { ...m };
  }

  async getMessages(query: HistoryQuery): Promise<StoredMessage[]> {
    await this.#enter({ op: "getMessages", query });
    const all = [...(this.#channels.get(query.channelId)?.values() ?? [])];
    return all
      .filter((m) =>
        (query.before === 0n || m.messageId < query.before) && m.messageId > query.after
      )
      .sort((a, b) => (a.messageId < b.messageId ? 1 : a.messageId > b.messageId ? -1 : 0))
      .slice(0, Math.max(0, query.limit))
      .map((m) => ({ ...m }));
  }

  async createMessage(message: StoredMessage): Promise<void> {
    await this.#enter({ op: "createMessage", message });
    this.#put(message);
  }

  /** Like the Cassandra store's, fails once `timeoutMs` has passed (a held ping, say). */
  async ping(timeoutMs?: number): Promise<void> {
    if (timeoutMs === undefined) return await this.#enter({ op: "ping" });
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        this.#enter({ op: "ping" }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () =>
              reject(new ConnectError(`no answer within ${timeoutMs} ms`, Code.DeadlineExceeded)),
            timeoutMs,
          );
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  close(): Promise<void> {
    this.#closes++;
    // Calls held at a gate end like queries on a closed driver connection.
    for (const gate of this.#gates.values()) gate.fail(closedError());
    return Promise.resolve();
  }

  #put(m: StoredMessage): void {
    let channel = this.#channels.get(m.channelId);
    if (!channel) this.#channels.set(m.channelId, channel = new Map());
    channel.set(m.messageId, { ...m });
  }

  /** Counts the call; then the gate, the latency and the failure rules of its operation. */
  async #enter(call: StoreCall): Promise<void> {
    this.calls[call.op]++;
    if (this.#closes > 0) throw closedError();
    await this.#gates.get(call.op)?.pass();
    if (this.#latencyMs > 0) await new Promise((r) => setTimeout(r, this.#latencyMs));
    const error = this.#failures.get(call.op)?.(call);
    if (error !== undefined) throw error;
  }
}

function closedError(): ConnectError {
  return new ConnectError("the memory store is closed", Code.Unavailable);
}
