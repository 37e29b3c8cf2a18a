import assert from "node:assert/strict";
import { Code, ConnectError } from "@connectrpc/connect";
import { RETRY_ELSEWHERE_HEADER } from "../lib/defaults.ts";
import {
  type BreakerOptions,
  CircuitBreaker,
  isInstanceFailure,
  saysRetryElsewhere,
  wasRefused,
} from "./breaker.ts";
import { TransportFailure } from "./lean_transport.ts";

/** A breaker on a manual clock. */
function breaker(o: Omit<BreakerOptions, "now"> = {}) {
  const clock = { t: 10_000 };
  const b = new CircuitBreaker({ ...o, now: () => clock.t });
  return { b, advance: (ms: number) => clock.t += ms };
}

const refused = () =>
  new ConnectError(
    "connection refused",
    Code.Unavailable,
    undefined,
    undefined,
    new TransportFailure("refused"),
  );
const serverSaid = () => new ConnectError("cassandra timed out", Code.Unavailable);
const probeTimeout = () => new ConnectError("probe timed out", Code.DeadlineExceeded);

Deno.test("breaker: closed at first; only failures of the instance open it", () => {
  const { b } = breaker();
  assert.equal(b.state, "closed");
  assert.equal(b.closed, true);
  assert.equal(b.probeMayDecide, true);
  for (const e of [serverSaid(), new ConnectError("no", Code.NotFound), new Error("x"), "x"]) {
    assert.equal(b.callFailed(e), false);
  }
  assert.equal(b.state, "closed");
  assert.equal(b.callFailed(refused()), true, "this call opened it");
  assert.equal(b.state, "open");
  assert.equal(b.closed, false);
  assert.equal(b.probeMayDecide, false, "no probe decides during the cooldown");
  assert.equal(b.callFailed(refused()), false, "already open");
});

Deno.test("breaker: open becomes half-open when the cooldown has passed, not before", () => {
  const { b, advance } = breaker({ cooldownMs: 100 });
  b.callFailed(refused());
  advance(99.9);
  assert.equal(b.state, "open");
  advance(0.1);
  assert.equal(b.state, "half-open");
  assert.equal(b.closed, false, "traffic still goes elsewhere");
  assert.equal(b.probeMayDecide, true);
});

Deno.test("breaker: a successful trial closes it", () => {
  const { b, advance } = breaker({ cooldownMs: 100 });
  b.callFailed(refused());
  advance(100);
  assert.equal(b.probeAnswered(true), true);
  assert.equal(b.state, "closed");
  assert.equal(b.probeAnswered(true), false, "no change");
});

Deno.test("breaker: failed trials double the cooldown up to the cap; a close resets it", () => {
  const { b, advance } = breaker({ cooldownMs: 100, maxCooldownMs: 500 });
  b.callFailed(refused());
  const cooldowns: number[] = [];
  for (let trial = 0; trial < 5; trial++) {
    // Measure the cooldown: the time until half-open, in 1 ms steps.
    let waited = 0;
    while (b.state === "open") {
      advance(1);
      waited++;
    }
    cooldowns.push(waited);
    if (trial % 2 === 0) b.probeAnswered(false);
    else b.probeFailed(refused());
  }
  assert.deepEqual(cooldowns, [100, 200, 400, 500, 500]);

  b.probeAnswered(true);
  assert.equal(b.state, "closed");
  b.callFailed(refused());
  advance(99);
  assert.equal(b.state, "open");
  advance(1);
  assert.equal(b.state, "half-open", "a fresh failure starts from the base cooldown");
});

Deno.test("breaker: a NOT_SERVING answer opens it at once", () => {
  const { b } = breaker();
  assert.equal(b.probeAnswered(false), true);
  assert.equal(b.state, "open");
});

Deno.test("breaker: probe timeouts open it only after probeTimeoutsToOpen in a row", () => {
  const { b } = breaker({ probeTimeoutsToOpen: 3 });
  assert.equal(b.probeFailed(probeTimeout()), false);
  assert.equal(b.probeFailed(probeTimeout()), false);
  b.probeAnswered(true); // an answer resets the count
  assert.equal(b.probeFailed(probeTimeout()), false);
  assert.equal(b.probeFailed(probeTimeout()), false);
  assert.equal(b.state, "closed");
  assert.equal(b.probeFailed(probeTimeout()), true);
  assert.equal(b.state, "open");
});

Deno.test("breaker: a refused probe opens it at once", () => {
  const { b } = breaker({ probeTimeoutsToOpen: 3 });
  assert.equal(b.probeFailed(refused()), true);
  assert.equal(b.state, "open");
});

Deno.test("breaker: the default is three probe timeouts", () => {
  const { b } = breaker();
  b.probeFailed(probeTimeout());
  b.probeFailed(probeTimeout());
  assert.equal(b.state, "closed");
  b.probeFailed(probeTimeout());
  assert.equal(b.state, "open");
});

