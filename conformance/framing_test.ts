import assert from "node:assert/strict";
import { frame, MAX_FRAME_BYTES, readFrames } from "./framing.ts";

async function* chunks(...parts: Uint8Array[]): AsyncGenerator<Uint8Array> {
  yield* parts;
}

async function collect(it: AsyncIterable<Uint8Array>): Promise<number[][]> {
  const out: number[][] = [];
  for await (const m of it) out.push([...m]);
  return out;
}

Deno.test("frame prefixes the big-endian length", () => {
  assert.deepEqual([...frame(new Uint8Array([7, 8, 9]))], [0, 0, 0, 3, 7, 8, 9]);
  assert.deepEqual([...frame(new Uint8Array(0))], [0, 0, 0, 0]);
});

Deno.test("readFrames reassembles frames split and joined across chunks", async () => {
  const bytes = new Uint8Array([
    ...frame(new Uint8Array([1, 2])),
    ...frame(new Uint8Array(0)),
    ...frame(new Uint8Array([3])),
  ]);
  // one byte at a time, and all at once
  const single = [...bytes].map((b) => new Uint8Array([b]));
  assert.deepEqual(await collect(readFrames(chunks(...single))), [[1, 2], [], [3]]);
  assert.deepEqual(await collect(readFrames(chunks(bytes))), [[1, 2], [], [3]]);
});

Deno.test("readFrames rejects a truncated stream and an oversized length", async () => {
  await assert.rejects(
    collect(readFrames(chunks(new Uint8Array([0, 0, 0, 5, 1])))),
    /ended inside a frame/,
  );
  const huge = new Uint8Array(4);
  new DataView(huge.buffer).setUint32(0, MAX_FRAME_BYTES + 1);
  await assert.rejects(collect(readFrames(chunks(huge))), RangeError);
});
