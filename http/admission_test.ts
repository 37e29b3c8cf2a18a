import assert from "node:assert/strict";
import { Code, ConnectError } from "@connectrpc/connect";
import { findTrailerError } from "@connectrpc/connect/protocol-grpc";
import { trailerFlag, trailerParse } from "@connectrpc/connect/protocol-grpc-web";
import { Admission, busyReply } from "./admission.ts";
import type { Reply } from "./fast/reply.ts";

const DATA = "/dataservices.v1.MessagesService/GetMessages";
const HEALTH = "/grpc.health.v1.Health/Check";

Deno.test("Admission: a bound below 1 is refused", () => {
  for (const maxInFlight of [0, -1, 0.5, NaN]) {
    assert.throws(() => new Admission({ maxInFlight }), RangeError, String(maxInFlight));
  }
  assert.equal(new Admission({ maxInFlight: Infinity }).maxInFlight, Infinity);
});

Deno.test("Admission: admits up to maxInFlight, then turns away until one leaves", () => {
  const a = new Admission({ maxInFlight: 2 });
  assert.equal(a.enter(DATA), true);
  assert.equal(a.enter(DATA), true);
  assert.equal(a.inFlight, 2);
  assert.equal(a.enter(DATA), false);
  assert.equal(a.enter("/other"), false);
  assert.equal(a.inFlight, 2, "a refused request is not counted in flight");
  assert.equal(a.rejected, 2);
  a.leave(DATA);
  assert.equal(a.inFlight, 1);
  assert.equal(a.enter(DATA), true);
  assert.equal(a.rejected, 2);
});

Deno.test("Admission: exempt paths always enter and are not counted", () => {
  const a = new Admission({ maxInFlight: 1, exempt: [HEALTH, "/healthz"] });
  assert.equal(a.enter(DATA), true);
  for (let i = 0; i < 5; i++) assert.equal(a.enter(HEALTH), true);
  assert.equal(a.enter("/healthz"), true);
  assert.equal(a.inFlight, 1);
  a.leave(HEALTH);
  a.leave("/healthz");
  assert.equal(a.inFlight, 1, "leaving an exempt path frees nothing");
  assert.equal(a.enter(DATA), false);
  assert.equal(a.rejected, 1);
});

Deno.test("Admission: onReject hears each refusal; a throwing one does not break shedding", () => {
  const heard: string[] = [];
  const a = new Admission({ maxInFlight: 1, onReject: (p) => heard.push(p) });
  a.enter(DATA);
  a.enter("/x");
  a.enter(DATA);
  assert.deepEqual(heard, ["/x", DATA]);

  const b = new Admission({
    maxInFlight: 1,
    onReject: () => {
      throw new Error("metric broke");
    },
  });
  b.enter(DATA);
  assert.equal(b.enter(DATA), false);
  assert.equal(b.rejected, 1);
});

Deno.test("Admission: the error is RESOURCE_EXHAUSTED naming the bound", () => {
  const e = new Admission({ maxInFlight: 42 }).error();
  assert.ok(e instanceof ConnectError);
  assert.equal(e.code, Code.ResourceExhausted);
  assert.match(e.rawMessage, /42 requests in flight/);
});

const busy = new Admission({ maxInFlight: 1 }).error();

function grpcWebStatus(reply: Reply) {
  assert.equal(reply.body[0], trailerFlag);
  return findTrailerError(trailerParse(reply.body.subarray(5)));
}

Deno.test("busyReply: gRPC gets a trailers-only status in its format", () => {
  for (
    const [type, contentType] of [
      ["application/grpc", "application/grpc+proto"],
      ["application/grpc+proto", "application/grpc+proto"],
      ["application/grpc+json", "application/grpc+json"],
      ["Application/GRPC+JSON", "application/grpc+json"],
    ]
  ) {
    const reply = busyReply(type, busy);
    assert.equal(reply.status, 200, type);
    assert.equal(reply.contentType, contentType, type);
    assert.equal(reply.trailersOnly, true, type);
    assert.equal(reply.body.length, 0, type);
    const error = findTrailerError(new Headers(reply.trailers as HeadersInit));
    assert.equal(error?.code, Code.ResourceExhausted, type);
    assert.equal(error?.rawMessage, busy.rawMessage, type);
  }
});

Deno.test("busyReply: gRPC-web gets the status in a trailer frame", () => {
  for (
    const [type, contentType] of [
      ["application/grpc-web", "application/grpc-web+proto"],
      ["application/grpc-web+json", "application/grpc-web+json"],
      ["application/grpc-web-text", "application/grpc-web+proto"],
    ]
  ) {
    const reply = busyReply(type, busy);
    assert.equal(reply.status, 200, type);
    assert.equal(reply.contentType, contentType, type);
    assert.equal(grpcWebStatus(reply)?.code, Code.ResourceExhausted, type);
  }
});

Deno.test("busyReply: Connect (and no content type) gets 429 with the error as JSON", () => {
  for (
    const type of [
      "application/proto",
      "application/json",
      "application/connect+proto",
      "",
      null,
      undefined,
    ]
  ) {
    const reply = busyReply(type, busy);
    assert.equal(reply.status, 429, String(type));
    assert.equal(reply.contentType, "application/json", String(type));
    assert.deepEqual(JSON.parse(new TextDecoder().decode(reply.body)), {
      code: "resource_exhausted",
      message: busy.rawMessage,
    });
  }
});

Deno.test("busyReply: anything else gets 503 in plain text", () => {
  for (const type of ["text/html", "multipart/form-data"]) {
    const reply = busyReply(type, busy);
    assert.equal(reply.status, 503, type);
    assert.equal(reply.contentType, "text/plain; charset=utf-8");
    assert.equal(new TextDecoder().decode(reply.body), `${busy.rawMessage}\n`);
  }
});
