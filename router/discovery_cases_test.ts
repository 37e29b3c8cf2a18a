import assert from "node:assert/strict";
import { Code, ConnectError } from "@connectrpc/connect";
import { MessagesService } from "../gen/dataservices/v1/messages_pb.ts";
import { Health } from "../gen/grpc/health/v1/health_pb.ts";
import { withTimeout } from "../lib/wait.ts";
import { discoverFastUrl, isTransportFailure, withFastListener } from "./discovery.ts";
import { TransportFailure } from "./lean_transport.ts";
import type { ClosableTransport, Instance } from "./membership.ts";

const INSTANCE: Instance = { id: "10.0.0.7:50051", baseUrl: "http://10.0.0.7:50051" };

/** A fetch for /healthz answering `body` (JSON) or `status`; records the URLs asked. */
function healthz(answer: () => Response | Promise<Response>) {
  const asked: { url: string; signal: AbortSignal | undefined }[] = [];
  const fetch: typeof globalThis.fetch = async (input, init) => {
    asked.push({ url: String(input), signal: init?.signal ?? undefined });
    return await answer();
  };
  return { fetch, asked };
}

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

// --- discoverFastUrl --------------------------------------------------------------------------

Deno.test("discoverFastUrl: the announced port on the same scheme and host", async () => {
  const h = healthz(() => json({ status: "ok", fastPort: 51051 }));
  assert.equal(
    await discoverFastUrl("http://10.0.0.7:50051", { fetch: h.fetch }),
    "http://10.0.0.7:51051",
  );
  assert.equal(
    await discoverFastUrl("https://ds.example.com/api", { fetch: h.fetch }),
    "https://ds.example.com:51051",
  );
  assert.deepEqual(h.asked.map((a) => a.url), [
    "http://10.0.0.7:50051/healthz",
    "https://ds.example.com/healthz",
  ]);
  assert.ok(h.asked[0].signal !== undefined, "the ask has a deadline");
});

Deno.test("discoverFastUrl: no usable port is undefined", async () => {
  const answers: [string, () => Response | Promise<Response>][] = [
    ["no fastPort", () => json({ status: "ok" })],
    ["fastPort off", () => json({ status: "ok", fastPort: null })],
    ["a string", () => json({ fastPort: "51051" })],
    ["zero", () => json({ fastPort: 0 })],
    ["negative", () => json({ fastPort: -1 })],
    ["too big", () => json({ fastPort: 65536 })],
    ["fractional", () => json({ fastPort: 5105.5 })],
    ["not JSON", () => new Response("ok")],
    ["JSON null", () => new Response("null")],
    ["503", () => json({ fastPort: 51051 }, 503)],
    ["404", () => new Response("not found", { status: 404 })],
    ["refused", () => Promise.reject(new TypeError("connection refused"))],
  ];
  for (const [what, answer] of answers) {
    const h = healthz(answer);
    assert.equal(await discoverFastUrl(INSTANCE.baseUrl, { fetch: h.fetch }), undefined, what);
    assert.equal(h.asked.length, 1, what);
  }
});

Deno.test("discoverFastUrl: an instance that does not answer in time is undefined", async () => {
  const h = healthz(() =>
    new Promise<Response>((_, reject) => {
      const signal = h.asked[0].signal!;
      signal.addEventListener("abort", () => reject(signal.reason), { once: true });
    })
  );
  const got = await withTimeout(
    discoverFastUrl(INSTANCE.baseUrl, { fetch: h.fetch, timeoutMs: 5 }),
    1_000, // well before the default of 2 s
    "discovery to give up after its 5 ms",
  );
  assert.equal(got, undefined);
  assert.equal(h.asked[0].signal?.aborted, true);
});

// --- isTransportFailure -----------------------------------------------------------------------

function withCode(code: unknown): Error {
  return Object.assign(new Error(`x ${code}`), { code });
}

