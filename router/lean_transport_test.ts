import assert from "node:assert/strict";
// @ts-types="npm:@types/sinonjs__fake-timers@15.0.1"
import FakeTimers from "@sinonjs/fake-timers";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { errorToJsonBytes } from "@connectrpc/connect/protocol-connect";
import {
  GetMessageRequestSchema,
  GetMessagesRequestSchema,
  GetMessagesResponseSchema,
  MessagesService,
} from "../gen/dataservices/v1/messages_pb.ts";
import { Health } from "../gen/grpc/health/v1/health_pb.ts";
import { coarseTimer, SLOT_MS } from "../lib/coarse_timer.ts";
import { isTransportFailure } from "./discovery.ts";
import {
  createLeanConnectTransport,
  type LeanTransportOptions,
  TransportFailure,
} from "./lean_transport.ts";

const METHOD = MessagesService.method.getMessages;
const URL_ = "http://10.0.0.7:51051/dataservices.v1.MessagesService/GetMessages";

interface Sent {
  url: string;
  method: string;
  headers: Headers;
  body: Uint8Array;
  signal: AbortSignal | undefined;
}

/** A fake fetch: records each request and answers with `reply` (a Response, or a throw). */
function fakeFetch(reply: (sent: Sent) => Response | Promise<Response>) {
  const sent: Sent[] = [];
  const fetch: typeof globalThis.fetch = async (input, init) => {
    const s: Sent = {
      url: String(input),
      method: init?.method ?? "GET",
      headers: new Headers(init?.headers),
      body: new Uint8Array(init?.body as Uint8Array),
      signal: init?.signal ?? undefined,
    };
    sent.push(s);
    return await reply(s);
  };
  return { fetch, sent };
}

/** A reply that never comes; rejects with the signal's reason like fetch does. */
function hang(s: Sent): Promise<Response> {
  return new Promise((_, reject) => {
    assert.ok(s.signal, "the request carries a signal");
    s.signal.addEventListener("abort", () => reject(s.signal!.reason), { once: true });
  });
}

const okProto = (
  body = toBinary(GetMessagesResponseSchema, create(GetMessagesResponseSchema)),
  headers: HeadersInit = {},
) =>
  new Response(body as Uint8Array<ArrayBuffer>, {
    status: 200,
    headers: { "content-type": "application/proto", ...headers },
  });

const noStreams: LeanTransportOptions["fallback"] = {
  stream: () => Promise.reject(new Error("no streams here")),
};

function transport(
  fetch: typeof globalThis.fetch,
  o: Partial<LeanTransportOptions> = {},
): Transport {
  return createLeanConnectTransport({
    baseUrl: "http://10.0.0.7:51051/",
    fetch,
    fallback: noStreams,
    ...o,
  });
}

async function rejection(p: Promise<unknown>): Promise<ConnectError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof ConnectError, `a ConnectError: ${e}`);
    return e;
  }
  assert.fail("the call succeeded");
}

// --- requests ---------------------------------------------------------------------------------

Deno.test("lean transport: one POST of the binary message with Connect's headers", async () => {
  const f = fakeFetch(() => okProto());
  const t = transport(f.fetch);
  await t.unary(METHOD, undefined, undefined, { "x-user": "u1" }, { channelId: 7n, limit: 3 });
  assert.equal(f.sent.length, 1);
  const s = f.sent[0];
  assert.equal(s.url, URL_);
  assert.equal(s.method, "POST");
  assert.deepEqual([...s.headers], [
    ["connect-protocol-version", "1"],
    ["content-type", "application/proto"],
    ["x-user", "u1"],
  ]);
  const got = fromBinary(GetMessagesRequestSchema, s.body);
  assert.equal(got.channelId, 7n);
  assert.equal(got.limit, 3);
  assert.equal(s.signal, undefined, "no signal without a deadline or a caller's signal");
});