Deno.test("breaker: the default cooldown is 1 s, capped at 10 s", () => {
  const { b, advance } = breaker();
  b.callFailed(refused());
  advance(999);
  assert.equal(b.state, "open");
  advance(1);
  assert.equal(b.state, "half-open");
  for (let i = 0; i < 6; i++) {
    assert.equal(b.state, "half-open", `trial ${i}: no cooldown is longer than 10 s`);
    b.probeAnswered(false);
    advance(10_000);
  }
  b.probeAnswered(false);
  advance(9_999);
  assert.equal(b.state, "open");
  advance(1);
  assert.equal(b.state, "half-open");
});

Deno.test("breaker: force(false) opens with no cooldown; force(true) closes and forgets timeouts", () => {
  const { b } = breaker({ cooldownMs: 5_000, probeTimeoutsToOpen: 2 });
  assert.equal(b.force(false), true);
  assert.equal(b.closed, false);
  assert.equal(b.state, "half-open", "the next probe decides");
  assert.equal(b.probeMayDecide, true);
  assert.equal(b.force(true), true);
  assert.equal(b.state, "closed");
  b.probeFailed(probeTimeout());
  b.force(true);
  assert.equal(b.probeFailed(probeTimeout()), false, "the count started over");
  assert.equal(b.state, "closed");
  assert.equal(b.force(true), false, "no change");
});

Deno.test("breaker: a forced open does not shorten the cooldown of a later failure", () => {
  const { b, advance } = breaker({ cooldownMs: 100 });
  b.force(false);
  b.probeAnswered(true);
  b.callFailed(refused());
  advance(99);
  assert.equal(b.state, "open");
});

// --- what counts as a failure of the instance --------------------------------------------------

function h2Error(props: Record<string, unknown>, message = "stream error"): Error {
  return Object.assign(new Error(message), props);
}

Deno.test("wasRefused: REFUSED_STREAM by code, node's error, or message, on a cause", () => {
  const yes: [string, unknown][] = [
    ["rstCode 7", h2Error({ rstCode: 7 })],
    [
      "node's stream error",
      h2Error(
        { code: "ERR_HTTP2_STREAM_ERROR" },
        "Stream closed with error code NGHTTP2_REFUSED_STREAM",
      ),
    ],
    ["a message naming it", new Error("http2 error: stream error received: refused stream")],
    [
      "as a cause",
      new ConnectError("x", Code.Unavailable, undefined, undefined, h2Error({ rstCode: 7 })),
    ],
  ];
  for (const [what, e] of yes) assert.equal(wasRefused(e), true, what);
  const no: [string, unknown][] = [
    ["CANCEL", h2Error({ rstCode: 8 })],
    ["connection refused", new Error("connection refused")],
    ["another stream error", h2Error({ code: "ERR_HTTP2_STREAM_ERROR" }, "NGHTTP2_INTERNAL_ERROR")],
    ["not an error", { rstCode: 7 }],
    ["nothing", undefined],
  ];
  for (const [what, e] of no) assert.equal(wasRefused(e), false, what);
});

Deno.test("saysRetryElsewhere: the instance's header, exactly", () => {
  const said = (value: string) =>
    new ConnectError("draining", Code.Unavailable, { [RETRY_ELSEWHERE_HEADER]: value });
  assert.equal(saysRetryElsewhere(said("elsewhere")), true);
  assert.equal(saysRetryElsewhere(said("later")), false);
  assert.equal(saysRetryElsewhere(said("elsewhere, elsewhere")), false);
  assert.equal(saysRetryElsewhere(serverSaid()), false);
  assert.equal(
    saysRetryElsewhere(
      Object.assign(new Error("x"), {
        metadata: new Headers({ [RETRY_ELSEWHERE_HEADER]: "elsewhere" }),
      }),
    ),
    false,
    "only a ConnectError",
  );
});

Deno.test("isInstanceFailure: transport failures, refused streams, retry-elsewhere; not answers", () => {
  assert.equal(isInstanceFailure(refused()), true);
  assert.equal(isInstanceFailure(Object.assign(new Error("x"), { code: "ECONNRESET" })), true);
  assert.equal(isInstanceFailure(h2Error({ rstCode: 7 })), true);
  assert.equal(
    isInstanceFailure(
      new ConnectError("draining", Code.Unavailable, { [RETRY_ELSEWHERE_HEADER]: "elsewhere" }),
    ),
    true,
  );
  assert.equal(isInstanceFailure(serverSaid()), false);
  assert.equal(isInstanceFailure(probeTimeout()), false);
});

Deno.test("breaker: a draining instance's answer opens it", () => {
  const { b } = breaker();
  const draining = new ConnectError("server is shutting down", Code.Unavailable, {
    [RETRY_ELSEWHERE_HEADER]: "elsewhere",
  });
  assert.equal(b.callFailed(draining), true);
  assert.equal(b.state, "open");
});
