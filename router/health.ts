/**
 * Active health checking of data-service instances through the standard
 * `grpc.health.v1.Health/Check`, and the stoppable loop that runs the probes.
 *
 * Imports nothing from `node:`: works in browsers with connect-web transports.
 *
 * @module
 */

import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { Health, HealthCheckResponse_ServingStatus } from "../gen/grpc/health/v1/health_pb.ts";

/** Default time between the end of one probe round and the start of the next. */
export const DEFAULT_PROBE_INTERVAL_MS = 1000;
/** Default deadline of one health check. */
export const DEFAULT_PROBE_TIMEOUT_MS = 500;

/** Options of {@linkcode probeHealth}. */
export interface ProbeOptions {
  /** Service name to ask about; `""` (the default) means the server as a whole. */
  readonly service?: string;
  /** Deadline of the check in milliseconds (default 500). */
  readonly timeoutMs?: number;
  /** Aborts the check (the result is then "down"). */
  readonly signal?: AbortSignal;
}

/** Outcome of one health check. */
export interface ProbeResult {
  /** Whether the instance should receive traffic. */
  readonly up: boolean;
  /** The status the instance reported, if it answered Check. */
  readonly status?: HealthCheckResponse_ServingStatus;
  /** Why the check failed, if it did. */
  readonly error?: ConnectError;
}

/**
 * Calls `grpc.health.v1.Health/Check` on `transport`. The instance is up if it
 * answers SERVING, or if it answers UNIMPLEMENTED (it is reachable but has no
 * health service, like the original Go server). Any other status or error
 * (NOT_SERVING while draining, UNAVAILABLE, a deadline) means down.
 *
 * Never throws.
 *
 * @example
 * ```ts
 * const { up } = await probeHealth(transport, { timeoutMs: 300 });
 * ```
 */
export async function probeHealth(
  transport: Transport,
  options: ProbeOptions = {},
): Promise<ProbeResult> {
  const client = createClient(Health, transport);
  try {
    const res = await client.check({ service: options.service ?? "" }, {
      timeoutMs: options.timeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS,
      signal: options.signal,
    });
    return { up: res.status === HealthCheckResponse_ServingStatus.SERVING, status: res.status };
  } catch (e) {
    const error = ConnectError.from(e);
    return { up: error.code === Code.Unimplemented, error };
  }
}

/**
 * Runs `round` now and then `intervalMs` after each round ends, until
 * {@linkcode ProbeLoop.stop}. Rounds never overlap. The timer is looked up on
 * `globalThis` at each use (so fake timers apply) and is unref'd where the
 * runtime allows, so probing alone does not keep a process alive.
 *
 * @example
 * ```ts
 * const loop = new ProbeLoop(1000, async (signal) => { await probeAll(signal); });
 * loop.start();
 * // ...
 * await loop.stop();
 * ```
 */
export class ProbeLoop {
  #intervalMs: number;
  #round: (signal: AbortSignal) => Promise<void>;
  #abort = new AbortController();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #queue: Promise<void> = Promise.resolve();
  #started = false;

  /**
   * @param intervalMs pause between rounds; `0` or `Infinity` disables the
   *   periodic rounds (`runNow` still works).
   * @param round probes everything once; gets a signal aborted by `stop`.
   *   Its rejection is swallowed.
   */
  constructor(intervalMs: number, round: (signal: AbortSignal) => Promise<void>) {
    if (!(intervalMs >= 0)) {
      throw new RangeError(`Probe interval must be >= 0 ms, got ${intervalMs}`);
    }
    this.#intervalMs = intervalMs;
    this.#round = round;
  }

  /** Whether rounds are scheduled periodically. */
  get periodic(): boolean {
    return this.#intervalMs > 0 && Number.isFinite(this.#intervalMs);
  }

  /** Starts the periodic rounds with one right away (no-op if not periodic or stopped). */
  start(): void {
    if (this.#started || this.#abort.signal.aborted || !this.periodic) return;
    this.#started = true;
    this.#schedule(0);
  }

  /**
   * Runs a round as soon as the current one (if any) ends; resolves when it
   * has. Resolves at once after `stop`.
   */
  runNow(): Promise<void> {
    const run = this.#queue.then(() => this.#runRound());
    this.#queue = run;
    return run;
  }

  /** Stops scheduling, aborts the running round, and waits for it to end. */
  async stop(): Promise<void> {
    this.#abort.abort(new ConnectError("health probing stopped", Code.Canceled));
    if (this.#timer !== undefined) globalThis.clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#queue;
  }

  async #runRound(): Promise<void> {
    const signal = this.#abort.signal;
    if (signal.aborted) return;
    try {
      await this.#round(signal);
    } catch {
      // A round reports through its own callbacks; the loop must go on.
    }
  }

  #schedule(delayMs: number): void {
    if (this.#abort.signal.aborted) return;
    const timer = globalThis.setTimeout(() => {
      this.#timer = undefined;
      this.runNow().then(() => this.#schedule(this.#intervalMs));
    }, delayMs);
    this.#timer = timer;
    unref(timer);
  }
}

function unref(timer: ReturnType<typeof setTimeout>): void {
  try {
    if (typeof timer === "number") {
      (globalThis as { Deno?: { unrefTimer?(id: number): void } }).Deno?.unrefTimer?.(timer);
    } else {
      (timer as { unref?(): void }).unref?.();
    }
  } catch {
    // Fake timers (or another runtime) may not know the id: nothing to unref then.
  }
}