Deno.test("lean transport: user headers in any HeadersInit form; a message as input", async () => {
  const f = fakeFetch(() => okProto());
  const t = transport(f.fetch);
  const input = create(GetMessagesRequestSchema, { channelId: 9n });
  await t.unary(METHOD, undefined, undefined, [["x-a", "1"], ["x-b", "2"]], input);
  await t.unary(METHOD, undefined, undefined, new Headers({ "x-c": "3" }), input);
  assert.equal(f.sent[0].headers.get("x-a"), "1");
  assert.equal(f.sent[0].headers.get("x-b"), "2");
  assert.equal(f.sent[1].headers.get("x-c"), "3");
  assert.equal(fromBinary(GetMessagesRequestSchema, f.sent[1].body).channelId, 9n);
});

Deno.test("lean transport: the deadline travels as connect-timeout-ms", async () => {
  const f = fakeFetch(() => okProto());
  const plain = transport(f.fetch);
  const withDefault = transport(f.fetch, { defaultTimeoutMs: 3000 });
  await plain.unary(METHOD, undefined, 250, undefined, {});
  await withDefault.unary(METHOD, undefined, undefined, undefined, {});
  await withDefault.unary(METHOD, undefined, 100, undefined, {});
  await withDefault.unary(METHOD, undefined, 0, undefined, {}); // <= 0: none, as connect-es
  await plain.unary(METHOD, undefined, undefined, undefined, {});
  assert.deepEqual(f.sent.map((s) => s.headers.get("connect-timeout-ms")), [
    "250",
    "3000",
    "100",
    null,
    null,
  ]);
  assert.ok(f.sent[0].signal !== undefined, "a deadline aborts the fetch");
  assert.equal(coarseTimer.pending, 0, "the deadlines left the shared timer");
});

Deno.test("lean transport: JSON format both ways, unknown response fields ignored", async () => {
  const f = fakeFetch(() =>
    new Response('{"messages":[{"channelId":"4","content":"hi"}],"later":1}', {
      headers: { "content-type": "application/json" },
    })
  );
  const t = transport(f.fetch, { useBinaryFormat: false });
  const res = await t.unary(METHOD, undefined, undefined, undefined, { channelId: 4n });
  assert.equal(f.sent[0].headers.get("content-type"), "application/json");
  assert.deepEqual(JSON.parse(new TextDecoder().decode(f.sent[0].body)), { channelId: "4" });
  assert.equal(res.message.messages[0].content, "hi");
});

// --- replies ----------------------------------------------------------------------------------

Deno.test("lean transport: a success, headers and trailer- headers apart", async () => {
  const body = toBinary(
    GetMessagesResponseSchema,
    create(GetMessagesResponseSchema, { messages: [{ channelId: 1n, content: "a" }] }),
  );
  const f = fakeFetch(() => okProto(body, { "x-h": "1", "trailer-x-t": "2" }));
  const res = await transport(f.fetch).unary(METHOD, undefined, undefined, undefined, {});
  assert.equal(res.stream, false);
  assert.equal(res.method, METHOD);
  assert.equal(res.service, MessagesService);
  assert.equal(res.message.messages[0].content, "a");
  assert.equal(res.header.get("x-h"), "1");
  assert.equal(res.header.get("trailer-x-t"), null);
  assert.equal(res.trailer.get("x-t"), "2");
});

Deno.test("lean transport: an error reply becomes connect-es's ConnectError, metadata included", async () => {
  const sentError = new ConnectError("no such message", Code.NotFound, undefined, [
    { desc: GetMessageRequestSchema, value: { channelId: 7n } },
  ]);
  const f = fakeFetch(() =>
    new Response(errorToJsonBytes(sentError, undefined) as Uint8Array<ArrayBuffer>, {
      status: 404,
      headers: {
        "content-type": "application/json",
        "x-dataservices-retry": "elsewhere",
        "trailer-x-t": "2",
      },
    })
  );
  const e = await rejection(transport(f.fetch).unary(METHOD, undefined, undefined, undefined, {}));
  assert.equal(e.code, Code.NotFound);
  assert.equal(e.rawMessage, "no such message");
  assert.equal(e.findDetails(GetMessageRequestSchema)[0].channelId, 7n);
  assert.equal(e.metadata.get("x-dataservices-retry"), "elsewhere");
  assert.equal(e.metadata.get("x-t"), "2", "trailers are metadata too");
  assert.ok(!isTransportFailure(e), "an answer is no transport failure");
});

