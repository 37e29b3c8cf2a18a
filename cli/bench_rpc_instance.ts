/**
 * A data-service instance under test in `deno task bench:rpc`: a child
 * `server/main.ts` on a free port, optionally pinned to CPUs and profiled,
 * started again when it died (Deno 2.9.6's node:http2 aborts the process
 * when h2load closes its connections, see issue 9), with its `GetStats`
 * counters and the fast listener `/healthz` announces.
 *
 * @module
 */
import { type ChildService, spawnService } from "./child.ts";

/** `GetStats` of an instance (cumulative counters and current gauges). */
export interface InstanceStats {
  readonly requests: number;
  readonly queries: number;
  readonly coalesced: number;
  readonly errors: number;
  readonly rejected: number;
  readonly inFlightQueries: number;
  readonly inFlightWaiters: number;
  readonly startedAt: string;
}

/**
 * Reads the Connect JSON of a GetStatsResponse. proto3 JSON leaves out
 * zero values, so a missing counter is 0.
 */
export function parseStatsJson(json: unknown): InstanceStats {
  if (typeof json !== "object" || json === null) throw new Error("GetStats: not a JSON object");
  const o = json as Record<string, unknown>;
  const n = (k: string) => {
    const v = o[k];
    if (v === undefined) return 0;
    const x = Number(v);
    if (!Number.isSafeInteger(x)) throw new Error(`GetStats: ${k} is not an integer: ${v}`);
    return x;
  };
  return {
    requests: n("requests"),
    queries: n("queries"),
    coalesced: n("coalesced"),
    errors: n("errors"),
    rejected: n("rejected"),
    inFlightQueries: n("inFlightQueries"),
    inFlightWaiters: n("inFlightWaiters"),
    startedAt: String(o.startedAt ?? ""),
  };
}

/** Calls `GetStats` (Connect JSON POST) on `baseUrl`. */
export async function readStats(baseUrl: string, timeoutMs = 10_000): Promise<InstanceStats> {
  const url = `${baseUrl}/dataservices.v1.MessagesService/GetStats`;
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: "{}",
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`GetStats of ${baseUrl}: HTTP ${res.status} ${text.slice(0, 200)}`);
  return parseStatsJson(JSON.parse(text));
}

/**
 * Failed data RPCs by code from a Prometheus exposition
 * (`dataservices_requests_total{method,code}`, every code but ok), summed
 * over methods.
 */
export function errorCodesOf(exposition: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of exposition.split("\n")) {
    if (!line.startsWith("dataservices_requests_total{")) continue;
    const code = /code="([^"]*)"/.exec(line)?.[1];
    const value = Number(line.slice(line.lastIndexOf(" ") + 1));
    if (code === undefined || code === "ok" || !Number.isFinite(value)) continue;
    out[code] = (out[code] ?? 0) + value;
  }
  return out;
}

