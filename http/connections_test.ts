import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import type * as http2 from "node:http2";
import { Connections } from "./connections.ts";

/** A stand-in session: `addSession` only listens for "error" and "close". */
function fakeSession(): http2.Http2Session {
  return new EventEmitter() as unknown as http2.Http2Session;
}

Deno.test("idleSessions: quiet for idleMs from the first look that finds nothing in flight and nothing new", () => {
  const conns = new Connections();
  const busy = fakeSession();
  const quiet = fakeSession();
  conns.addSession(busy, () => {});
  conns.addSession(quiet, () => {});
  const names = new Map([[busy, "busy"], [quiet, "quiet"]]);
  const idle = (now: number) => [...conns.idleSessions(now, 100)].map((s) => names.get(s));
  const t0 = performance.now();

  conns.requestStarted(busy);
  assert.deepEqual(
    idle(t0 + 100),
    ["quiet"],
    "a session with no stream ever is quiet since it came",
  );
  // A stream in flight keeps its session however long it takes.
  assert.deepEqual(idle(t0 + 1_000), ["quiet"]);
  assert.equal(conns.requestEnded(busy), 0);
  // Quiet from the first look after its stream ended, not from the end itself.
  assert.deepEqual(idle(t0 + 1_050), ["quiet"], "quiet from this look on");
  assert.deepEqual(idle(t0 + 1_149), ["quiet"]);
  assert.deepEqual(idle(t0 + 1_150), ["busy", "quiet"]);

  // A stream that started and ended between two looks counts as activity.
  conns.requestStarted(quiet);
  conns.requestEnded(quiet);
  assert.deepEqual(idle(t0 + 1_200), ["busy"]);
  assert.deepEqual(idle(t0 + 1_250), ["busy"], "quiet from this look on");
  assert.deepEqual(idle(t0 + 1_349), ["busy"]);
  assert.deepEqual(idle(t0 + 1_350), ["busy", "quiet"]);

  // A closed session is forgotten.
  (busy as unknown as EventEmitter).emit("close");
  assert.deepEqual(idle(t0 + 2_000), ["quiet"]);
  assert.equal(conns.streamsOf(busy), 0);
  assert.equal(conns.stats().inFlight, 0);
});
