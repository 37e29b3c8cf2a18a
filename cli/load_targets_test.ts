import assert from "node:assert/strict";
import { Code } from "@connectrpc/connect";
import { channelOf, codeName, pickInstance, pooled } from "./load_targets.ts";
import type { ClosableTransport } from "../router/membership.ts";

Deno.test("request i asks channel (i % channels) + 1", () => {
  assert.deepEqual([0, 1, 19, 20, 21].map((i) => channelOf(i, 20)), [1, 2, 20, 1, 2]);
});

Deno.test("round-robin spreads every channel over every instance, and the totals evenly", () => {
  for (const [channels, n] of [[20, 2], [1, 2], [3, 3], [10, 4], [7, 2]]) {
    const perChannel = new Map<number, Set<number>>();
    const perInstance = new Array(n).fill(0);
    const requests = channels * n * 5;
    for (let i = 0; i < requests; i++) {
      const k = pickInstance("round-robin", i, channels, n);
      perInstance[k]++;
      const c = channelOf(i, channels);
      perChannel.set(c, (perChannel.get(c) ?? new Set()).add(k));
    }
    for (const [c, set] of perChannel) {
      assert.equal(set.size, n, `channel ${c} of ${channels} over ${n} instances`);
    }
    assert.ok(perInstance.every((x) => x === requests / n), `${channels}/${n}: ${perInstance}`);
  }
});

Deno.test("single always picks the first instance; random stays in range", () => {
  assert.equal(pickInstance("single", 5, 20, 3), 0);
  assert.equal(pickInstance("random", 0, 20, 3, () => 0), 0);
  assert.equal(pickInstance("random", 0, 20, 3, () => 0.999999), 2);
  assert.equal(pickInstance("random", 0, 20, 3, () => 0.5), 1);
});

Deno.test("codeName spells Connect codes like gRPC does", () => {
  assert.equal(codeName(Code.DeadlineExceeded), "deadline_exceeded");
  assert.equal(codeName(Code.Unavailable), "unavailable");
  assert.equal(codeName(Code.ResourceExhausted), "resource_exhausted");
  assert.equal(codeName(99 as Code), "code_99");
});

Deno.test("pooled spreads calls over n connections in turn and closes them all", async () => {
  const used: number[] = [];
  const closed: number[] = [];
  let made = 0;
  const factory = pooled(() => {
    const k = made++;
    return {
      unary: () => {
        used.push(k);
        return Promise.reject(new Error("not needed"));
      },
      stream: () => Promise.reject(new Error("not needed")),
      close: () => void closed.push(k),
    } as ClosableTransport;
  }, 3);
  const t = factory({ id: "a:1", baseUrl: "http://a:1" });
  assert.equal(made, 3);
  for (let i = 0; i < 7; i++) {
    await (t.unary as (...a: unknown[]) => Promise<unknown>)().catch(() => {});
  }
  assert.deepEqual(used, [0, 1, 2, 0, 1, 2, 0]);
  await t.close?.();
  assert.deepEqual(closed, [0, 1, 2]);
});
