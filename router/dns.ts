/**
 * DNS membership: the instance list from a name, the way gRPC's `dns:`
 * resolver finds its backends, re-resolved periodically.
 *
 * - `dns:///data-services.default.svc:50051` (or `dns:data-services:50051`):
 *   the A and AAAA records of the name, each address with the given port
 *   (default {@linkcode DEFAULT_DNS_PORT}). A Kubernetes headless Service
 *   (`clusterIP: None`) answers with one record per ready pod.
 * - `dns+srv:///_grpc._tcp.data-services.default.svc`: the SRV records of
 *   the name, each `target:port` (a StatefulSet behind a headless Service has
 *   stable targets `ds-0.data-services...`).
 * - `dns://10.96.0.10:53/name:port` asks that name server instead of the
 *   system's (the authority part, as in gRPC's target syntax).
 *
 * **Order.** Every router must use the same list in the same order, and DNS
 * answers come in any order, so the list is sorted: in natural order (runs of
 * digits compare as numbers, everything else by UTF-16 code unit), so
 * `10.0.0.9` comes before `10.0.0.10` and `ds-2` before `ds-10`. The price:
 * jump hashing moves only about 1/(n+1) of the channels when an instance is
 * appended, but a new address that sorts in the middle shifts every later
 * position, and a pod that restarts with a new IP leaves one place and takes
 * another. Channels that move only coalesce less for a while (nothing is
 * cached), but for stable positions use SRV records of a StatefulSet, whose
 * ordinal names sort in creation order.
 *
 * Needs `--allow-net` (Deno.resolveDns). Deno only: browsers use explicit lists.
 *
 * @module
 */

/** Port used when a `dns:` target names none. */
export const DEFAULT_DNS_PORT = 50051;

/** Default time between two resolutions of a watched target. */
export const DEFAULT_DNS_INTERVAL_MS = 5000;

/** A parsed `dns:` or `dns+srv:` target. */
export interface DnsTarget {
  /** `"A"`: A and AAAA records with {@linkcode port}; `"SRV"`: SRV records. */
  readonly type: "A" | "SRV";
  /** The name to resolve, e.g. `data-services.default.svc`. */
  readonly name: string;
  /** The port of every address (A mode only). */
  readonly port: number;
  /** Name server from the target's authority, if it gave one. */
  readonly nameServer?: { readonly ipAddr: string; readonly port: number };
  /** The target as written, for messages. */
  readonly text: string;
}

/**
 * The DNS lookups {@linkcode resolveDnsTarget} needs; `Deno.resolveDns` by
 * default, a stub in tests.
 */
export interface DnsResolver {
  (query: string, type: "A" | "AAAA", options?: Deno.ResolveDnsOptions): Promise<string[]>;
  (query: string, type: "SRV", options?: Deno.ResolveDnsOptions): Promise<Deno.SrvRecord[]>;
}

/** Whether `text` is a `dns:` or `dns+srv:` target (and not `host:port` or an HTTP URL). */
export function isDnsTarget(text: string): boolean {
  return /^dns(\+srv)?:/i.test(text.trim());
}

/**
 * Parses `dns:[//authority/]name[:port]` or `dns+srv:[//authority/]name`.
 *
 * @throws {TypeError} naming what is wrong (scheme, empty name, bad port,
 *   a port on an SRV target, an authority that is not `ip[:port]`).
 *
 * @example
 * ```ts
 * parseDnsTarget("dns:///data-services.default.svc:50051");
 * // { type: "A", name: "data-services.default.svc", port: 50051, text: ... }
 * ```
 */