/** Failed data RPCs by code, from the instance's `/metrics`. */
export async function readErrorCodes(baseUrl: string): Promise<Record<string, number>> {
  const res = await fetch(`${baseUrl}/metrics`, { signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  if (!res.ok) throw new Error(`/metrics of ${baseUrl}: HTTP ${res.status}`);
  return errorCodesOf(text);
}

/** `after - before` per code, codes that moved only: "canceled 100, unavailable 2". */
export function codesDelta(
  before: Readonly<Record<string, number>>,
  after: Readonly<Record<string, number>>,
): string {
  return Object.entries(after)
    .map(([k, v]) => [k, v - (before[k] ?? 0)] as const)
    .filter(([, d]) => d !== 0)
    .sort((a, b) => b[1] - a[1])
    .map(([k, d]) => `${k} ${d}`)
    .join(", ");
}

/** The `fastPort` that `/healthz` announces, or undefined when it has none. */
export function fastPortOf(healthz: unknown): number | undefined {
  const p = (healthz as { fastPort?: unknown } | null)?.fastPort;
  return typeof p === "number" && Number.isInteger(p) && p > 0 && p < 65536 ? p : undefined;
}

/**
 * Waits until the counters stop moving: no call in flight and `requests`
 * unchanged over `stableReads` reads `intervalMs` apart. Returns the last read.
 *
 * @throws {Error} naming the instance after `timeoutMs`.
 */
export async function waitQuiet(
  baseUrl: string,
  o: { timeoutMs: number; intervalMs?: number; stableReads?: number },
): Promise<InstanceStats> {
  const deadline = Date.now() + o.timeoutMs;
  let last = await readStats(baseUrl);
  let stable = 0;
  for (;;) {
    await new Promise((r) => setTimeout(r, o.intervalMs ?? 50));
    const now = await readStats(baseUrl);
    const quiet = now.inFlightQueries === 0 && now.inFlightWaiters === 0 &&
      now.requests === last.requests;
    stable = quiet ? stable + 1 : 0;
    last = now;
    if (stable >= (o.stableReads ?? 3)) return now;
    if (Date.now() > deadline) {
      throw new Error(
        `${baseUrl} did not come to rest within ${o.timeoutMs} ms ` +
          `(requests ${now.requests}, waiters ${now.inFlightWaiters}, queries ${now.inFlightQueries})`,
      );
    }
  }
}

/** Options of {@linkcode InstanceUnderTest}. */
export interface InstanceOptions {
  readonly name: string;
  /** Flags of server/main.ts besides --host/--port (Cassandra, worker id, ...). */
  readonly args: readonly string[];
  /** `taskset -c` CPUs. */
  readonly cpus?: string;
  /** Deno flags (`--cpu-prof`, ...). */
  readonly denoFlags?: readonly string[];
  /** How long start() waits for /readyz. Default 60 s. */
  readonly readyTimeoutMs?: number;
}

/** `p`, or a rejection with `message` after `ms` (the timer is cleared either way). */
export async function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** One server/main.ts child, restartable. */
export class InstanceUnderTest {
  #child?: ChildService;
  #dead = true;
  /** `http://127.0.0.1:PORT` of the running child. */
  url = "";
  /** `http://127.0.0.1:FASTPORT` when /healthz announces a fast listener. */
  fastUrl: string | undefined;
  /** Starts after the first one (crashes survived). */
  restarts = 0;
  /** Last lines of a child that died, for the report. */
  lastDeath: string[] = [];

  constructor(readonly options: InstanceOptions) {}

  /** The child's process id (Deno's; taskset execs it). */
  get pid(): number {
    if (!this.#child) throw new Error(`${this.options.name} is not running`);
    return this.#child.pid;
  }

  /** Whether the child is running. */
  get alive(): boolean {
    return this.#child !== undefined && !this.#dead;
  }

  /** Starts the child and waits until /readyz answers 200. */
  async start(): Promise<void> {
    if (this.#child) this.restarts++;
    const child = spawnService(this.options.name, "server/main.ts", [
      "--host",
      "127.0.0.1",
      "--port",
      "0",
      ...this.options.args,
    ], { cpus: this.options.cpus, denoFlags: [...(this.options.denoFlags ?? [])] });
    this.#child = child;
    this.#dead = false;
    child.exited.then(() => {
      if (this.#child === child) {
        this.#dead = true;
        this.lastDeath = child.tail().slice(-5);
      }
    });
    const timeoutMs = this.options.readyTimeoutMs ?? 60_000;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      this.url = await withTimeout(
        child.listening,
        timeoutMs,
        `${this.options.name} did not listen within ${timeoutMs} ms`,
      );
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const ok = await fetch(`${this.url}/readyz`).then(async (r) => {
          await r.body?.cancel();
          return r.ok;
        }, () => false);
        if (ok) break;
        if (this.#dead) {
          throw new Error(
            `${this.options.name} exited while starting:\n  ${
              child.tail().slice(-15).join("\n  ")
            }`,
          );
        }
        if (Date.now() > deadline) {
          throw new Error(`${this.options.name} (${this.url}) not ready after ${timeoutMs} ms`);
        }
        await new Promise((r) => (timer = setTimeout(r, 250)));
      }
      const health = await fetch(`${this.url}/healthz`).then((r) => r.json(), () => null);
      const fast = fastPortOf(health);
      this.fastUrl = fast === undefined ? undefined : `http://127.0.0.1:${fast}`;
    } catch (err) {
      await child.stop(2000);
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Starts the child again if it died. Returns true when it did. */
  async ensureRunning(): Promise<boolean> {
    if (this.alive) return false;
    await this.start();
    return true;
  }

  /**
   * Resolves true once the child has exited, false if it still runs after
   * `ms` (to tell a crash at h2load's close from a live instance).
   */
  async exitsWithin(ms: number): Promise<boolean> {
    if (!this.#child || this.#dead) return true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const r = await Promise.race([
      this.#child.exited.then(() => true),
      new Promise<false>((res) => (timer = setTimeout(() => res(false), ms))),
    ]);
    clearTimeout(timer);
    return r;
  }

  /** SIGKILL now, synchronously (a second Ctrl-C). */
  killNow(): void {
    if (!this.alive) return;
    try {
      Deno.kill(this.pid, "SIGKILL");
    } catch { /* already gone */ }
  }

  /** SIGTERM (then SIGKILL after `graceMs`); resolves with the exit code. */
  async stop(graceMs = 5000): Promise<number | undefined> {
    const child = this.#child;
    if (!child) return undefined;
    const code = await child.stop(graceMs);
    this.#dead = true;
    return code;
  }
}
