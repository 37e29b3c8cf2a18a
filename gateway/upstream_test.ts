import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextValues, type Transport } from "@connectrpc/connect";
import { GetMessagesResponseSchema, MessagesService } from "../gen/dataservices/v1/messages_pb.ts";
import type { ClosableTransport, TransportFactory } from "../router/membership.ts";
import { createRoutingTransport } from "../router/transport.ts";
import { CALL_ROUTE, CallRoute, guardedFactory } from "./upstream.ts";

const GET_MESSAGES = MessagesService.method.getMessages;
const CREATE_MESSAGE = MessagesService.method.createMessage;

/** Instance "a" loses every call the way connect-node reports a killed server; "b" answers. */
function fakes(): { factory: TransportFactory; calls: Record<string, number> } {
  const calls: Record<string, number> = { a: 0, b: 0 };
  const factory: TransportFactory = (instance) => {
    const fail = () => {
      throw new ConnectError("http/2 stream closed with error code CANCEL (0x8)", Code.Canceled);
    };
    const transport: ClosableTransport = {
      // deno-lint-ignore require-await
      async unary(method) {
        calls[instance.id]++;
        if (instance.id === "a") fail();
        return {
          stream: false,
          service: method.parent,
          method,
          header: new Headers(),
          trailer: new Headers(),
          message: create(GetMessagesResponseSchema) as never,
        };
      },
      stream: () => Promise.reject(new Error("not used")),
    };
    return transport;
  };
  return { factory, calls };
}

/** A channel that instance 0 ("a") owns. */
function channelOfA(router: { ownerOf(k: bigint): { index: number } }): bigint {
  for (let k = 1n;; k++) if (router.ownerOf(k).index === 0) return k;
}

Deno.test("guardedFactory: a lost instance is UNAVAILABLE, so the router retries reads on the fallback", async () => {
  const { factory, calls } = fakes();
  const router = createRoutingTransport({
    instances: ["a", "b"],
    createTransport: guardedFactory(factory),
    probeIntervalMs: 0,
  });
  try {
    const channelId = channelOfA(router);
    const route = new CallRoute();
    await router.unary(
      GET_MESSAGES,
      undefined,
      undefined,
      undefined,
      { channelId },
      createContextValues().set(CALL_ROUTE, route),
    );
    assert.deepEqual(calls, { a: 1, b: 1 });
    assert.deepEqual({ ...route }, { instance: "b", attempts: 2 });
    assert.equal(router.instances[0].up, false, "the lost instance was marked down");
  } finally {
    await router.close();
  }
});

Deno.test("guardedFactory: a write on a lost instance fails with UNAVAILABLE and is not retried", async () => {
  const { factory, calls } = fakes();
  const router = createRoutingTransport({
    instances: ["a", "b"],
    createTransport: guardedFactory(factory),
    probeIntervalMs: 0,
  });
  try {
    const channelId = channelOfA(router);
    const route = new CallRoute();
    const write = (router as Transport).unary(
      CREATE_MESSAGE,
      undefined,
      undefined,
      undefined,
      { channelId, authorId: 1n, content: "x" },
      createContextValues().set(CALL_ROUTE, route),
    );
    await assert.rejects(write, (e) => {
      assert.ok(e instanceof ConnectError);
      assert.equal(e.code, Code.Unavailable);
      assert.match(e.rawMessage, /^lost instance a: /);
      return true;
    });
    assert.deepEqual(calls, { a: 1, b: 0 });
    assert.deepEqual({ ...route }, { instance: "a", attempts: 1 });
  } finally {
    await router.close();
  }
});
