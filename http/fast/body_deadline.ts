/**
 * How long a unary request's body may take to arrive after its head. A
 * client that sends a head and then nothing (or a trickle) would otherwise
 * hold its stream or connection, and a slot of whatever admits requests,
 * for as long as it likes. Past the bound the call gets DEADLINE_EXCEEDED;
 * over HTTP/1.1 the connection then closes (the rest of the body may never
 * come), over HTTP/2 the stream is reset after the answer.
 *
 * The deadlines share the process's coarse timer (lib/coarse_timer.ts): no
 * timer per request.
 *
 * @module
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { coarseTimer, type Expiring, type TimerHandle } from "../../lib/coarse_timer.ts";

/** The default bound on a unary request body's arrival (ms). */
export const DEFAULT_BODY_TIMEOUT_MS = 10_000;

/** A body deadline: `onExpire` runs once when it passes, unless cancelled first. */
export class BodyDeadline implements Expiring {
  #handle: TimerHandle | undefined;
  #onExpire: () => void;

  /** @param timeoutMs 0 = no deadline. */
  constructor(timeoutMs: number, onExpire: () => void) {
    this.#onExpire = onExpire;
    if (timeoutMs > 0) this.#handle = coarseTimer.schedule(this, performance.now() + timeoutMs);
  }

  /** Called by the timer. */
  expire(): void {
    if (this.#handle === undefined) return;
    this.#handle = undefined;
    this.#onExpire();
  }

  /** The body arrived (or the request went away). */
  cancel(): void {
    if (this.#handle === undefined) return;
    coarseTimer.cancel(this, this.#handle);
    this.#handle = undefined;
  }
}

/** The error a call gets when its body did not arrive in time. */
export function bodyTimeoutError(timeoutMs: number): ConnectError {
  return new ConnectError(
    `request body not received within ${timeoutMs} ms of its headers`,
    Code.DeadlineExceeded,
  );
}
