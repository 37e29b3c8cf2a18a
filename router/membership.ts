/**
 * The ordered list of data-service instances, one transport per instance, and
 * each instance's health flag.
 *
 * Order matters: jump hashing maps a key to a position in the list, so
 * instances must be listed in the same order by every router, and a new
 * instance must be appended (then only about 1/(n+1) of the channels move, all
 * to it). Removing an instance from the middle shifts every later position;
 * prefer keeping a dead instance listed (failover moves only its keys) and
 * removing only from the end.
 *
 * Imports nothing from `node:`: works in browsers with connect-web transports.
 *
 * @module
 */

import type { Transport } from "@connectrpc/connect";

/** A data-service instance: a stable id and the base URL its transport talks to. */
export interface Instance {
  /** Identifies the instance in the list, e.g. `"10.0.0.7:50051"`. */
  readonly id: string;
  /** Base URL of the instance, e.g. `"http://10.0.0.7:50051"`. */
  readonly baseUrl: string;
}

/**
 * An instance as given in a list: `"host:port"` (base URL `http://host:port`),
 * a URL `"https://host:port/prefix"` (id and base URL both the URL), or an
 * explicit `{ id, baseUrl? }`.
 */
export type InstanceInit = string | { readonly id: string; readonly baseUrl?: string };

/**
 * A transport the router may close when its instance leaves the list or the
 * router closes. `close` is optional; a connect-node factory would abort its
 * `Http2SessionManager` there (see `router/node.ts`).
 */
export type ClosableTransport = Transport & { close?(): void | Promise<void> };

/** Makes the transport for one instance (connect-web, connect-node, or in-memory). */
export type TransportFactory = (instance: Instance) => ClosableTransport;

/**
 * Normalizes one list entry.
 *
 * @throws {TypeError} if the id is empty or contains whitespace or a comma.
 *
 * @example
 * ```ts
 * toInstance("10.0.0.7:50051"); // { id: "10.0.0.7:50051", baseUrl: "http://10.0.0.7:50051" }
 * toInstance("https://ds.example.com"); // { id: "https://ds.example.com", baseUrl: same }
 * ```
 */
export function toInstance(init: InstanceInit): Instance {
  const id = (typeof init === "string" ? init : init.id).trim();
  if (id === "" || /[\s,]/.test(id)) {
    throw new TypeError(`Instance id must be non-empty without spaces or commas, got "${id}"`);
  }
  let baseUrl = typeof init === "string" ? undefined : init.baseUrl;
  if (baseUrl === undefined) baseUrl = id.includes("://") ? id : `http://${id}`;
  return { id, baseUrl: baseUrl.replace(/\/+$/, "") };
}

/**
 * Parses an instance list: entries separated by commas, whitespace or new
 * lines; `#` starts a comment that runs to the end of the line. Order is kept.
 * Accepts the `DATA_SERVICES` environment variable format and membership files.
 *
 * @example
 * ```ts
 * parseInstanceList("a:1, b:2\n# spare\nc:3 # newest last"); // ["a:1", "b:2", "c:3"]
 * ```
 */
export function parseInstanceList(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    const hash = line.indexOf("#");
    const content = hash < 0 ? line : line.slice(0, hash);
    for (const part of content.split(/[\s,]+/)) if (part !== "") out.push(part);
  }
  return out;
}

/**
 * One instance in the list with its transport and health. Fields are mutated
 * only by {@linkcode Membership} and the router; callers get snapshots.
 */
export interface Member {
  /** The instance. */
  readonly instance: Instance;
  /** Its transport, made once by the factory. */
  readonly transport: ClosableTransport;
  /** Position in the ordered list (the jump bucket). */
  index: number;
  /** Whether the router sends keyed traffic here. New members start up. */
  up: boolean;
  /** Bumped on every health change, so stale probe or call results are ignored. */
  epoch: number;
  /** Calls running on this transport (its close waits for them). */
  inflight: number;
  /** Left the list; the transport closes once `inflight` reaches 0. */
  removed: boolean;
}

