import assert from "node:assert/strict";
import cassandra from "cassandra-driver";
import { Code, ConnectError } from "@connectrpc/connect";
import { codeOfDriverError, toConnectError } from "./errors.ts";

const { errors, types } = cassandra;

Deno.test("driver errors map to Connect codes", () => {
  const rc = types.responseErrorCodes;
  const cases: [unknown, Code][] = [
    [
      new errors.NoHostAvailableError({ "h:9042": new Error("connect ECONNREFUSED") }),
      Code.Unavailable,
    ],
    [
      new errors.NoHostAvailableError({ "h:9042": new errors.OperationTimedOutError("t") }),
      Code.DeadlineExceeded,
    ],
    [new errors.OperationTimedOutError("slow"), Code.DeadlineExceeded],
    [
      new errors.ResponseError(rc.unavailableException, "Cannot achieve consistency"),
      Code.Unavailable,
    ],
    [new errors.ResponseError(rc.readTimeout, "timeout"), Code.Unavailable],
    [new errors.ResponseError(rc.overloaded, "overloaded"), Code.Unavailable],
    [new errors.ResponseError(rc.syntaxError, "bad"), Code.Internal],
    [new errors.BusyConnectionError("h", 2048, 1), Code.ResourceExhausted],
    // "All connections ... busy, 2048 requests in-flight": the driver's back-pressure, not a lost
    // database (it used to surface as UNAVAILABLE).
    [
      new errors.NoHostAvailableError({
        "a:9042": new errors.BusyConnectionError("a", 2048, 1),
        "b:9042": new errors.BusyConnectionError("b", 2048, 1),
      }),
      Code.ResourceExhausted,
    ],
    [
      new errors.NoHostAvailableError({
        "a:9042": new errors.BusyConnectionError("a", 2048, 1),
        "b:9042": new Error("connect ECONNREFUSED"),
      }),
      Code.Unavailable,
    ],
    [new Error("boom"), Code.Internal],
  ];
  for (const [err, code] of cases) assert.equal(codeOfDriverError(err), code, String(err));
});

Deno.test("messages are one line and name each host", () => {
  const inner = new Error("connect ECONNREFUSED 127.0.0.1:9042\n    at stack");
  const ce = toConnectError(new errors.NoHostAvailableError({ "127.0.0.1:9042": inner }));
  assert.equal(ce.code, Code.Unavailable);
  assert.equal(
    ce.rawMessage,
    "Cassandra query failed: no Cassandra host answered (127.0.0.1:9042: connect ECONNREFUSED 127.0.0.1:9042)",
  );
  const same = new ConnectError("x", Code.NotFound);
  assert.equal(toConnectError(same), same);
});
