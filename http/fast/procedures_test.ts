import assert from "node:assert/strict";
import { Code, ConnectError } from "@connectrpc/connect";
import { MessagesService } from "../../gen/dataservices/v1/messages_pb.ts";
import { ProcedureTable } from "./procedures.ts";

const table = new ProcedureTable().add(MessagesService, {
  getMessage: () => ({}),
});
const proc = table.get("/dataservices.v1.MessagesService/GetMessage")!;
const json = (s: string) => proc.decode(new TextEncoder().encode(s), false);

function decodeCode(fn: () => unknown): string {
  try {
    fn();
    return "ok";
  } catch (e) {
    assert.ok(e instanceof ConnectError, String(e));
    return Code[e.code];
  }
}

Deno.test("ProcedureTable decode: JSON ids are decimal strings or safe integers, nothing else", () => {
  assert.deepEqual(
    { ...json('{"channelId":"16","messageId":7}') },
    { ...json('{"channel_id":16,"message_id":"7"}') },
  );
  // protobuf-es alone reads these as 16, 1, 1 and 9007199254740992.
  for (const id of ['"0x10"', '" 1"', '"1 "', "9007199254740993"]) {
    assert.equal(
      decodeCode(() => json(`{"channelId":${id},"messageId":"1"}`)),
      "InvalidArgument",
      id,
    );
  }
});

Deno.test("ProcedureTable decode: malformed binary and JSON are INVALID_ARGUMENT", () => {
  assert.equal(
    decodeCode(() => proc.decode(new Uint8Array([0x08, ...Array(11).fill(0xff)]), true)),
    "InvalidArgument",
  );
  assert.equal(decodeCode(() => json("{not json")), "InvalidArgument");
  assert.equal(
    decodeCode(() => proc.decode(new Uint8Array([0xff, 0xfe]), false)),
    "InvalidArgument",
  );
});
