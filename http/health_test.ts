import assert from "node:assert/strict";
import { createClient, createRouterTransport } from "@connectrpc/connect";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  Health,
  HealthCheckResponse_ServingStatus as Status,
} from "../gen/grpc/health/v1/health_pb.ts";
import { healthService, probeStore, Readiness } from "./health.ts";

function client(readiness: Readiness) {
  const transport = createRouterTransport(({ service }) => {
    service(Health, healthService(readiness, ["dataservices.v1.MessagesService"]));
  });
  return createClient(Health, transport);
}

Deno.test("ready only when the store is up and not draining", async () => {
  const r = new Readiness();
  const c = client(r);
  assert.equal((await c.check({})).status, Status.NOT_SERVING);
  r.setStore(true);
  assert.equal((await c.check({})).status, Status.SERVING);
  assert.equal(
    (await c.check({ service: "dataservices.v1.MessagesService" })).status,
    Status.SERVING,
  );
  r.setStore(false, "NoHostAvailableError");
  assert.equal(r.reason, "NoHostAvailableError");
  assert.equal((await c.check({})).status, Status.NOT_SERVING);
  r.setStore(true);
  r.drain();
  assert.equal(r.reason, "draining");
  assert.equal((await c.check({})).status, Status.NOT_SERVING);
});

Deno.test("unknown service is NOT_FOUND for Check and SERVICE_UNKNOWN for Watch", async () => {
  const c = client(new Readiness());
  await assert.rejects(
    c.check({ service: "nope.Service" }),
    (e) => e instanceof ConnectError && e.code === Code.NotFound,
  );
  const seen = [];
  for await (const res of c.watch({ service: "nope.Service" })) seen.push(res.status);
  assert.deepEqual(seen, [Status.SERVICE_UNKNOWN]);
});

Deno.test("Watch streams the current status, then each change", async () => {
  const r = new Readiness();
  const c = client(r);
  const ac = new AbortController();
  const seen: Status[] = [];
  const it = c.watch({}, { signal: ac.signal })[Symbol.asyncIterator]();
  seen.push((await it.next()).value.status);
  r.setStore(true);
  seen.push((await it.next()).value.status);
  r.drain();
  seen.push((await it.next()).value.status);
  ac.abort();
  await it.return?.().catch(() => {});
  assert.deepEqual(seen, [Status.NOT_SERVING, Status.SERVING, Status.NOT_SERVING]);
});

Deno.test("probeStore records ping outcomes and stops", async () => {
  const r = new Readiness();
  const pinged = Promise.withResolvers<void>();
  let calls = 0;
  const stop = probeStore(r, () => {
    calls++;
    pinged.resolve();
    return Promise.resolve();
  }, 60_000);
  await pinged.promise;
  await Promise.resolve();
  stop();
  assert.equal(calls, 1);
  assert.equal(r.ready, true);
});

Deno.test("every condition must hold: the first one down gives the reason", () => {
  const r = new Readiness(["store", "lease"]);
  assert.equal(r.reason, "store not probed yet");
  r.setStore(true);
  assert.equal(r.ready, false);
  assert.equal(r.reason, "lease not probed yet");
  const seen: string[] = [];
  r.onChange(() => seen.push(r.reason));
  r.set("lease", true);
  assert.equal(r.ready, true);
  r.set("lease", false, "worker id 7 lost to another holder");
  r.set("lease", false, "worker id 7 lost to another holder"); // no change, no event
  assert.deepEqual(seen, ["", "worker id 7 lost to another holder"]);
  assert.throws(() => r.set("nope", true), RangeError);
});

Deno.test("probeStore gives each ping its timeout and never overlaps probes", async () => {
  const r = new Readiness();
  const timeouts: (number | undefined)[] = [];
  let running = 0;
  let overlapped = false;
  const ready = Promise.withResolvers<void>();
  r.onChange(() => r.ready && ready.resolve());
  const stop = probeStore(r, async (timeoutMs) => {
    timeouts.push(timeoutMs);
    overlapped ||= running > 0;
    running++;
    await Promise.resolve();
    running--;
    if (timeouts.length === 1) throw new Error("no answer within 750 ms");
  }, { intervalMs: 0, timeoutMs: 750 });
  await ready.promise;
  stop();
  assert.deepEqual(timeouts, [750, 750]);
  assert.equal(overlapped, false);
});