Deno.test("lean transport: replies that are not Connect", async () => {
  const cases: [string, Response, Code][] = [
    [
      "proxy 503 in text",
      new Response("busy", { status: 503, headers: { "content-type": "text/plain" } }),
      Code.Unavailable,
    ],
    [
      "JSON error body that is not JSON",
      new Response("<html>", { status: 502, headers: { "content-type": "application/json" } }),
      Code.Unavailable,
    ],
    [
      "200 in text/html",
      new Response("<html>", { headers: { "content-type": "text/html" } }),
      Code.Unknown,
    ],
    [
      "200 in JSON to a binary client",
      new Response("{}", { headers: { "content-type": "application/json" } }),
      Code.Internal,
    ],
    [
      "200 streaming type",
      new Response("", { headers: { "content-type": "application/connect+proto" } }),
      Code.Internal,
    ],
    ["200 with a broken message", okProto(new Uint8Array([0xff, 0xff])), Code.Internal],
  ];
  for (const [what, response, code] of cases) {
    const f = fakeFetch(() => response);
    const e = await rejection(
      transport(f.fetch).unary(METHOD, undefined, undefined, undefined, {}),
    );
    assert.equal(e.code, code, `${what}: ${e.message}`);
  }
});

// --- failures ---------------------------------------------------------------------------------

Deno.test("lean transport: a network error is UNAVAILABLE caused by a TransportFailure", async () => {
  const f = fakeFetch(() => {
    throw new TypeError("error sending request: connection refused");
  });
  const e = await rejection(transport(f.fetch).unary(METHOD, undefined, undefined, undefined, {}));
  assert.equal(e.code, Code.Unavailable);
  assert.match(e.rawMessage, /connection refused/);
  assert.ok(e.cause instanceof TransportFailure);
  assert.ok(isTransportFailure(e));
});

Deno.test("lean transport: a reply cut off mid-body is UNAVAILABLE, not a transport failure", async () => {
  const f = fakeFetch(() =>
    new Response(
      new ReadableStream({
        start(c) {
          c.enqueue(new Uint8Array([1]));
        },
        pull(c) {
          c.error(new Error("connection reset"));
        },
      }),
      { headers: { "content-type": "application/proto" } },
    )
  );
  const e = await rejection(transport(f.fetch).unary(METHOD, undefined, undefined, undefined, {}));
  assert.equal(e.code, Code.Unavailable);
  assert.match(e.rawMessage, /reading the reply failed/);
  assert.ok(!isTransportFailure(e), "the request reached the server: may have been processed");
});

Deno.test("lean transport: a caller's signal aborted before the call: CANCELED, nothing sent", async () => {
  const f = fakeFetch(() => okProto());
  const c = new AbortController();
  c.abort();
  const e = await rejection(transport(f.fetch).unary(METHOD, c.signal, 100, undefined, {}));
  assert.equal(e.code, Code.Canceled);
  assert.equal(f.sent.length, 0);
  assert.equal(coarseTimer.pending, 0);
});

Deno.test("lean transport: the caller aborts during the call: CANCELED, with or without a deadline", async () => {
  for (const timeout of [undefined, 60_000]) {
    const f = fakeFetch(hang);
    const c = new AbortController();
    const call = transport(f.fetch).unary(METHOD, c.signal, timeout, undefined, {});
    await Promise.resolve();
    c.abort();
    const e = await rejection(call);
    assert.equal(e.code, Code.Canceled, `timeout ${timeout}`);
    assert.ok(!isTransportFailure(e));
    assert.equal(coarseTimer.pending, 0);
  }
});

