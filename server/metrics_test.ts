import assert from "node:assert/strict";
import { ResettableWindow, ServiceMetrics } from "./metrics.ts";

const rpc = (
  grpc_method: string,
  grpc_code: string,
  grpc_service = "dataservices.v1.MessagesService",
) => ({
  grpc_type: "unary",
  grpc_service,
  grpc_method,
  grpc_code,
});

Deno.test("totals sum counted RPCs; errors are counted RPCs with a code other than OK", async () => {
  const m = new ServiceMetrics(
    () => ({ flights: 2, waiters: 7 }),
    (service, method) => service === "dataservices.v1.MessagesService" && method !== "GetStats",
  );
  m.handled.inc(rpc("GetMessage", "OK"), 5);
  m.handled.inc(rpc("GetMessage", "NotFound"), 2);
  m.handled.inc(rpc("GetMessages", "Unavailable"));
  m.handled.inc(rpc("GetStats", "OK"), 9); // not a data request
  m.handled.inc(rpc("Check", "Unavailable", "grpc.health.v1.Health")); // not a data service
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
  assert.match(
    body,
    /grpc_server_handled_total\{grpc_type="unary",grpc_service="dataservices.v1.MessagesService",grpc_method="GetMessage",grpc_code="OK"\} 5/,
  );
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
