/**
 * Hot-key telemetry of one instance: which channels (routing keys) and which
 * coalescing keys take the traffic now, with per-key requests, Cassandra
 * queries, coalesced waiters, errors and writes, over a short (~10 s) and a
 * long (~5 min) sliding window, in fixed memory whatever the number of
 * distinct keys (two {@linkcode SlidingTopK}s of space-saving sketches).
 *
 * The service records into it with O(1) work per event and no clock read
 * (one sketch update per request, a map lookup per query, join or error);
 * a timer calls {@linkcode HotKeys.rotate} every slice. `deno bench
 * server/hotkeys/hot_keys_bench.ts` measures the cost per call.
 *
 * @module
 */
import { SlidingTopK, type WindowName, type WindowView } from "./sliding_top_k.ts";

export type { WindowName, WindowView };

/** Options of {@linkcode HotKeys}. */
export interface HotKeysOptions {
  /** Counters per sketch (the most keys tracked per slice). Default 64. */
  readonly capacity?: number;
  /** Slice length (ms); the app rotates on this period. Default 2000. */
  readonly sliceMs?: number;
  /** Slices in the short window. Default 5 (10 s). */
  readonly shortSlices?: number;
  /** Coarse slices (shortSlices each) in the long window. Default 30 (5 min). */
  readonly longSlices?: number;
  /** Clock (ms). Default performance.now. */
  readonly now?: () => number;
}

/** Both sketches' view of one window. */
export interface HotKeysView {
  readonly window: WindowName;
  readonly channels: WindowView<bigint>;
  readonly keys: WindowView<string>;
}

/**
 * The channel of a coalescing key `kind:CHANNEL:...` (the service's key
 * format), or undefined.
 */
export function channelOfKey(key: string): bigint | undefined {
  const start = key.indexOf(":") + 1;
  const end = key.indexOf(":", start);
  if (start === 0) return undefined;
  try {
    return BigInt(end < 0 ? key.slice(start) : key.slice(start, end));
  } catch {
    return undefined;
  }
}

/** The recorder. Methods never throw. */
export class HotKeys {
  readonly channels: SlidingTopK<bigint>;
  readonly keys: SlidingTopK<string>;
  readonly sliceMs: number;

  /** @throws {RangeError} on a bad option. */
  constructor(o: HotKeysOptions = {}) {
    this.sliceMs = o.sliceMs ?? 2000;
    if (!(this.sliceMs >= 1)) throw new RangeError(`sliceMs must be >= 1, got ${this.sliceMs}`);
    this.channels = new SlidingTopK<bigint>(o);
    this.keys = new SlidingTopK<string>(o);
  }

  /** Nominal window lengths (ms). */
  get windowsMs(): { short: number; long: number } {
    const c = this.channels;
    return {
      short: c.shortSlices * this.sliceMs,
      long: c.longSlices * c.shortSlices * this.sliceMs,
    };
  }

  /** A read of `channel` arrived; `key` is its coalescing key. */
  read(channel: bigint, key: string): void {
    const ch = this.channels;
    ch.totals.events++;
    ch.current.add(channel);
    const ks = this.keys;
    ks.totals.events++;
    const c = ks.current.add(key);
    if (c.tag === undefined) c.tag = channel;
  }

  /** A write of `channel` arrived. */
  write(channel: bigint): void {
    const ch = this.channels;
    ch.totals.events++;
    ch.current.add(channel);
  }

  /** A read query (with its coalescing key) or a write (without) reached Cassandra. */
  queried(channel: bigint, key?: string): void {
    const ch = this.channels;
    ch.totals.queries++;
    const c = ch.current.get(channel);
    if (key === undefined) {
      ch.totals.writes++;
      if (c !== undefined) {
        c.queries++;
        c.writes++;
      }
      return;
    }
    if (c !== undefined) c.queries++;
    const ks = this.keys;
    ks.totals.queries++;
    const k = ks.current.get(key);
    if (k !== undefined) k.queries++;
  }

  /** A read joined the flight of `key` (from the coalescer's "join" event). */
  joined(key: string): void {
    const ks = this.keys;
    ks.totals.coalesced++;
    const k = ks.current.get(key);
    if (k !== undefined) k.coalesced++;
    const channel = (k?.tag as bigint | undefined) ?? channelOfKey(key);
    const ch = this.channels;
    ch.totals.coalesced++;
    if (channel === undefined) return;
    const c = ch.current.get(channel);
    if (c !== undefined) c.coalesced++;
  }

  /** A request of `channel` failed (a read with its key, a write without). */
  failed(channel: bigint, key?: string): void {
    const ch = this.channels;
    ch.totals.errors++;
    const c = ch.current.get(channel);
    if (c !== undefined) c.errors++;
    if (key === undefined) return;
    const ks = this.keys;
    ks.totals.errors++;
    const k = ks.current.get(key);
    if (k !== undefined) k.errors++;
  }

  /** Ends the current slice (call every {@linkcode sliceMs}). */
  rotate(): void {
    this.channels.rotate();
    this.keys.rotate();
  }

  /** The `limit` hottest channels and keys of a window. */
  view(window: WindowName, limit: number): HotKeysView {
    return {
      window,
      channels: this.channels.view(window, limit),
      keys: this.keys.view(window, limit),
    };
  }
}