Deno.test("isTransportFailure: a TransportFailure anywhere in a short cause chain", () => {
  const tf = new TransportFailure("refused");
  assert.equal(isTransportFailure(tf), true);
  const wrapped = new ConnectError("refused", Code.Unavailable, undefined, undefined, tf);
  assert.equal(isTransportFailure(wrapped), true);
  let deep: Error = tf;
  for (let i = 0; i < 4; i++) deep = new Error(`wrap ${i}`, { cause: deep });
  assert.equal(isTransportFailure(deep), true, "4 wrappers deep");
  for (let i = 0; i < 10; i++) deep = new Error(`wrap ${i}`, { cause: deep });
  assert.equal(isTransportFailure(deep), false, "the chain is followed only so far");
});

Deno.test("isTransportFailure: node's connection error codes, on the error or a cause", () => {
  for (
    const code of [
      "ECONNREFUSED",
      "ECONNRESET",
      "EPIPE",
      "EHOSTUNREACH",
      "ENETUNREACH",
      "ENOTFOUND",
      "EAI_AGAIN",
    ]
  ) {
    assert.equal(isTransportFailure(withCode(code)), true, code);
    assert.equal(
      isTransportFailure(
        new ConnectError("x", Code.Unavailable, undefined, undefined, withCode(code)),
      ),
      true,
      `${code} as a cause`,
    );
  }
});

Deno.test("isTransportFailure: answers and other errors are not", () => {
  const cases: [string, unknown][] = [
    ["UNAVAILABLE sent by the server", new ConnectError("cassandra timed out", Code.Unavailable)],
    ["a deadline", new ConnectError("timed out", Code.DeadlineExceeded)],
    ["ETIMEDOUT", withCode("ETIMEDOUT")],
    ["a code that only contains one", withCode("XECONNREFUSED")],
    ["a numeric code", withCode(111)],
    ["a plain object", { code: "ECONNREFUSED" }],
    ["a string", "ECONNREFUSED"],
    ["undefined", undefined],
  ];
  for (const [what, e] of cases) assert.equal(isTransportFailure(e), false, what);
});

// --- withFastListener -------------------------------------------------------------------------

/** A transport factory whose transports answer as `behave` says, counting closes. */
function factory() {
  const made: { instance: Instance; closed: number }[] = [];
  let behave: (baseUrl: string) => Promise<unknown> = () => Promise.resolve("ok");
  const create = (instance: Instance): ClosableTransport => {
    const entry = { instance, closed: 0 };
    made.push(entry);
    return {
      unary: () => behave(instance.baseUrl) as never,
      stream: () => behave(instance.baseUrl) as never,
      close: () => {
        entry.closed++;
      },
    };
  };
  return { create, made, set: (b: typeof behave) => behave = b };
}

const unary = (t: ClosableTransport) =>
  t.unary(MessagesService.method.getMessages, undefined, undefined, undefined, {});
const stream = (t: ClosableTransport) =>
  t.stream(Health.method.watch, undefined, undefined, undefined, (async function* () {})());

const refused = () =>
  Promise.reject(
    new ConnectError(
      "connection refused",
      Code.Unavailable,
      undefined,
      undefined,
      new TransportFailure("connection refused"),
    ),
  );

Deno.test("withFastListener: the first call waits for discovery; later calls reuse it", async () => {
  const gate = Promise.withResolvers<Response>();
  const h = healthz(() => gate.promise);
  const f = factory();
  const t = withFastListener(f.create, { fetch: h.fetch })(INSTANCE);
  const first = unary(t);
  const second = unary(t);
  await Promise.resolve();
  assert.equal(f.made.length, 0, "no transport before the answer");
  gate.resolve(json({ fastPort: 51051 }));
  assert.deepEqual(await Promise.all([first, second]), ["ok", "ok"]);
  assert.equal(await unary(t), "ok");
  assert.equal(await stream(t), "ok");
  assert.equal(h.asked.length, 1, "asked once");
  assert.deepEqual(f.made.map((m) => m.instance), [{
    ...INSTANCE,
    baseUrl: "http://10.0.0.7:51051",
  }]);
});

Deno.test("withFastListener: without a fast listener the main port is used, for good", async () => {
  const h = healthz(() => json({ status: "ok" }));
  const f = factory();
  const t = withFastListener(f.create, { fetch: h.fetch })(INSTANCE);
  f.set(refused);
  await assert.rejects(unary(t));
  await assert.rejects(unary(t));
  assert.deepEqual(f.made.map((m) => m.instance), [INSTANCE]);
  assert.equal(h.asked.length, 1, "a failure on the main port does not ask again");
  assert.equal(f.made[0].closed, 0);
});

