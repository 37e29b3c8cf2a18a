/**
 * A TCP proxy that injects the network faults of a database node, for tests
 * and measurements that must not touch the real node: `freeze()` stops every
 * byte both ways while connections stay open (a node under SIGSTOP: the
 * kernel still accepts connections, nothing answers), `down()` closes every
 * connection and refuses new ones (a killed node; or, with `reset`, accepts
 * and closes them at once, counting them), `up()` and `thaw()` undo them.
 *
 * Put it in front of a one-node Cassandra: the driver keeps the contact
 * point's address for the node it connected through, so all of its traffic
 * goes through the proxy (with more nodes it would learn their own addresses
 * from `system.peers` and bypass it).
 *
 * @example
 * ```ts
 * const proxy = await FaultProxy.start({ hostname: "127.0.0.1", port: 9042 });
 * // contact point: `127.0.0.1:${proxy.port}`
 * proxy.freeze();
 * proxy.thaw();
 * await proxy.close();
 * ```
 *
 * @module
 */

/** Where the proxy forwards to. */
export interface ProxyTarget {
  readonly hostname: string;
  readonly port: number;
}

/** Options of {@linkcode FaultProxy.start}. */
export interface FaultProxyOptions {
  /** Address to listen on. Default `127.0.0.1`. */
  readonly hostname?: string;
  /** Port to listen on. Default 0 (any free port). */
  readonly port?: number;
}

interface Pair {
  readonly client: Deno.Conn;
  upstream?: Deno.Conn;
  /** Resolves when the pair is dropped (ends a pump held by a freeze). */
  readonly dropped: PromiseWithResolvers<void>;
}

/** A fault-injecting TCP proxy. */
export class FaultProxy {
  readonly #target: ProxyTarget;
  readonly #hostname: string;
  #port: number;
  #listener: Deno.Listener | undefined;
  readonly #pairs = new Set<Pair>();
  /** Resolved while bytes flow; a pending promise while frozen. */
  #flowing: PromiseWithResolvers<void> | undefined;
  readonly #tasks = new Set<Promise<void>>();
  #heldBytes = 0;
  #heldWatchers = new Set<() => void>();
  /** Set while down with `reset`: connections are accepted and closed at once. */
  #resetting = false;
  #turnedAway = 0;
  #turnedAwayWatchers = new Set<() => void>();

  private constructor(target: ProxyTarget, hostname: string, port: number) {
    this.#target = target;
    this.#hostname = hostname;
    this.#port = port;
  }

  /** Starts listening; resolves once the port is bound. */
  static start(target: ProxyTarget, options: FaultProxyOptions = {}): Promise<FaultProxy> {
    const proxy = new FaultProxy(target, options.hostname ?? "127.0.0.1", options.port ?? 0);
    proxy.#listen();
    return Promise.resolve(proxy);
  }

  /** The port it listens on (the same after `down()` and `up()`). */
  get port(): number {
    return this.#port;
  }

  /** `host:port` to give a client. */
  get address(): string {
    return `${this.#hostname}:${this.#port}`;
  }

  /** Connections open now. */
  get connections(): number {
    return this.#pairs.size;
  }

  /** Bytes read while frozen and not forwarded yet. */
  get heldBytes(): number {
    return this.#heldBytes;
  }

