import assert from "node:assert/strict";
import { Code, ConnectError } from "@connectrpc/connect";
import { GetMessagesResponseSchema, MessagesService } from "../gen/dataservices/v1/messages_pb.ts";
import { create } from "@bufbuild/protobuf";
import { isTransportFailure, withFastListener } from "./discovery.ts";
import type { ClosableTransport, Instance, TransportFactory } from "./membership.ts";

const METHOD = MessagesService.method.getMessages;

/** A factory that records the base URLs it made transports for; every call succeeds. */
function recording(): { factory: TransportFactory; made: string[]; closed: string[] } {
  const made: string[] = [];
  const closed: string[] = [];
  const factory: TransportFactory = (i: Instance) => {
    made.push(i.baseUrl);
    const t: ClosableTransport = {
      unary: (method) =>
        Promise.resolve({
          stream: false,
          service: method.parent,
          method,
          header: new Headers(),
          trailer: new Headers(),
          message: create(GetMessagesResponseSchema) as never,
        }),
      stream: () => Promise.reject(new Error("not used")),
      close: () => void closed.push(i.baseUrl),
    };
    return t;
  };
  return { factory, made, closed };
}

const call = (t: ClosableTransport) =>
  t.unary(METHOD, undefined, undefined, undefined, { channelId: 1n });

Deno.test("withFastListener: an instance that does not answer yet is looked up again", async () => {
  let up = false;
  let lookups = 0;
  const fakeFetch: typeof fetch = (input) => {
    lookups++;
    assert.equal(String(input), "http://h:1/healthz");
    if (!up) {
      // What Deno's fetch throws for a refused connection.
      const cause = new Error(
        "error sending request for url (http://h:1/healthz): client error (Connect): " +
          "tcp connect error: Connection refused (os error 111)",
      );
      return Promise.reject(new TypeError("fetch failed", { cause }));
    }
    return Promise.resolve(Response.json({ status: "ok", fastPort: 2 }));
  };
  const { factory, made, closed } = recording();
  const t = withFastListener(factory, { fetch: fakeFetch })({ id: "h:1", baseUrl: "http://h:1" });
  await assert.rejects(call(t), (e) => {
    assert.ok(e instanceof ConnectError);
    assert.equal(e.code, Code.Unavailable);
    assert.ok(isTransportFailure(e), "nothing was sent: a transport failure");
    return true;
  });
  assert.deepEqual(made, [], "no transport to the main port is remembered");
  up = true;
  await call(t);
  await call(t);
  assert.deepEqual(made, ["http://h:2"], "the fast listener once it answers");
  assert.equal(lookups, 2);
  await t.close?.();
  assert.deepEqual(closed, ["http://h:2"]);
});

for (
  const [what, answer] of [
    ["404", () => Promise.resolve(new Response("not found", { status: 404 }))],
    // An h2c-only server (the original's grpc-go) answering Deno's HTTP/1.1 GET.
    ["an h2c-only server", () =>
      Promise.reject(
        new TypeError("fetch failed", {
          cause: new Error(
            "error sending request for http://h:1/healthz: client error (SendRequest): " +
              "invalid HTTP version parsed",
          ),
        }),
      )],
  ] as const
) {
  Deno.test(`withFastListener: an instance that answers ${what} keeps its main port`, async () => {
    let lookups = 0;
    const fakeFetch: typeof fetch = () => {
      lookups++;
      return answer();
    };
    const { factory, made } = recording();
    const t = withFastListener(factory, { fetch: fakeFetch })({ id: "h:1", baseUrl: "http://h:1" });
    await call(t);
    await call(t);
    assert.deepEqual(made, ["http://h:1"]);
    assert.equal(lookups, 1, "looked up once");
    await t.close?.();
  });
}