export function parseDnsTarget(text: string): DnsTarget {
  const trimmed = text.trim();
  const m = /^(dns|dns\+srv):(?:\/\/([^/]*)\/)?(.*)$/i.exec(trimmed);
  if (!m) {
    throw new TypeError(
      `"${text}" is not a DNS target: use dns:///name:port or dns+srv:///_service._proto.name`,
    );
  }
  const type = m[1].toLowerCase() === "dns" ? "A" : "SRV";
  const nameServer = m[2] ? parseAuthority(m[2], trimmed) : undefined;
  let name = m[3];
  let port = DEFAULT_DNS_PORT;
  const bracket = /^\[([0-9a-fA-F:.]+)\](?::(\d+))?$/.exec(name);
  const hostPort = /^([^:]*):(\d*)$/.exec(name);
  if (bracket) {
    name = bracket[1];
    if (bracket[2] !== undefined) port = toPort(bracket[2], trimmed);
  } else if (hostPort) {
    name = hostPort[1];
    port = toPort(hostPort[2], trimmed);
  }
  if (type === "SRV" && (hostPort || bracket?.[2] !== undefined)) {
    throw new TypeError(`"${text}": an SRV target takes no port (the records give them)`);
  }
  if (name === "" || /[\s,/]/.test(name)) {
    throw new TypeError(`"${text}": the name to resolve is empty or contains spaces, "," or "/"`);
  }
  return { type, name, port, text: trimmed, ...(nameServer ? { nameServer } : {}) };
}

function toPort(text: string, target: string): number {
  const port = Number(text);
  if (text === "" || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new TypeError(`"${target}": port must be 1..65535, got "${text}"`);
  }
  return port;
}

function parseAuthority(text: string, target: string) {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([0-9.]+))(?::(\d+))?$/.exec(text);
  if (!m) {
    throw new TypeError(`"${target}": the name server "${text}" must be ip[:port]`);
  }
  return { ipAddr: m[1] ?? m[2], port: m[3] === undefined ? 53 : toPort(m[3], target) };
}

/**
 * Compares in natural order: runs of ASCII digits as numbers (then by length,
 * so `01` and `1` still differ), everything else by UTF-16 code unit. The
 * order every router applies to a DNS answer.
 */
export function compareNatural(a: string, b: string): number {
  const re = /(\d+)|(\D+)/g;
  const pa = a.match(re) ?? [];
  const pb = b.match(re) ?? [];
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const x = pa[i];
    const y = pb[i];
    if (x === y) continue;
    const dx = x.charCodeAt(0) <= 57 && x.charCodeAt(0) >= 48;
    const dy = y.charCodeAt(0) <= 57 && y.charCodeAt(0) >= 48;
    if (dx && dy) {
      const nx = BigInt(x);
      const ny = BigInt(y);
      if (nx !== ny) return nx < ny ? -1 : 1;
      return x.length - y.length;
    }
    return x < y ? -1 : 1;
  }
  return pa.length - pb.length;
}

function isNotFound(error: unknown): boolean {
  return error instanceof Deno.errors.NotFound;
}

/** Options of {@linkcode resolveDnsTarget}. */
export interface ResolveOptions {
  /** The lookups (default `Deno.resolveDns`). */
  readonly resolver?: DnsResolver;
  /** Aborts the lookups. */
  readonly signal?: AbortSignal;
}

/**
 * The instance list a target stands for now: `ip:port` (`[ip]:port` for
 * IPv6) for each A/AAAA record, or `target:port` for each SRV record,
 * without duplicates, sorted with {@linkcode compareNatural}. A name with
 * records of one family only (the other answering NotFound) is fine.
 *
 * @throws {Deno.errors.NotFound} if the name has no record of the types asked.
 * @throws the resolver's error (e.g. a timeout, or no network permission)
 *   when no lookup succeeded.
 */