Deno.test("withFastListener: a transport failure on the fast listener makes the next call look again", async () => {
  let port = 51051;
  const h = healthz(() => json({ fastPort: port }));
  const f = factory();
  const t = withFastListener(f.create, { fetch: h.fetch })(INSTANCE);
  assert.equal(await unary(t), "ok");
  f.set(refused);
  const e = await unary(t).catch((e) => e);
  assert.ok(isTransportFailure(e), "the caller gets the failure");
  assert.equal(f.made[0].closed, 1, "the failed transport is closed");
  port = 51099; // the instance restarted elsewhere
  f.set(() => Promise.resolve("ok"));
  assert.equal(await unary(t), "ok");
  assert.equal(h.asked.length, 2);
  assert.deepEqual(f.made.map((m) => m.instance.baseUrl), [
    "http://10.0.0.7:51051",
    "http://10.0.0.7:51099",
  ]);
  assert.equal(f.made[1].closed, 0);
});

Deno.test("withFastListener: a stream's transport failure counts too; answers do not", async () => {
  const h = healthz(() => json({ fastPort: 51051 }));
  const f = factory();
  const t = withFastListener(f.create, { fetch: h.fetch })(INSTANCE);
  f.set(() => Promise.reject(new ConnectError("no such channel", Code.NotFound)));
  await assert.rejects(unary(t));
  f.set(() => Promise.reject(new ConnectError("cassandra is slow", Code.Unavailable)));
  await assert.rejects(stream(t));
  assert.equal(h.asked.length, 1, "errors the instance sent keep the transport");
  f.set(refused);
  await assert.rejects(stream(t));
  assert.equal(f.made[0].closed, 1);
  f.set(() => Promise.resolve("ok"));
  await unary(t);
  assert.equal(h.asked.length, 2);
});

Deno.test("withFastListener: calls failing together close the old transport once", async () => {
  const h = healthz(() => json({ fastPort: 51051 }));
  const f = factory();
  const t = withFastListener(f.create, { fetch: h.fetch })(INSTANCE);
  await unary(t);
  const gate = Promise.withResolvers<void>();
  f.set(() => gate.promise.then(refused));
  const calls = [unary(t), unary(t), stream(t)].map((p) => p.catch(() => "failed"));
  gate.resolve();
  assert.deepEqual(await Promise.all(calls), ["failed", "failed", "failed"]);
  assert.equal(f.made[0].closed, 1);
  f.set(() => Promise.resolve("ok"));
  await unary(t);
  assert.equal(f.made.length, 2, "one new transport");
  assert.equal(h.asked.length, 2);
});

Deno.test("withFastListener: close() closes what it made, once", async () => {
  const h = healthz(() => json({ fastPort: 51051 }));
  const f = factory();
  const t = withFastListener(f.create, { fetch: h.fetch })(INSTANCE);
  await t.close?.();
  assert.equal(f.made.length, 0, "nothing made, nothing to close");
  const u = withFastListener(f.create, { fetch: h.fetch })(INSTANCE);
  await unary(u);
  await unary(u);
  await u.close?.();
  assert.deepEqual(f.made.map((m) => m.closed), [1]);
  await u.close?.();
  assert.deepEqual(f.made.map((m) => m.closed), [1], "closed once");
});

Deno.test("withFastListener: close() during discovery leaves nothing open", async () => {
  const gate = Promise.withResolvers<Response>();
  const h = healthz(() => gate.promise);
  const f = factory();
  const t = withFastListener(f.create, { fetch: h.fetch })(INSTANCE);
  const call = unary(t).catch(() => "failed");
  await Promise.resolve();
  const closed = t.close?.();
  gate.resolve(json({ fastPort: 51051 }));
  await closed;
  await call;
  // Either nothing is made for a closed transport, or what is made is closed too.
  assert.deepEqual(f.made.filter((m) => m.closed !== 1), []);
});
