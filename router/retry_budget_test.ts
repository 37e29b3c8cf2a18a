import assert from "node:assert/strict";
import { RetryBudget } from "./retry_budget.ts";

/** Spends every retry available now; returns how many were granted. */
function drain(b: RetryBudget): number {
  let n = 0;
  while (b.tryRetry()) n++;
  return n;
}

Deno.test("RetryBudget: defaults: ratio 0.1; a fresh budget holds its whole burst", () => {
  const b = new RetryBudget();
  assert.equal(b.ratio, 0.1);
  assert.ok(b.maxTokens >= 10, `a burst of ${b.maxTokens}`);
  assert.equal(drain(b), b.maxTokens, "a fresh router may retry a few at once");
  assert.deepEqual(b.stats, { granted: b.maxTokens, denied: 1, tokens: 0 });
});

Deno.test("RetryBudget: retries are at most ratio of calls in the long run", () => {
  const b = new RetryBudget({ ratio: 0.25, maxTokens: 2 });
  drain(b);
  let granted = 0;
  for (let call = 0; call < 1000; call++) {
    b.call();
    if (b.tryRetry()) granted++;
  }
  assert.equal(granted, 250);
});

Deno.test("RetryBudget: no whole token, no retry", () => {
  const b = new RetryBudget({ ratio: 0.5, maxTokens: 1 });
  assert.equal(b.tryRetry(), true);
  b.call();
  assert.equal(b.tryRetry(), false, "half a token");
  b.call();
  assert.equal(b.tryRetry(), true);
  assert.deepEqual(b.stats, { granted: 2, denied: 1, tokens: 0 });
});

Deno.test("RetryBudget: savings are capped at maxTokens", () => {
  const b = new RetryBudget({ ratio: 1, maxTokens: 3 });
  drain(b);
  for (let i = 0; i < 100; i++) b.call();
  assert.equal(b.stats.tokens, 3);
  assert.equal(drain(b), 3);
});

Deno.test("RetryBudget: ratio 0 allows only the initial burst", () => {
  const b = new RetryBudget({ ratio: 0, maxTokens: 2 });
  for (let i = 0; i < 100; i++) b.call();
  assert.equal(drain(b), 2);
  for (let i = 0; i < 100; i++) b.call();
  assert.equal(drain(b), 0);
});

Deno.test("RetryBudget: a negative ratio or fewer than one token is refused", () => {
  for (const o of [{ ratio: -0.1 }, { ratio: NaN }, { maxTokens: 0.5 }, { maxTokens: NaN }]) {
    assert.throws(() => new RetryBudget(o), RangeError, JSON.stringify(o));
  }
});
