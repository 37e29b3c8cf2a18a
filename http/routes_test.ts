import assert from "node:assert/strict";
import { Code } from "@connectrpc/connect";
import { fetchRoutes, plainRoutes } from "./routes.ts";

const routes = (ready: boolean) =>
  plainRoutes({
    health: () => ({ fastPort: 1234 }),
    ready: () => ({
      ok: ready,
      reason: ready ? "" : "no live instance",
      detail: { instances: [{ id: "a:1", up: ready }] },
    }),
    metrics: () => Promise.resolve({ contentType: "text/plain", body: "m 1\n" }),
    get: {
      "/": () => ({ status: 200, contentType: "text/html", body: "<html>" }),
      "/late": () => Promise.resolve({ status: 200, contentType: "text/plain", body: "late" }),
    },
  });

Deno.test("plain routes: the three, extra GET routes, readiness detail, unknown paths", async () => {
  const r = routes(true);
  assert.deepEqual(JSON.parse((await r("GET", "/healthz", "")).body), {
    status: "ok",
    fastPort: 1234,
  });
  assert.deepEqual(JSON.parse((await r("GET", "/readyz", "")).body), {
    status: "ready",
    instances: [{ id: "a:1", up: true }],
  });
  const down = await routes(false)("GET", "/readyz", "");
  assert.equal(down.status, 503);
  assert.deepEqual(JSON.parse(down.body), {
    status: "not ready",
    reason: "no live instance",
    instances: [{ id: "a:1", up: false }],
  });
  assert.equal((await r("GET", "/metrics", "")).body, "m 1\n");
  assert.equal((await r("GET", "/", "")).body, "<html>");
  assert.equal((await r("HEAD", "/late", "")).body, "late");
  assert.equal((await r("GET", "/style.css", "")).status, 404);
  assert.equal((await r("POST", "/", "application/json")).status, 404, "extra routes are GET only");
  assert.equal((await r("DELETE", "/", "")).status, 405);
  const grpc = await r("POST", "/x.Y/Z", "application/grpc+proto");
  assert.equal(grpc.headers?.["grpc-status"], String(Code.Unimplemented));
});

Deno.test("plain routes as a fetch handler: HEAD has no body", async () => {
  const handler = fetchRoutes(routes(true));
  const head = await handler(new Request("http://x/", { method: "HEAD" }));
  assert.equal(head.status, 200);
  assert.equal(await head.text(), "");
  const get = await handler(new Request("http://x/"));
  assert.equal(await get.text(), "<html>");
  assert.equal(get.headers.get("cache-control"), "no-store");
});
