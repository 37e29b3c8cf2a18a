/**
 * A per-instance circuit breaker for the router, and what counts as a
 * failure of the instance itself.
 *
 * States: **closed** (keyed traffic goes to the instance), **open** (it goes
 * to the fallback; nothing is sent there), **half-open** (the cooldown has
 * passed: the next health probe is the trial; until it answers, traffic
 * still goes to the fallback). A trial that succeeds closes the breaker; one
 * that fails opens it again with a doubled cooldown (up to `maxCooldownMs`).
 *
 * Only failures of the instance open it: a connection refused or reset, a
 * refused HTTP/2 stream, a failed probe. An UNAVAILABLE that the instance
 * itself sent (Cassandra timed out, the driver is busy) says nothing about
 * the instance, and moving its channels elsewhere would split their
 * coalescing while the database struggles. A probe that times out counts
 * only after `probeTimeoutsToOpen` in a row (a busy instance answers late).
 *
 * @module
 */
import { ConnectError } from "@connectrpc/connect";
import { RETRY_ELSEWHERE_HEADER } from "../lib/defaults.ts";
import { isTransportFailure } from "./discovery.ts";

/** The three states. */
export type BreakerState = "closed" | "open" | "half-open";

/** Options of {@linkcode CircuitBreaker}. */
export interface BreakerOptions {
  /** Time open before the next probe may close it (default 1000 ms); doubles per failed trial. */
  readonly cooldownMs?: number;
  /** Longest cooldown (default 10 s). */
  readonly maxCooldownMs?: number;
  /** Consecutive probe timeouts (not refusals) that open it (default 3). */
  readonly probeTimeoutsToOpen?: number;
  /** Clock (tests). */
  readonly now?: () => number;
}

/** One instance's breaker. */
export class CircuitBreaker {
  #state: BreakerState = "closed";
  #openedAt = 0;
  #baseCooldown: number;
  #cooldown: number;
  #maxCooldown: number;
  #timeoutsToOpen: number;
  #timeouts = 0;
  #now: () => number;

  constructor(options: BreakerOptions = {}) {
    this.#baseCooldown = options.cooldownMs ?? 1000;
    this.#cooldown = this.#baseCooldown;
    this.#maxCooldown = options.maxCooldownMs ?? 10_000;
    this.#timeoutsToOpen = options.probeTimeoutsToOpen ?? 3;
    this.#now = options.now ?? (() => performance.now());
  }

  /** The state now (open becomes half-open once its cooldown has passed). */
  get state(): BreakerState {
    if (this.#state === "open" && this.#now() - this.#openedAt >= this.#cooldown) {
      this.#state = "half-open";
    }
    return this.#state;
  }

  /** Whether keyed traffic may go to the instance. */
  get closed(): boolean {
    return this.state === "closed";
  }

  /** Whether a probe may decide now (closed: always; open: not before the cooldown). */
  get probeMayDecide(): boolean {
    return this.state !== "open";
  }

  /**
   * A call failed with `error`. Returns true when this opened the breaker.
   * Only failures of the instance itself count (see the module doc).
   */
  callFailed(error: unknown): boolean {
    if (!isInstanceFailure(error)) return false;
    return this.#open();
  }

  /** A probe answered: up (SERVING) or down (NOT_SERVING). Returns whether the state changed. */
  probeAnswered(up: boolean): boolean {
    this.#timeouts = 0;
    if (up) return this.#close();
    return this.#open();
  }

  /**
   * A probe failed without an answer: refused/reset opens at once; a timeout
   * after `probeTimeoutsToOpen` in a row. Returns whether the state changed.
   */
  probeFailed(error: unknown): boolean {
    if (isInstanceFailure(error)) return this.#open();
    if (++this.#timeouts >= this.#timeoutsToOpen) return this.#open();
    return false;
  }

  /**
   * Forces a state (markUp/markDown). A forced open has no cooldown: the next
   * probe decides.
   */
  force(up: boolean): boolean {
    this.#timeouts = 0;
    return up ? this.#close() : this.#open(0);
  }

  #open(cooldown?: number): boolean {
    const was = this.state;
    if (was === "open") return false;
    // A failed trial doubles the cooldown; a fresh failure starts from the base.
    this.#cooldown = cooldown ??
      (was === "half-open" ? Math.min(this.#maxCooldown, this.#cooldown * 2) : this.#baseCooldown);
    this.#state = "open";
    this.#openedAt = this.#now();
    return true;
  }

  #close(): boolean {
    const was = this.state;
    this.#state = "closed";
    this.#cooldown = this.#baseCooldown;
    return was !== "closed";
  }
}

/**
 * Whether `error` is a failure of the instance (as opposed to an answer it
 * sent): the connection was refused or reset, the HTTP/2 stream was refused,
 * or the instance said it is going away.
 */
export function isInstanceFailure(error: unknown): boolean {
  return isTransportFailure(error) || wasRefused(error) || saysRetryElsewhere(error);
}

/**
 * Whether the server refused the call's HTTP/2 stream (RST_STREAM
 * REFUSED_STREAM, e.g. after its GOAWAY on shutdown): the request was not
 * processed, so it may be sent elsewhere, writes included (RFC 9113 §8.7).
 * Detected by the HTTP/2 error code (`NGHTTP2_REFUSED_STREAM`, 7) that
 * node:http2 and Deno's fetch put on the error or a cause.
 */
export function wasRefused(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; depth++) {
    const x = e as { code?: unknown; errno?: unknown; rstCode?: unknown };
    if (x.rstCode === 7) return true;
    if (x.code === "ERR_HTTP2_STREAM_ERROR" && /REFUSED_STREAM/.test(e.message)) return true;
    if (/\bREFUSED_STREAM\b|refused stream/i.test(e.message)) return true;
    e = e.cause;
  }
  return false;
}

/** Whether an error carries {@linkcode RETRY_ELSEWHERE_HEADER}: "elsewhere". */
export function saysRetryElsewhere(error: unknown): boolean {
  return error instanceof ConnectError &&
    error.metadata.get(RETRY_ELSEWHERE_HEADER) === "elsewhere";
}
