/**
 * A retry budget: retries are at most a fixed share of calls (default 10%),
 * so that when many calls fail at once the router does not double the load on
 * what is already struggling. A token bucket like gRPC's retry throttling:
 * every call adds `ratio` of a token (up to `maxTokens`), every retry spends
 * one; without a whole token, no retry. The burst (`maxTokens`, 100) covers
 * the calls in flight on an instance that dies; the ratio bounds what a
 * lasting failure can add.
 *
 * @module
 */

/** Options of {@linkcode RetryBudget}. */
export interface RetryBudgetOptions {
  /** Retries per call allowed in the long run (default 0.1). */
  readonly ratio?: number;
  /** Most tokens saved up, i.e. the largest burst of retries (default 100). */
  readonly maxTokens?: number;
}

/** Counts calls and grants retries within the budget. */
export class RetryBudget {
  readonly ratio: number;
  readonly maxTokens: number;
  /** Tokens in thousandths, so that ten calls at 0.1 make exactly one token. */
  #milli: number;
  #perCall: number;
  #granted = 0;
  #denied = 0;

  constructor(options: RetryBudgetOptions = {}) {
    this.ratio = options.ratio ?? 0.1;
    this.maxTokens = options.maxTokens ?? 100;
    if (!(this.ratio >= 0) || !(this.maxTokens >= 1)) {
      throw new RangeError("ratio must be >= 0 and maxTokens >= 1");
    }
    this.#perCall = Math.round(this.ratio * 1000);
    this.#milli = this.maxTokens * 1000; // a fresh router may retry a few at once
  }

  /** A call was made (earns `ratio` of a token). */
  call(): void {
    this.#milli = Math.min(this.maxTokens * 1000, this.#milli + this.#perCall);
  }

  /** Asks for a retry: true (one token spent) or false (over budget). */
  tryRetry(): boolean {
    if (this.#milli >= 1000) {
      this.#milli -= 1000;
      this.#granted++;
      return true;
    }
    this.#denied++;
    return false;
  }

  /** Retries granted and denied so far. */
  get stats(): { granted: number; denied: number; tokens: number } {
    return { granted: this.#granted, denied: this.#denied, tokens: this.#milli / 1000 };
  }
}
