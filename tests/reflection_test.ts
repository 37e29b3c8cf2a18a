/**
 * gRPC server reflection with the real tools: `grpcurl` (Go, installed by
 * .ci/run: `go install github.com/fullstorydev/grpcurl/cmd/grpcurl@v1.9.4`)
 * lists and describes the services of an instance and calls one, and
 * `buf curl` calls them without `--schema`, over gRPC on the main port and
 * over Connect on the fast listener. The instance runs over a MemoryStore
 * (what is tested is the schema, not the data).
 */
import assert from "node:assert/strict";
import { findGoInstalled } from "../conformance/tools.ts";
import { startMemoryInstance } from "../server/_memory_instance.ts";

const ROOT = new URL("..", import.meta.url);
const BUF = "npm:@bufbuild/buf@1.75.0";
const GRPCURL_INSTALL = "go install github.com/fullstorydev/grpcurl/cmd/grpcurl@v1.9.4";
/** Each tool run must end within this (buf's first run compiles nothing, it is a binary). */
const RUN_TIMEOUT_MS = 60_000;

interface Ran {
  code: number;
  out: string;
  err: string;
}

/** Runs `cmd args`, killing it after {@linkcode RUN_TIMEOUT_MS}. */
async function run(cmd: string, args: string[]): Promise<Ran> {
  const what = `${cmd.split("/").at(-1)} ${args.join(" ")}`;
  const signal = AbortSignal.timeout(RUN_TIMEOUT_MS);
  const r = await new Deno.Command(cmd, { args, cwd: ROOT, stdin: "null", signal }).output();
  if (signal.aborted) throw new Error(`${what} did not finish within ${RUN_TIMEOUT_MS} ms`);
  const d = new TextDecoder();
  return { code: r.code, out: d.decode(r.stdout), err: d.decode(r.stderr) };
}

/** Runs `cmd args` and expects exit code 0. */
async function ok(cmd: string, args: string[]): Promise<string> {
  const r = await run(cmd, args);
  assert.equal(r.code, 0, `${args.join(" ")} exited ${r.code}: ${r.err}${r.out}`);
  return r.out;
}

const bufCurl = (args: string[]) => ok(Deno.execPath(), ["run", "-A", BUF, "curl", ...args]);

Deno.test("reflection: grpcurl list/describe/call and buf curl without a schema", async () => {
  const grpcurl = await findGoInstalled("grpcurl");
  assert.ok(grpcurl, `grpcurl not found: ${GRPCURL_INSTALL}`);
  const svc = await startMemoryInstance();
  const main = new URL(svc.url).host;
  try {
    const list = await ok(grpcurl, ["-plaintext", main, "list"]);
    assert.deepEqual(list.trim().split("\n"), [
      "dataservices.v1.MessagesService",
      "grpc.health.v1.Health",
      "grpc.reflection.v1.ServerReflection",
      "grpc.reflection.v1alpha.ServerReflection",
      "messages.MessagesService",
    ]);

    const described = await ok(grpcurl, [
      "-plaintext",
      main,
      "describe",
      "dataservices.v1.MessagesService",
    ]);
    assert.match(described, /^dataservices\.v1\.MessagesService is a service:/);
    assert.match(
      described,
      /rpc GetMessage \( \.dataservices\.v1\.GetMessageRequest \) returns \( \.dataservices\.v1\.GetMessageResponse \)/,
    );
    // The validation rules travel with the schema.
    const request = await ok(grpcurl, [
      "-plaintext",
      main,
      "describe",
      "dataservices.v1.GetMessagesRequest",
    ]);
    assert.match(
      request,
      /int32 limit = 4 \[\s*\(\.buf\.validate\.field\) = \{ int32: \{ lte: 100, gte: 0 \} \}/,
    );

    // An invalid call: grpcurl decodes the violations detail with the reflected schema.
    const invalid = await run(grpcurl, [
      "-plaintext",
      "-d",
      '{"channel_id": 0, "message_id": 1}',
      main,
      "dataservices.v1.MessagesService/GetMessage",
    ]);
    assert.notEqual(invalid.code, 0);
    assert.match(invalid.err, /Code: InvalidArgument/);
    assert.match(invalid.err, /"@type": "type\.googleapis\.com\/buf\.validate\.Violations"/);
    assert.match(invalid.err, /"fieldName": "channel_id"/);

    // buf curl without --schema: reflection over gRPC (main port), then the call.
    const created = JSON.parse(
      await bufCurl([
        "--protocol",
        "grpc",
        "--http2-prior-knowledge",
        "-d",
        '{"channel_id": 1, "author_id": 2, "content": "hello"}',
        `${svc.url}/dataservices.v1.MessagesService/CreateMessage`,
      ]),
    );
    assert.equal(created.message.content, "hello");
    const id = created.message.messageId;
    for (
      const [protocol, base, extra] of [
        ["grpc", svc.url, ["--reflect-protocol", "grpc-v1alpha"]],
        ["connect", svc.fastUrl!, []],
      ] as const
    ) {
      const got = JSON.parse(
        await bufCurl([
          "--protocol",
          protocol,
          "--http2-prior-knowledge",
          ...extra,
          "-d",
          JSON.stringify({ channel_id: 1, message_id: id }),
          `${base}/dataservices.v1.MessagesService/GetMessage`,
        ]),
      );
      assert.deepEqual(got.message, created.message, `${protocol} ${base}`);
    }
  } finally {
    await svc.close(1000);
  }
});
