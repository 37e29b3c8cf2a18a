import assert from "node:assert/strict";
import { ResettableWindow, ServiceMetrics } from "./metrics.ts";

Deno.test("totals sum counters; errors are requests with a non-ok code", async () => {
  const m = new ServiceMetrics(() => ({ flights: 2, waiters: 7 }));
  m.requests.inc({ method: "GetMessage", code: "ok" }, 5);
  m.requests.inc({ method: "GetMessage", code: "not_found" }, 2);
  m.requests.inc({ method: "GetMessages", code: "unavailable" });
  m.queries.inc({ op: "get_message" }, 3);
  m.coalesced.inc(4);
  m.rejected.inc({ cap: "waiters" });
  assert.deepEqual(await m.totals(), {
    requests: 8,
    queries: 3,
    coalesced: 4,
    errors: 3,
    rejected: 1,
  });
  const { body } = await m.exposition();
  assert.match(body, /dataservices_requests_total\{method="GetMessage",code="ok"\} 5/);
  assert.match(body, /dataservices_flights_in_progress 2/);
  assert.match(body, /dataservices_waiters_in_progress 7/);
});

Deno.test("two registries do not share counters", async () => {
  const a = new ServiceMetrics(() => ({ flights: 0, waiters: 0 }));
  const b = new ServiceMetrics(() => ({ flights: 0, waiters: 0 }));
  a.queries.inc({ op: "x" });
  assert.equal((await b.totals()).queries, 0);
});

Deno.test("the reset window loses no increment and never resets totals", () => {
  const w = new ResettableWindow();
  const t = { requests: 10, queries: 2, coalesced: 0, errors: 0, rejected: 0 };
  assert.deepEqual(w.take(t), { requests: 10, queries: 2 });
  assert.deepEqual(w.take({ ...t, requests: 15, queries: 3 }), { requests: 5, queries: 1 });
  assert.deepEqual(w.take({ ...t, requests: 15, queries: 3 }), { requests: 0, queries: 0 });
});
