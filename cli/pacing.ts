/**
 * When the load tool sends each request, and from when its latency counts.
 *
 * Three modes:
 *
 * - **All at once** (neither `rps` nor `concurrency`): every request starts
 *   immediately, like the original Go client's goroutine per request. Their
 *   intended send time is the start of the run, so the time a request spends
 *   queued in the client counts in its latency.
 * - **Open loop** (`rps`): request i is due at `start + i * 1000 / rps`. The
 *   pacer sends every due request as soon as it runs, even when it is behind
 *   (a stalled event loop, slow responses): it never waits for responses
 *   before sending more. Latency is measured from the intended time, so a
 *   stall shows up in the latencies instead of being hidden (no coordinated
 *   omission). With `concurrency` too, due requests wait for a free slot and
 *   that wait counts in their latency.
 * - **Closed loop** (`concurrency` only): that many workers each send the next
 *   request when their previous one completes. Latency counts from the actual
 *   send; such a loop slows down with the server, so prefer `rps` for latency
 *   figures you can trust.
 *
 * Timers and time come from a {@linkcode Clock} (fake timers in tests).
 *
 * @module
 */

/** Time source and timers; `performance.now()` and the global timers by default. */
export interface Clock {
  /** Milliseconds on a monotonic scale. */
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
}

/** The real clock: `performance.now()` and the global timers (looked up at each call). */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (id) => globalThis.clearTimeout(id as number),
};

/** Options of {@linkcode runPaced}. */
export interface PacingOptions {
  /**
   * Requests to send. Undefined: until `durationMs` ends (then `durationMs`
   * is required). With `rps` and `durationMs` and no `total`, the run sends
   * `floor(rps * durationMs / 1000)` requests.
   */
  readonly total?: number;
  /** Open-loop rate, requests per second (> 0). */
  readonly rps?: number;
  /** Stop sending new requests this many ms after the start. */
  readonly durationMs?: number;
  /** Most requests in flight at once. */
  readonly concurrency?: number;
  /** Stops sending (requests in flight still complete and are reported). */
  readonly signal?: AbortSignal;
  readonly clock?: Clock;
}

/** One finished request. */
export interface Completion {
  /** 0-based position in the run. */
  readonly index: number;
  /** When it should have been sent (ms on the clock's scale). */
  readonly intendedMs: number;
  /** When it was actually sent. */
  readonly sentMs: number;
  /** When it completed. */
  readonly endMs: number;
  /** `endMs - intendedMs`. */
  readonly latencyMs: number;
  /** Whether `send` rejected, and with what. */
  readonly ok: boolean;
  readonly error?: unknown;
}

/** Outcome of {@linkcode runPaced}. */
export interface PacingResult {
  /** Requests sent. */
  readonly sent: number;
  /** Clock time of the start and of the last completion (or the start if none). */
  readonly startMs: number;
  readonly endMs: number;
  /** The signal stopped the run before everything planned was sent. */
  readonly interrupted: boolean;
}

/** Which mode {@linkcode runPaced} uses for these options. */
export function pacingMode(o: PacingOptions): "all-at-once" | "open-loop" | "closed-loop" {
  return o.rps !== undefined
    ? "open-loop"
    : o.concurrency !== undefined
    ? "closed-loop"
    : "all-at-once";
}

/**
 * The number of requests a run plans, or `Infinity` (closed loop until the
 * duration ends).
 *
 * @throws {RangeError} if the options cannot end (no total and no duration), or
 *   all at once is combined with a duration.
 */
export function plannedRequests(o: PacingOptions): number {
  if (o.total !== undefined) return o.total;
  if (o.durationMs === undefined) throw new RangeError("Give a request count or a duration");
  const mode = pacingMode(o);
  if (mode === "open-loop") return Math.floor((o.rps! * o.durationMs) / 1000);
  if (mode === "closed-loop") return Infinity;
  throw new RangeError("A duration needs a rate (rps) or a concurrency");
}