/** What {@linkcode Membership.set} changed. */
export interface MembershipChange {
  /** Instances that were not in the list before (they start up). */
  readonly added: readonly Instance[];
  /** Instances no longer in the list (their transports close once idle). */
  readonly removed: readonly Instance[];
}

/**
 * The ordered members and their transports. `set` reuses the transport of
 * every kept instance (same id and base URL) and closes the transports of
 * removed ones once their in-flight calls end.
 */
export class Membership {
  #create: TransportFactory;
  #onCloseError: (error: unknown, instance: Instance) => void;
  #members: Member[] = [];
  #byId = new Map<string, Member>();
  #closing = new Set<Promise<void>>();
  #closed = new WeakSet<Member>();

  /**
   * @param create makes the transport of a new instance.
   * @param onCloseError called when a transport's `close` throws (default: ignore).
   */
  constructor(
    create: TransportFactory,
    onCloseError: (error: unknown, instance: Instance) => void = () => {},
  ) {
    this.#create = create;
    this.#onCloseError = onCloseError;
  }

  /** The members in list order. Do not mutate. */
  get members(): readonly Member[] {
    return this.#members;
  }

  /** The member with this id, if it is in the list. */
  get(id: string): Member | undefined {
    return this.#byId.get(id);
  }

  /**
   * Replaces the list. Throws before changing anything if an entry is invalid
   * or an id appears twice.
   *
   * @throws {TypeError} on an invalid or duplicate instance.
   */
  set(list: Iterable<InstanceInit>): MembershipChange {
    const next = [...list].map(toInstance);
    const ids = new Set<string>();
    for (const instance of next) {
      if (ids.has(instance.id)) throw new TypeError(`Instance "${instance.id}" is listed twice`);
      ids.add(instance.id);
    }
    const added: Instance[] = [];
    const removed: Instance[] = [];
    const members: Member[] = [];
    const byId = new Map<string, Member>();
    for (const [index, instance] of next.entries()) {
      let member = this.#byId.get(instance.id);
      if (member !== undefined && member.instance.baseUrl !== instance.baseUrl) member = undefined;
      if (member === undefined) {
        member = {
          instance,
          transport: this.#create(instance),
          index,
          up: true,
          epoch: 0,
          inflight: 0,
          removed: false,
        };
        added.push(instance);
      }
      member.index = index;
      members.push(member);
      byId.set(instance.id, member);
    }
    for (const old of this.#members) {
      if (byId.get(old.instance.id) !== old) {
        old.removed = true;
        removed.push(old.instance);
        if (old.inflight === 0) this.#close(old);
      }
    }
    this.#members = members;
    this.#byId = byId;
    return { added, removed };
  }

  /** Counts a call on `member` (pair with {@linkcode release}). */
  acquire(member: Member): void {
    member.inflight++;
  }

  /** Ends a call on `member`; closes its transport if it left the list and is idle. */
  release(member: Member): void {
    member.inflight--;
    if (member.removed && member.inflight === 0) this.#close(member);
  }

  /**
   * Removes every member and closes all transports now (in-flight calls on
   * them may fail). Resolves when every `close` has settled.
   */
  async close(): Promise<void> {
    const members = this.#members;
    this.#members = [];
    this.#byId = new Map();
    for (const member of members) {
      member.removed = true;
      this.#close(member);
    }
    await Promise.all(this.#closing);
  }

  #close(member: Member): void {
    if (this.#closed.has(member)) return;
    this.#closed.add(member);
    const close = member.transport.close;
    if (close === undefined) return;
    const done = (async () => {
      try {
        await close.call(member.transport);
      } catch (error) {
        this.#onCloseError(error, member.instance);
      }
    })();
    this.#closing.add(done);
    done.finally(() => this.#closing.delete(done));
  }
}
