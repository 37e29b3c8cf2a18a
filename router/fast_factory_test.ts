/**
 * The pool of the default Deno transport factory, against a real Deno.serve
 * (h2c) on port 0 that holds every call at a gate and tells connections
 * apart by their remote port.
 */
import assert from "node:assert/strict";
import { create, toBinary } from "@bufbuild/protobuf";
import { GetMessagesResponseSchema, MessagesService } from "../gen/dataservices/v1/messages_pb.ts";
import { withTimeout } from "../lib/wait.ts";
import { createFastTransportFactory, type FastTransportFactoryOptions } from "./fast_factory.ts";

const REPLY = toBinary(GetMessagesResponseSchema, create(GetMessagesResponseSchema));

/** A server that holds calls until `release()`; records each call's remote port. */
async function gatedServer() {
  const ports: number[] = [];
  let gate = Promise.withResolvers<void>();
  let want = Infinity;
  let arrived = Promise.withResolvers<void>();
  const listening = Promise.withResolvers<Deno.NetAddr>();
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: (addr) => listening.resolve(addr as Deno.NetAddr),
  }, async (req, info) => {
    await req.bytes();
    ports.push(info.remoteAddr.port);
    if (ports.length >= want) arrived.resolve();
    await gate.promise;
    return new Response(REPLY, { headers: { "content-type": "application/proto" } });
  });
  const addr = await listening.promise;
  return {
    baseUrl: `http://127.0.0.1:${addr.port}`,
    /** Distinct connections seen so far. */
    connections: () => new Set(ports).size,
    /** Calls per connection among the calls from the `from`-th on, largest first. */
    spread(from = 0): number[] {
      const n = new Map<number, number>();
      for (const p of ports.slice(from)) n.set(p, (n.get(p) ?? 0) + 1);
      return [...n.values()].sort((a, b) => b - a);
    },
    calls: () => ports.length,
    /** Resolves once `n` calls in all have arrived. */
    arrivals(n: number) {
      want = n;
      arrived = Promise.withResolvers();
      if (ports.length >= n) arrived.resolve();
      return withTimeout(arrived.promise, 10_000, `${n} calls to reach the server`);
    },
    /** Lets every call held so far answer. */
    release() {
      gate.resolve();
      gate = Promise.withResolvers();
    },
    async [Symbol.asyncDispose]() {
      gate.resolve();
      await server.shutdown();
    },
  };
}

/** The factory's transport to `baseUrl`; every call is settled before it closes. */
function transport(baseUrl: string, release: () => void, o: FastTransportFactoryOptions) {
  const t = createFastTransportFactory({ discover: false, ...o })({ id: "a", baseUrl });
  const calls: Promise<unknown>[] = [];
  const call = () => {
    const p = t.unary(MessagesService.method.getMessages, undefined, undefined, undefined, {});
    calls.push(p);
    return p;
  };
  return {
    call,
    async [Symbol.asyncDispose]() {
      // Even when an assertion failed: let the held calls answer, then close.
      release();
      await Promise.allSettled(calls);
      await t.close?.();
    },
  };
}

Deno.test("fast factory: a new connection only when every open one is full", async () => {
  await using server = await gatedServer();
  await using t = transport(server.baseUrl, server.release, {
    streamsPerConnection: 3,
    maxConnections: 8,
  });
  const expected = [1, 1, 1, 2, 2, 2, 3];
  const calls: Promise<unknown>[] = [];
  for (const [i, want] of expected.entries()) {
    calls.push(t.call());
    await server.arrivals(i + 1);
    assert.equal(server.connections(), want, `call ${i + 1} in flight`);
  }
  server.release();
  await withTimeout(Promise.all(calls), 10_000, "the calls to answer");
});

Deno.test("fast factory: no more than maxConnections, then calls share them", async () => {
  await using server = await gatedServer();
  await using t = transport(server.baseUrl, server.release, {
    streamsPerConnection: 2,
    maxConnections: 3,
  });
  const calls = Array.from({ length: 9 }, () => t.call());
  await server.arrivals(9);
  assert.equal(server.connections(), 3, "9 calls, 2 per connection, at most 3 connections");
  assert.deepEqual(server.spread(), [3, 3, 3], "the overflow goes round the connections");
  server.release();
  await withTimeout(Promise.all(calls), 10_000, "the calls to answer");
});

Deno.test("fast factory: answered calls free their room, used round robin", async () => {
  await using server = await gatedServer();
  await using t = transport(server.baseUrl, server.release, {
    streamsPerConnection: 3,
    maxConnections: 8,
  });
  const first = Array.from({ length: 6 }, () => t.call());
  await server.arrivals(6);
  assert.equal(server.connections(), 2);
  server.release();
  await withTimeout(Promise.all(first), 10_000, "the first 6 calls to answer");

  const second = Array.from({ length: 4 }, () => t.call());
  await server.arrivals(10);
  assert.equal(server.connections(), 2, "no new connection: the open ones had room again");
  assert.deepEqual(server.spread(6), [2, 2], "spread over both, not packed into one");
  server.release();
  await withTimeout(Promise.all(second), 10_000, "the next 4 calls to answer");
});
