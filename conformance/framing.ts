/**
 * The runner's framing on stdin and stdout: every message is a big-endian
 * 32-bit length followed by that many bytes of binary protobuf.
 *
 * @module
 */

/** Largest frame accepted from the runner (a compat request is a few hundred KiB at most). */
export const MAX_FRAME_BYTES = 64 * 1024 * 1024;

/** `message` with its 4-byte big-endian length prefix. */
export function frame(message: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + message.byteLength);
  new DataView(out.buffer).setUint32(0, message.byteLength);
  out.set(message, 4);
  return out;
}

/**
 * Splits a byte stream into frames. Ends at the end of the stream.
 *
 * @throws {RangeError} when a frame announces more than {@linkcode MAX_FRAME_BYTES}.
 * @throws {Error} when the stream ends inside a frame.
 */
export async function* readFrames(
  chunks: AsyncIterable<Uint8Array>,
): AsyncGenerator<Uint8Array> {
  let buffer: Uint8Array = new Uint8Array(0);
  for await (const chunk of chunks) {
    if (buffer.byteLength === 0) {
      buffer = chunk;
    } else {
      const joined = new Uint8Array(buffer.byteLength + chunk.byteLength);
      joined.set(buffer);
      joined.set(chunk, buffer.byteLength);
      buffer = joined;
    }
    while (buffer.byteLength >= 4) {
      const size = new DataView(buffer.buffer, buffer.byteOffset, 4).getUint32(0);
      if (size > MAX_FRAME_BYTES) {
        throw new RangeError(`frame of ${size} bytes exceeds ${MAX_FRAME_BYTES}`);
      }
      if (buffer.byteLength < 4 + size) break;
      yield buffer.slice(4, 4 + size);
      buffer = buffer.subarray(4 + size);
    }
  }
  if (buffer.byteLength > 0) {
    throw new Error(`stream ended inside a frame (${buffer.byteLength} bytes left)`);
  }
}
