/**
 * Cancellation without an `AbortSignal` per call.
 *
 * - {@linkcode Cancellation}: the part of `AbortSignal` that cancellable
 *   waits (the coalescer, the limiter) use; `AbortSignal` satisfies it.
 * - {@linkcode CallSignal}: one call's cancellation: its deadline and the
 *   client hanging up. It costs nothing until someone listens; then the
 *   deadline joins the shared coarse timer (lib/coarse_timer.ts: one timer
 *   per 10 ms slot, not one per call) and the transport's hang-up hook is
 *   installed.
 *
 * connect-es builds an `AbortController` and a deadline signal per call and
 * aborts it at the end (a `DOMException` each time); on a hot key that was
 * ~12% of a call's CPU.
 *
 * @module
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { coarseTimer, type Expiring } from "./coarse_timer.ts";

/** The part of `AbortSignal` that cancellable waits use. */
export interface Cancellation {
  readonly aborted: boolean;
  readonly reason: unknown;
  addEventListener(type: "abort", listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: "abort", listener: () => void): void;
}

/** Installs a hang-up hook: calls `abort` when the client goes away before the answer. */
export type HangupWatch = (abort: (reason: unknown) => void) => void;

/**
 * One call's cancellation: aborted with DEADLINE_EXCEEDED once its deadline
 * passes, or with CANCELED when the transport reports a hang-up. Deadline
 * timers and hang-up hooks exist only while someone listens.
 */
export class CallSignal implements Cancellation, Expiring {
  /** `performance.now()` time of the deadline; Infinity when the caller set none. */
  readonly at: number;
  #reason: ConnectError | undefined;
  /** Aborted by a hang-up whose error is made on first read (the usual hang-up is a
   * stream closing after its answer, when nobody listens any more). */
  #hungUp = false;
  #listeners: Set<() => void> | undefined;
  /** Slot of the shared timer while armed. */
  #slot: number | undefined;
  #watch: HangupWatch | undefined;

  /**
   * @param timeoutMs the caller's timeout from now; undefined = none.
   * @param watch installs the transport's hang-up hook, on first listener.
   */
  constructor(timeoutMs: number | undefined, watch?: HangupWatch) {
    this.at = timeoutMs === undefined ? Infinity : performance.now() + timeoutMs;
    this.#watch = watch;
  }

  get aborted(): boolean {
    if (this.#reason !== undefined || this.#hungUp) return true;
    if (this.at === Infinity || performance.now() < this.at) return false;
    this.expire();
    return true;
  }

  get reason(): unknown {
    if (!this.aborted) return undefined;
    return this.#reason ??= new ConnectError("the client went away", Code.Canceled);
  }

  /** Milliseconds left (negative once passed; Infinity without a deadline). */
  remainingMs(): number {
    return this.at - performance.now();
  }

  addEventListener(_type: "abort", listener: () => void): void {
    // Like AbortSignal: no event after the abort.
    if (this.#reason !== undefined || this.#hungUp) return;
    (this.#listeners ??= new Set()).add(listener);
    if (this.#slot === undefined && this.at !== Infinity) {
      this.#slot = coarseTimer.schedule(this, this.at);
    }
    const watch = this.#watch;
    if (watch !== undefined) {
      this.#watch = undefined;
      watch((reason) => this.abort(reason));
    }
  }

  removeEventListener(_type: "abort", listener: () => void): void {
    const listeners = this.#listeners;
    if (listeners === undefined || !listeners.delete(listener) || listeners.size > 0) return;
    if (this.#slot !== undefined) coarseTimer.cancel(this, this.#slot);
    this.#slot = undefined;
  }

  /** Aborts now with `reason` (default: CANCELED, the client went away). */
  abort(reason?: unknown): void {
    if (this.#reason !== undefined || this.#hungUp) return;
    if (reason === undefined) this.#hungUp = true;
    else this.#reason = ConnectError.from(reason, Code.Canceled);
    if (this.#slot !== undefined) coarseTimer.cancel(this, this.#slot);
    this.#slot = undefined;
    const listeners = this.#listeners;
    this.#listeners = undefined;
    if (listeners) { for (const fn of listeners) fn(); }
  }

  /** The deadline passed (called by the shared timer). */
  expire(): void {
    this.#slot = undefined;
    this.abort(new ConnectError("the operation timed out", Code.DeadlineExceeded));
  }
}