Deno.test("lean transport: a caller's signal is let go after the call", async () => {
  const f = fakeFetch(() => okProto());
  const c = new AbortController();
  const listening = new Set<unknown>();
  const signal = c.signal;
  const add = signal.addEventListener.bind(signal);
  const remove = signal.removeEventListener.bind(signal);
  signal.addEventListener = ((type: string, fn: EventListener, o?: AddEventListenerOptions) => {
    listening.add(fn);
    add(type, fn, o);
  }) as typeof signal.addEventListener;
  signal.removeEventListener = ((type: string, fn: EventListener) => {
    listening.delete(fn);
    remove(type, fn);
  }) as typeof signal.removeEventListener;
  const call = transport(f.fetch).unary(METHOD, signal, 5_000, undefined, {});
  assert.equal(listening.size, 1, "it listens during the call");
  await call;
  assert.equal(listening.size, 0);
  assert.equal(coarseTimer.pending, 0);
});

Deno.test("lean transport: the deadline aborts the fetch with DEADLINE_EXCEEDED (coarse timer)", async () => {
  const clock = FakeTimers.install({ toFake: ["setTimeout", "clearTimeout", "performance"] });
  try {
    const f = fakeFetch(hang);
    const t = transport(f.fetch);
    let settled = false;
    const call = t.unary(METHOD, undefined, 50, undefined, {}).finally(() => settled = true);
    call.catch(() => {});
    assert.equal(clock.countTimers(), 1);
    await clock.tickAsync(49);
    assert.equal(settled, false, "not before the deadline");
    await clock.tickAsync(1 + SLOT_MS);
    const e = await rejection(call);
    assert.equal(e.code, Code.DeadlineExceeded);
    assert.ok(!isTransportFailure(e));
    assert.equal(clock.countTimers(), 0);
  } finally {
    clock.uninstall();
  }
});

Deno.test("lean transport: deadlines of concurrent calls share the timer's slots", async () => {
  const clock = FakeTimers.install({ toFake: ["setTimeout", "clearTimeout", "performance"] });
  try {
    const f = fakeFetch(hang);
    const t = transport(f.fetch);
    const calls = Array.from({ length: 20 }, () => t.unary(METHOD, undefined, 30, undefined, {}));
    for (const c of calls) c.catch(() => {});
    assert.equal(clock.countTimers(), 1);
    await clock.tickAsync(30 + SLOT_MS);
    const codes = await Promise.all(calls.map(async (c) => (await rejection(c)).code));
    assert.deepEqual(new Set(codes), new Set([Code.DeadlineExceeded]));
  } finally {
    clock.uninstall();
  }
});

// --- streams ----------------------------------------------------------------------------------

Deno.test("lean transport: streaming calls go to the fallback with their arguments", async () => {
  const seen: unknown[][] = [];
  const answer = Symbol("the fallback's answer");
  const t = transport(fakeFetch(() => okProto()).fetch, {
    fallback: {
      // deno-lint-ignore no-explicit-any
      stream: (...args: unknown[]) => (seen.push(args), Promise.resolve(answer as any)),
    },
  });
  const signal = new AbortController().signal;
  const input = (async function* () {})();
  const got = await t.stream(Health.method.watch, signal, 1234, { "x-a": "1" }, input);
  assert.equal(got, answer);
  assert.equal(seen.length, 1);
  assert.deepEqual(seen[0].slice(0, 5), [Health.method.watch, signal, 1234, { "x-a": "1" }, input]);
});

Deno.test("lean transport: works under a connect-es client", async () => {
  const f = fakeFetch(() => okProto());
  const client = createClient(MessagesService, transport(f.fetch));
  const res = await client.getMessages({ channelId: 3n }, {
    timeoutMs: 900,
    headers: { "x-a": "1" },
  });
  assert.deepEqual(res.messages, []);
  assert.equal(f.sent[0].headers.get("connect-timeout-ms"), "900");
  assert.equal(f.sent[0].headers.get("x-a"), "1");
});
