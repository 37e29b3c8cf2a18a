import assert from "node:assert/strict";
import { freePort } from "./stack.ts";
import { type LoadSpec, spawnLoad } from "./load_worker.ts";
import type { AckedWrite } from "./load.ts";

/** A spec against a port nobody listens on: every call fails at once with UNAVAILABLE. */
function spec(load: LoadSpec["load"], knownFile: string): LoadSpec {
  return {
    experiment: "test",
    target: { kind: "direct", url: `http://127.0.0.1:${freePort()}`, connections: 2 },
    load,
    firstChannel: "1000",
    seed: 1,
    seqStart: 7,
    timeoutMs: 2000,
    knownFile,
  };
}

Deno.test("load worker: a write burst streams every call and exits by itself", async () => {
  const acks: AckedWrite[] = [];
  const w = spawnLoad(spec({ kind: "write-burst", count: 5 }, "/nonexistent"), (a) => acks.push(a));
  assert.equal(await w.exited, "exit 0");
  assert.equal(w.records.length, 5);
  assert.ok(w.records.every((r) => r.kind === "write" && r.code === "UNAVAILABLE"), "all refused");
  assert.ok(w.records.every((r) => r.end >= r.start && r.start > 1.6e12), "wall-clock stamps");
  assert.deepEqual(acks, []);
});

Deno.test("load worker: a mixed load runs until SIGTERM, then ends cleanly", async () => {
  const w = spawnLoad(
    spec({ kind: "mixed", concurrency: 2, writeRatio: 1, channels: 10 }, "/nonexistent"),
    () => {},
  );
  await w.ready;
  const deadline = Date.now() + 20_000;
  while (w.records.length < 4) {
    assert.ok(Date.now() < deadline, `the worker streamed ${w.records.length} calls in 20 s`);
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal(await w.stop(), "exit 0");
  assert.ok(w.records.every((r) => r.code === "UNAVAILABLE"));
});
