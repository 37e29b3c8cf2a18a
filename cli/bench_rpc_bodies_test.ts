import assert from "node:assert/strict";
import { bodyFile } from "./bench_rpc_bodies.ts";

Deno.test("bodyFile writes the protocol's body for h2load, none for GET", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bench-rpc-test-" });
  try {
    const grpc = await bodyFile(dir, "grpc");
    assert.deepEqual([...await Deno.readFile(grpc!)], [0, 0, 0, 0, 5, 8, 1, 16, 232, 7]);
    assert.equal(await bodyFile(dir, "connect-get"), undefined);
    assert.equal(
      await Deno.readTextFile((await bodyFile(dir, "connect-json"))!),
      '{"channelId":"1","messageId":"1000"}',
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