  /** Resolves once at least `n` bytes are held by a freeze. */
  async holding(n: number): Promise<void> {
    while (this.#heldBytes < n) {
      await new Promise<void>((resolve) => this.#heldWatchers.add(resolve));
    }
  }

  /** True while frozen. */
  get frozen(): boolean {
    return this.#flowing !== undefined;
  }

  /** True while down (connections refused or reset). */
  get isDown(): boolean {
    return this.#listener === undefined || this.#resetting;
  }

  /** Stops every byte in both directions; connections stay open and new ones are accepted. */
  freeze(): void {
    this.#flowing ??= Promise.withResolvers<void>();
  }

  /** Lets bytes flow again, those held during the freeze first. */
  thaw(): void {
    this.#flowing?.resolve();
    this.#flowing = undefined;
  }

  /**
   * Closes every connection. New connections are refused (the listener is
   * closed), or with `reset` accepted and closed at once and counted (see
   * {@linkcode turnedAway}).
   */
  async down(options: { readonly reset?: boolean } = {}): Promise<void> {
    this.#resetting = options.reset ?? false;
    if (!this.#resetting) {
      this.#listener?.close();
      this.#listener = undefined;
    }
    for (const pair of this.#pairs) this.#drop(pair);
    if (!this.#resetting) await Promise.allSettled([...this.#tasks]);
  }

  /** Resolves once `n` connections in all were turned away by `down({ reset: true })`. */
  async turnedAway(n: number): Promise<void> {
    while (this.#turnedAway < n) {
      await new Promise<void>((resolve) => this.#turnedAwayWatchers.add(resolve));
    }
  }

  /** Forwards new connections again, on the same port. */
  up(): Promise<void> {
    this.#resetting = false;
    if (!this.#listener) this.#listen();
    return Promise.resolve();
  }

  /** Stops for good. */
  async close(): Promise<void> {
    this.thaw();
    await this.down();
    for (const w of this.#turnedAwayWatchers) w();
  }

  #listen(): void {
    const listener = Deno.listen({ hostname: this.#hostname, port: this.#port, transport: "tcp" });
    this.#port = (listener.addr as Deno.NetAddr).port;
    this.#listener = listener;
    this.#track(this.#accept(listener));
  }

  async #accept(listener: Deno.Listener): Promise<void> {
    try {
      for await (const client of listener) {
        if (this.#resetting) {
          client.close();
          this.#turnedAway++;
          for (const w of this.#turnedAwayWatchers) w();
          this.#turnedAwayWatchers.clear();
          continue;
        }
        const pair: Pair = { client, dropped: Promise.withResolvers<void>() };
        this.#pairs.add(pair);
        this.#track(this.#serve(pair));
      }
    } catch {
      // closed by down()
    }
  }

  async #serve(pair: Pair): Promise<void> {
    try {
      pair.upstream = await Deno.connect({
        hostname: this.#target.hostname,
        port: this.#target.port,
      });
      if (!this.#pairs.has(pair)) return; // dropped while connecting
      await Promise.race([
        this.#pump(pair, pair.client, pair.upstream),
        this.#pump(pair, pair.upstream, pair.client),
      ]);
    } catch {
      // a side closed or reset: drop both
    } finally {
      this.#drop(pair);
    }
  }

  /** Copies `from` to `to`, holding bytes while frozen. Ends when `from` ends or the pair drops. */
  async #pump(pair: Pair, from: Deno.Conn, to: Deno.Conn): Promise<void> {
    const buf = new Uint8Array(64 * 1024);
    for (;;) {
      if (!await this.#held(pair)) return;
      const n = await from.read(buf);
      if (n === null) return;
      const frozen = this.frozen;
      if (frozen) this.#hold(n);
      const live = await this.#held(pair);
      if (frozen) this.#hold(-n);
      if (!live) return;
      let off = 0;
      while (off < n) off += await to.write(buf.subarray(off, n));
    }
  }

  #hold(n: number): void {
    this.#heldBytes += n;
    for (const w of this.#heldWatchers) w();
    this.#heldWatchers.clear();
  }

  /** Waits while frozen; false once the pair is dropped. */
  async #held(pair: Pair): Promise<boolean> {
    const flowing = this.#flowing;
    if (flowing) await Promise.race([flowing.promise, pair.dropped.promise]);
    return this.#pairs.has(pair);
  }

  #drop(pair: Pair): void {
    if (!this.#pairs.delete(pair)) return;
    pair.dropped.resolve();
    for (const c of [pair.client, pair.upstream]) {
      try {
        c?.close();
      } catch {
        // already closed
      }
    }
  }

  #track(task: Promise<void>): void {
    this.#tasks.add(task);
    task.finally(() => this.#tasks.delete(task));
  }
}