/**
 * Sends requests by calling `send(index)` on the schedule the options
 * describe, calls `onComplete` as each one settles, and resolves when every
 * sent request has settled. `send` may reject: that is a failed request.
 *
 * @example
 * ```ts
 * await runPaced({ total: 100, rps: 50 }, (i) => call(i), (c) => record(c.latencyMs, c.ok));
 * ```
 */
export async function runPaced(
  options: PacingOptions,
  send: (index: number) => Promise<unknown>,
  onComplete: (completion: Completion) => void,
): Promise<PacingResult> {
  const clock = options.clock ?? systemClock;
  const limit = plannedRequests(options);
  const mode = pacingMode(options);
  const start = clock.now();
  const deadline = options.durationMs === undefined ? Infinity : start + options.durationMs;
  const signal = options.signal;
  let sent = 0;
  let last = start;
  let inflight = 0;
  const idle = Promise.withResolvers<void>();
  let scheduling = true;
  // Due requests waiting for a free slot (open loop with a concurrency cap).
  const waiting: { index: number; intended: number }[] = [];
  let head = 0;
  const maybeIdle = () => {
    if (!scheduling && inflight === 0 && (head === waiting.length || signal?.aborted)) {
      idle.resolve();
    }
  };

  /** Sends request `index` now; `intended` is when it was due. */
  const fire = (index: number, intended: number, onSettled?: () => void) => {
    const sentMs = clock.now();
    sent++;
    inflight++;
    const settle = (ok: boolean, error?: unknown) => {
      const endMs = clock.now();
      if (endMs > last) last = endMs;
      inflight--;
      try {
        onComplete({
          index,
          intendedMs: intended,
          sentMs,
          endMs,
          latencyMs: endMs - intended,
          ok,
          error,
        });
      } finally {
        onSettled?.();
        maybeIdle();
      }
    };
    let p: Promise<unknown>;
    try {
      p = send(index);
    } catch (e) {
      p = Promise.reject(e);
    }
    p.then(() => settle(true), (e) => settle(false, e));
  };

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const id = clock.setTimeout(done, Math.max(0, ms));
      function done() {
        signal?.removeEventListener("abort", done);
        clock.clearTimeout(id);
        resolve();
      }
      signal?.addEventListener("abort", done, { once: true });
    });

  if (mode === "all-at-once") {
    for (let i = 0; i < limit && !signal?.aborted; i++) fire(i, start);
  } else if (mode === "open-loop") {
    const interval = 1000 / options.rps!;
    const cap = options.concurrency ?? Infinity;
    // A completion frees a slot: the oldest waiting request takes it.
    const release = () => {
      if (head < waiting.length && inflight < cap && !signal?.aborted) {
        const next = waiting[head++];
        fire(next.index, next.intended, release);
      }
    };
    let i = 0;
    while (i < limit && !signal?.aborted) {
      const now = clock.now();
      // Everything due by now goes out now, however far behind we are.
      while (i < limit) {
        const intended = start + i * interval;
        if (intended > now || intended >= deadline) break;
        if (inflight < cap && head === waiting.length) fire(i, intended, release);
        else waiting.push({ index: i, intended });
        i++;
      }
      if (i >= limit || start + i * interval >= deadline) break;
      await sleep(start + i * interval - clock.now());
    }
  } else {
    let next = 0;
    const worker = async () => {
      while (next < limit && !signal?.aborted && clock.now() < deadline) {
        const index = next++;
        const done = Promise.withResolvers<void>();
        const t = clock.now();
        fire(index, t, done.resolve);
        await done.promise;
      }
    };
    const workers = Math.min(options.concurrency!, limit);
    await Promise.all(Array.from({ length: workers }, worker));
  }
  scheduling = false;
  maybeIdle();
  await idle.promise;
  return {
    sent,
    startMs: start,
    endMs: Math.max(last, start),
    interrupted: signal?.aborted === true && sent < limit,
  };
}
