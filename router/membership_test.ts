import assert from "node:assert/strict";
import { createRouterTransport } from "@connectrpc/connect";
import { Membership, parseInstanceList, toInstance } from "./membership.ts";
import type { ClosableTransport, Instance } from "./membership.ts";

Deno.test("parseInstanceList: commas, whitespace, lines and # comments; order kept", () => {
  assert.deepEqual(parseInstanceList(""), []);
  assert.deepEqual(parseInstanceList("a:1,b:2"), ["a:1", "b:2"]);
  assert.deepEqual(parseInstanceList(" a:1 , b:2 ,, "), ["a:1", "b:2"]);
  assert.deepEqual(
    parseInstanceList("# data services\r\nc:3\n\na:1, b:2 # newest last\n  # d:4\n"),
    ["c:3", "a:1", "b:2"],
  );
  assert.deepEqual(parseInstanceList("http://x:1/p https://y"), ["http://x:1/p", "https://y"]);
});

Deno.test("toInstance: host:port gets an http base URL; URLs and explicit base URLs are kept", () => {
  assert.deepEqual(toInstance("10.0.0.7:50051"), {
    id: "10.0.0.7:50051",
    baseUrl: "http://10.0.0.7:50051",
  });
  assert.deepEqual(toInstance(" https://ds.example.com/api/ "), {
    id: "https://ds.example.com/api/",
    baseUrl: "https://ds.example.com/api",
  });
  assert.deepEqual(toInstance({ id: "ds-0", baseUrl: "https://ds-0.internal:8443" }), {
    id: "ds-0",
    baseUrl: "https://ds-0.internal:8443",
  });
  for (const bad of ["", "  ", "a b", "a,b"]) assert.throws(() => toInstance(bad), TypeError);
});

function counting() {
  const created: string[] = [];
  const closed: string[] = [];
  const factory = (instance: Instance): ClosableTransport => {
    created.push(instance.id);
    const t = createRouterTransport(() => {});
    return {
      unary: t.unary.bind(t),
      stream: t.stream.bind(t),
      close: () => {
        closed.push(instance.id);
      },
    };
  };
  return { created, closed, factory };
}

Deno.test("Membership.set keeps transports of kept instances and closes removed ones", async () => {
  const c = counting();
  const m = new Membership(c.factory);
  m.set(["a:1", "b:1", "c:1"]);
  const b = m.get("b:1")!;
  const change = m.set(["b:1", "c:1", "d:1"]);
  assert.deepEqual(change.added.map((i) => i.id), ["d:1"]);
  assert.deepEqual(change.removed.map((i) => i.id), ["a:1"]);
  assert.deepEqual(c.created, ["a:1", "b:1", "c:1", "d:1"]);
  assert.deepEqual(c.closed, ["a:1"]);
  assert.equal(m.get("b:1"), b, "same member object, same transport");
  assert.deepEqual(m.members.map((x) => [x.instance.id, x.index]), [["b:1", 0], ["c:1", 1], [
    "d:1",
    2,
  ]]);
  // A changed base URL is a new instance.
  m.set([{ id: "b:1", baseUrl: "https://b" }, "c:1", "d:1"]);
  assert.notEqual(m.get("b:1"), b);
  assert.deepEqual(c.closed, ["a:1", "b:1"]);
  await m.close();
  assert.deepEqual(c.closed.toSorted(), ["a:1", "b:1", "b:1", "c:1", "d:1"]);
  assert.equal(m.members.length, 0);
});

Deno.test("Membership closes a removed transport once, after its last call", () => {
  const c = counting();
  const m = new Membership(c.factory);
  m.set(["a:1", "b:1"]);
  const a = m.get("a:1")!;
  m.acquire(a);
  m.acquire(a);
  m.set(["b:1"]);
  assert.equal(a.removed, true);
  assert.deepEqual(c.closed, []);
  m.release(a);
  assert.deepEqual(c.closed, []);
  m.release(a);
  assert.deepEqual(c.closed, ["a:1"]);
  m.acquire(a);
  m.release(a);
  assert.deepEqual(c.closed, ["a:1"], "never twice");
});

Deno.test("Membership.set validates everything before changing anything", () => {
  const c = counting();
  const m = new Membership(c.factory);
  m.set(["a:1"]);
  assert.throws(() => m.set(["b:1", "b:1"]), /listed twice/);
  assert.throws(() => m.set(["b:1", "x y"]), TypeError);
  assert.deepEqual(m.members.map((x) => x.instance.id), ["a:1"]);
  assert.deepEqual(c.created, ["a:1"]);
});

Deno.test("Membership reports a failing close and goes on", async () => {
  const errors: string[] = [];
  const m = new Membership(
    (instance) => {
      const t = createRouterTransport(() => {});
      return {
        unary: t.unary.bind(t),
        stream: t.stream.bind(t),
        close: () => Promise.reject(new Error(`cannot close ${instance.id}`)),
      };
    },
    (error, instance) => errors.push(`${instance.id}: ${(error as Error).message}`),
  );
  m.set(["a:1", "b:1"]);
  await m.close();
  assert.deepEqual(errors.toSorted(), ["a:1: cannot close a:1", "b:1: cannot close b:1"]);
});