export async function resolveDnsTarget(
  target: DnsTarget | string,
  options: ResolveOptions = {},
): Promise<string[]> {
  const t = typeof target === "string" ? parseDnsTarget(target) : target;
  const resolver = options.resolver ?? (Deno.resolveDns as DnsResolver);
  const lookup: Deno.ResolveDnsOptions = {
    ...(t.nameServer ? { nameServer: { ...t.nameServer } } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  };
  let ids: string[];
  if (t.type === "SRV") {
    let records: Deno.SrvRecord[];
    try {
      records = await resolver(t.name, "SRV", lookup);
    } catch (error) {
      if (!isNotFound(error)) throw error;
      records = [];
    }
    ids = records.map((r) => `${r.target.replace(/\.$/, "")}:${r.port}`);
  } else {
    const results = await Promise.allSettled([
      resolver(t.name, "A", lookup),
      resolver(t.name, "AAAA", lookup),
    ]);
    const failure = results.find((r) => r.status === "rejected" && !isNotFound(r.reason));
    const found = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
    if (failure && found.length === 0) throw (failure as PromiseRejectedResult).reason;
    ids = found.flat().map((ip) => ip.includes(":") ? `[${ip}]:${t.port}` : `${ip}:${t.port}`);
  }
  const list = [...new Set(ids)].sort(compareNatural);
  if (list.length === 0) {
    const kinds = t.type === "SRV" ? "SRV" : "A or AAAA";
    throw new Deno.errors.NotFound(`${t.text}: "${t.name}" has no ${kinds} record`);
  }
  return list;
}

/** Options of {@linkcode watchDnsTarget}. */
export interface DnsWatchOptions {
  /**
   * Time from the end of one resolution to the start of the next (default
   * {@linkcode DEFAULT_DNS_INTERVAL_MS}). Kubernetes' CoreDNS answers for a
   * headless Service with a 5 s TTL by default.
   */
  readonly intervalMs?: number;
  /** The lookups (default `Deno.resolveDns`). */
  readonly resolver?: DnsResolver;
  /**
   * Called when a resolution fails or finds no record; the current list is
   * kept (an empty answer while every pod restarts must not empty the router).
   */
  readonly onError?: (error: unknown) => void;
}

/** A running DNS watch. */
export interface DnsWatch {
  /** Resolves now (not waiting for the timer); resolves when done. */
  refresh(): Promise<void>;
  /** Stops resolving; a lookup under way is aborted. Idempotent. */
  close(): void;
}

/**
 * Resolves `target` every `intervalMs` and calls `onChange` with the sorted
 * list each time it differs from the previous one (entries and order). One
 * lookup runs at a time; a failed or empty lookup keeps the list and reports
 * to `onError`. Does not call `onChange` for the current list: resolve it
 * first with {@linkcode resolveDnsTarget}.
 *
 * @param initial the list currently in use (changes are relative to it).
 */
export function watchDnsTarget(
  target: DnsTarget | string,
  initial: readonly string[],
  onChange: (list: string[]) => void,
  options: DnsWatchOptions = {},
): DnsWatch {
  const t = typeof target === "string" ? parseDnsTarget(target) : target;
  const intervalMs = options.intervalMs ?? DEFAULT_DNS_INTERVAL_MS;
  if (!(intervalMs > 0)) throw new RangeError(`intervalMs must be > 0, got ${intervalMs}`);
  const abort = new AbortController();
  let last = initial.join("\n");
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running: Promise<void> | undefined;

  const once = async () => {
    try {
      const list = await resolveDnsTarget(t, { resolver: options.resolver, signal: abort.signal });
      if (abort.signal.aborted) return;
      const joined = list.join("\n");
      if (joined === last) return;
      last = joined;
      onChange(list);
    } catch (error) {
      if (!abort.signal.aborted) options.onError?.(error);
    }
  };
  const schedule = () => {
    if (abort.signal.aborted) return;
    timer = setTimeout(() => {
      timer = undefined;
      void run();
    }, intervalMs);
  };
  const run = (): Promise<void> => {
    if (running) return running;
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    running = once().finally(() => {
      running = undefined;
      schedule();
    });
    return running;
  };
  schedule();
  return {
    refresh: () => abort.signal.aborted ? Promise.resolve() : run(),
    close() {
      if (abort.signal.aborted) return;
      abort.abort();
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
    },
  };
}
