import assert from "node:assert/strict";
import { Code, ConnectError } from "@connectrpc/connect";
import { envelope, unwrapUnary } from "./grpc_wire.ts";

/** The code `unwrapUnary` throws for `body` (limit 100 bytes), or "ok". */
function codeOf(body: Uint8Array): string {
  try {
    unwrapUnary(body, 100);
    return "ok";
  } catch (e) {
    assert.ok(e instanceof ConnectError);
    return Code[e.code];
  }
}

function framed(flags: number, payload: number[], announced = payload.length): Uint8Array {
  const out = new Uint8Array(5 + payload.length);
  out[0] = flags;
  new DataView(out.buffer).setUint32(1, announced);
  out.set(payload, 5);
  return out;
}

Deno.test("unwrapUnary: one envelope with flags 0 is the message", () => {
  assert.deepEqual(unwrapUnary(envelope(new Uint8Array([8, 1])), 100), new Uint8Array([8, 1]));
  assert.equal(codeOf(framed(0, [])), "ok");
});

Deno.test("unwrapUnary: malformed bodies are INVALID_ARGUMENT", () => {
  for (const flags of [2, 3, 0x7f, 0x80, 0xff]) {
    assert.equal(codeOf(framed(flags, [8, 1])), "InvalidArgument", `flags ${flags}`);
  }
  assert.equal(codeOf(new Uint8Array([0, 0, 0])), "InvalidArgument"); // torn header
  assert.equal(codeOf(framed(0, [8], 2)), "InvalidArgument"); // announces more than sent
  // Bytes after the message that are no envelope: torn, not "an extra message".
  assert.equal(codeOf(new Uint8Array([...framed(0, [8, 1]), 0, 0])), "InvalidArgument");
  assert.equal(
    codeOf(new Uint8Array([...framed(0, [8, 1]), ...framed(0, [1, 2, 3], 9)])),
    "InvalidArgument",
  );
});

Deno.test("unwrapUnary: size, absence, a second message and flags 1 keep their codes", () => {
  // A compressed message without grpc-encoding: INTERNAL, as the protocols (and the conformance suite) say.
  assert.equal(codeOf(framed(1, [8, 1])), "Internal");
  assert.equal(codeOf(framed(0, [], 101)), "ResourceExhausted");
  assert.equal(codeOf(framed(0, [], 2 ** 32 - 1)), "ResourceExhausted");
  assert.equal(codeOf(new Uint8Array(0)), "Unimplemented");
  assert.equal(
    codeOf(new Uint8Array([...framed(0, [8, 1]), ...framed(0, [8, 2])])),
    "Unimplemented",
  );
});
