import assert from "node:assert/strict";
import { GetMessagesRequestSchema } from "../../gen/dataservices/v1/messages_pb.ts";
import { jsonIntegerProblem } from "./json_integers.ts";

const problem = (json: string) => jsonIntegerProblem(GetMessagesRequestSchema, JSON.parse(json));

Deno.test("jsonIntegerProblem: decimal strings and safe integers pass, in either field name", () => {
  for (
    const ok of [
      '{"channelId":"16"}',
      '{"channel_id":"-3"}',
      '{"channelId":16}',
      '{"channelId":1e3}',
      '{"channelId":7.0}',
      '{"channelId":"9223372036854775807"}',
      '{"channelId":9007199254740991}',
      '{"channelId":null,"limit":5}',
      '{"limit":"50","before":"0"}',
      '{"unknownField":"0x10"}',
      '{"channelId":{}}', // not an integer at all: protobuf-es says so
    ]
  ) assert.equal(problem(ok), undefined, ok);
});

Deno.test("jsonIntegerProblem: hex, spaces, signs, exponents and rounded numbers are refused", () => {
  for (
    const bad of [
      '{"channelId":"0x10"}',
      '{"channelId":" 1"}',
      '{"channelId":"1 "}',
      '{"channelId":"+1"}',
      '{"channelId":"01"}',
      '{"channelId":"1e3"}',
      '{"channelId":""}',
      '{"channelId":"0b1"}',
      '{"channel_id":"0o7"}',
      '{"before":9007199254740993}',
      '{"after":-9007199254740992}',
      '{"channelId":1e300}',
      '{"channelId":1.5}',
      '{"limit":"0x10"}',
      '{"limit":"1e1"}',
      '{"limit":2.5}',
    ]
  ) assert.match(problem(bad) ?? "no problem found", /dataservices\.v1\.GetMessagesRequest\./, bad);
  assert.match(problem('{"channelId":"0x10"}')!, /channel_id: "0x10" is not a decimal integer/);
  assert.match(problem('{"channelId":9007199254740993}')!, /past 2\^53/);
});
