// deno bench http/validation_bench.ts: what request validation adds to a call
// (the fast path's hook; the connect-es interceptor runs the same validator).
import { create } from "@bufbuild/protobuf";
import {
  CreateMessageRequestSchema,
  GetMessageRequestSchema,
  GetMessagesRequestSchema,
  GetStatsRequestSchema,
  MessagesService,
} from "../gen/dataservices/v1/messages_pb.ts";
import {
  MessageRequestSchema,
  MessagesService as CompatService,
} from "../gen/messages/messages_pb.ts";
import { requestValidation } from "./validation.ts";

const { validate } = requestValidation();
const m = MessagesService.method;
const cases = [
  [
    "GetMessage (2 int64 rules)",
    m.getMessage,
    create(GetMessageRequestSchema, { channelId: 7n, messageId: 123456789n }),
  ],
  [
    "GetMessages (4 field rules + 1 CEL rule)",
    m.getMessages,
    create(GetMessagesRequestSchema, { channelId: 7n, before: 900n, after: 5n, limit: 20 }),
  ],
  [
    "CreateMessage (string rules + 1 CEL regex)",
    m.createMessage,
    create(CreateMessageRequestSchema, {
      channelId: 7n,
      authorId: 1n,
      content: "hello, how are you today?",
    }),
  ],
  ["GetStats (no rules)", m.getStats, create(GetStatsRequestSchema)],
  [
    "compat getMessage (no rules)",
    CompatService.method.getMessage,
    create(MessageRequestSchema, { channelId: 7n, messageId: 1n }),
  ],
] as const;
for (const [name, method, message] of cases) {
  Deno.bench(name, { baseline: method === m.getMessage }, () => {
    if (validate(method, message) !== undefined) throw new Error(`${name}: invalid`);
  });
}
const invalid = create(GetMessageRequestSchema, { channelId: 0n, messageId: 1n });
Deno.bench("GetMessage, invalid (builds the error and its detail)", () => {
  if (validate(m.getMessage, invalid) === undefined) throw new Error("valid?");
});
