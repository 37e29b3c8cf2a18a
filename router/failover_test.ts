import assert from "node:assert/strict";
import { Code, ConnectError } from "@connectrpc/connect";
import { MessagesService } from "../gen/dataservices/v1/messages_pb.ts";
import { type Attempt, Failover } from "./failover.ts";
import type { Member } from "./membership.ts";

const member = (id: string): Member => ({
  instance: { id, baseUrl: `http://${id}` },
  transport: {} as Member["transport"],
  index: 0,
  up: true,
  epoch: 0,
  inflight: 0,
  removed: false,
});
const a = member("a:1");
const b = member("b:1");
const read = MessagesService.method.getMessages; // NO_SIDE_EFFECTS
const write = MessagesService.method.createMessage;

/** A connection reset: the instance failed, the request may have run. */
const reset = () => Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
/** A connection refused: the request never left. */
const refused = () => Object.assign(new Error("connect failed"), { code: "ECONNREFUSED" });

const attempt = (o: Partial<Attempt> = {}): Attempt => ({
  first: a,
  key: 1n,
  method: read,
  signal: undefined,
  timeoutMs: undefined,
  started: Date.now(),
  ...o,
});
const toB = () => b;

Deno.test("failover: a read is retried after an instance failure, never after an answer", () => {
  const f = new Failover({ retry: true, idempotentMethods: [] });
  assert.deepEqual(f.target(reset(), attempt(), toB), { member: b, timeoutMs: undefined });
  const answer = new ConnectError("database timed out", Code.Unavailable);
  assert.equal(f.target(answer, attempt(), toB), undefined);
});

Deno.test("failover: a write is retried only when it certainly did not run, and then outside the budget", () => {
  const f = new Failover({
    retry: true,
    idempotentMethods: [],
    budget: { maxTokens: 1, ratio: 0 },
  });
  assert.equal(f.target(reset(), attempt({ method: write }), toB), undefined);
  assert.deepEqual(f.target(refused(), attempt({ method: write }), toB)?.member, b);
  assert.deepEqual(f.retries, { granted: 0, denied: 0 }, "a refused call takes no token");
  // The one token goes to a read that may have run; the next one is denied.
  assert.equal(f.target(reset(), attempt(), toB)?.member, b);
  assert.equal(f.target(reset(), attempt(), toB), undefined);
  assert.deepEqual(f.retries, { granted: 1, denied: 1 });
});

Deno.test("failover: not to the same instance, not past the deadline, not when cancelled or off", () => {
  const f = new Failover({ retry: true, idempotentMethods: [] });
  assert.equal(f.target(reset(), attempt(), () => a), undefined, "nothing else is up");
  const late = attempt({ timeoutMs: 100, started: Date.now() - 100 });
  assert.equal(f.target(reset(), late, toB), undefined);
  const left = f.target(reset(), attempt({ timeoutMs: 60_000, started: Date.now() - 1000 }), toB);
  assert.ok(left?.timeoutMs !== undefined && left.timeoutMs <= 59_000 && left.timeoutMs > 0);
  const cancelled = attempt({ signal: AbortSignal.abort() });
  assert.equal(f.target(reset(), cancelled, toB), undefined);
  const off = new Failover({ retry: false, idempotentMethods: [] });
  assert.equal(off.target(refused(), attempt(), toB), undefined);
  assert.equal(off.retriesStreams(read), false);
  assert.equal(f.retriesStreams(read), true);
  assert.equal(f.retriesStreams(write), false);
});

Deno.test("failover: idempotentMethods makes a method retried like a read", () => {
  const f = new Failover({
    retry: true,
    idempotentMethods: ["dataservices.v1.MessagesService/CreateMessage"],
  });
  assert.equal(f.target(reset(), attempt({ method: write }), toB)?.member, b);
});
