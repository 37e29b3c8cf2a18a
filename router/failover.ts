/**
 * Whether a failed call of the routing transport is sent again, and where:
 * once, to the instance the routing rule picks next, within the caller's
 * deadline, and only after a failure of the instance itself, never after an
 * answer it sent (an UNAVAILABLE from a struggling database must not double
 * the reads). Idempotent calls are retried after any instance failure;
 * other calls only when the request certainly never reached the handler.
 * Retries of calls that may have run come out of the retry budget.
 *
 * Browser-safe.
 *
 * @module
 */

import type { DescMethod } from "@bufbuild/protobuf";
import { isInstanceFailure, saysRetryElsewhere, wasRefused } from "./breaker.ts";
import { isIdempotent } from "./keys.ts";
import type { Member } from "./membership.ts";
import { RetryBudget, type RetryBudgetOptions } from "./retry_budget.ts";

/** Options of {@linkcode Failover}. */
export interface FailoverOptions {
  /** Whether anything is retried (`retryUnavailable`). */
  readonly retry: boolean;
  /** Method names retried like those declared idempotent in their proto. */
  readonly idempotentMethods: Iterable<string>;
  readonly budget?: RetryBudgetOptions;
}

/** The first attempt of a routed call, as the retry decision needs it. */
export interface Attempt {
  /** Where it went. */
  readonly first: Member;
  /** Its routing key. */
  readonly key: bigint | undefined;
  readonly method: DescMethod;
  readonly signal: AbortSignal | undefined;
  /** The caller's deadline, relative to `started`. */
  readonly timeoutMs: number | undefined;
  /** `Date.now()` when the call began. */
  readonly started: number;
}

/** Where to send a call again, and the deadline it has left. */
export interface RetryTarget {
  readonly member: Member;
  readonly timeoutMs: number | undefined;
}

/** The retry policy and the retry budget of one routing transport. */
export class Failover {
  #retry: boolean;
  #idempotent: Set<string>;
  #budget: RetryBudget;

  /** @throws {RangeError} for bad budget options (see RetryBudget). */
  constructor(options: FailoverOptions) {
    this.#retry = options.retry;
    this.#idempotent = new Set(options.idempotentMethods);
    this.#budget = new RetryBudget(options.budget);
  }

  /** Retries granted and denied by the retry budget so far. */
  get retries(): { granted: number; denied: number } {
    const { granted, denied } = this.#budget.stats;
    return { granted, denied };
  }

  /** Counts a routed call (it earns the budget its share of a retry). */
  callStarted(): void {
    this.#budget.call();
  }

  /** Whether an error in a stream's body, before any message, may be retried. */
  retriesStreams(method: DescMethod): boolean {
    return this.#retry && isIdempotent(method, this.#idempotent);
  }

  /**
   * Where to retry `attempt` once after `error`, or undefined to surface the
   * error. `pick` is the routing rule now (it must not be called on an empty
   * list: the caller checks). Only failures of the instance are retried:
   * idempotent calls after any (refused or reset connection, refused stream,
   * "retry elsewhere"); other calls only when the request was certainly not
   * processed (a refused stream or connection, or "retry elsewhere").
   */
  target(
    error: unknown,
    attempt: Attempt,
    pick: (key: bigint | undefined) => Member,
  ): RetryTarget | undefined {
    if (!this.#retry || attempt.signal?.aborted) return undefined;
    if (!isInstanceFailure(error)) return undefined;
    const { method, timeoutMs } = attempt;
    if (!isIdempotent(method, this.#idempotent) && !notProcessed(error)) return undefined;
    let remaining = timeoutMs;
    if (timeoutMs !== undefined && timeoutMs > 0) {
      remaining = timeoutMs - (Date.now() - attempt.started);
      if (remaining <= 0) return undefined;
    }
    const member = pick(attempt.key);
    // Same instance (nothing else is up): surface its error instead.
    if (member === attempt.first) return undefined;
    // A call that never ran (refused, or "retry elsewhere") adds no work anywhere: no budget.
    if (!notProcessed(error) && !this.#budget.tryRetry()) return undefined;
    return { member, timeoutMs: remaining };
  }
}

/**
 * Whether the request certainly never reached the instance's handler: a
 * refused stream or connection, or the instance saying "retry elsewhere".
 * Only then may a call with side effects be sent again.
 */
function notProcessed(error: unknown): boolean {
  if (wasRefused(error) || saysRetryElsewhere(error)) return true;
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (code === "ECONNREFUSED" || /connection refused/i.test(e.message)) return true;
    e = e.cause;
  }
  return false;
}
