/**
 * Byte-level builders for the fuzz cases: gRPC envelopes with any flags and
 * any announced length, protobuf tags and varints (including broken ones),
 * base64, and compression.
 *
 * @module
 */
import { brotliCompressSync, gzipSync } from "node:zlib";

/** One envelope: `flags`, the announced length (default: the real one), the payload. */
export function envelope(
  flags: number,
  payload: Uint8Array,
  announced = payload.length,
): Uint8Array {
  const out = new Uint8Array(5 + payload.length);
  out[0] = flags;
  new DataView(out.buffer).setUint32(1, announced >>> 0);
  out.set(payload, 5);
  return out;
}

/** Concatenates byte strings. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A protobuf varint of a non-negative integer below 2^53. */
export function varint(value: number): Uint8Array {
  const out: number[] = [];
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return new Uint8Array(out);
}

/** A field tag: `(field << 3) | wireType`. */
export function tag(field: number, wireType: number): Uint8Array {
  return varint(field * 8 + wireType);
}

/** An 11-byte varint: longer than the 10 bytes protobuf allows. */
export const OVERLONG_VARINT: Uint8Array = new Uint8Array([...Array(10).fill(0xff), 0x01]);

const encoder = new TextEncoder();

/** UTF-8 bytes of a string. */
export function utf8(s: string): Uint8Array {
  return encoder.encode(s);
}

/** Standard base64 (with padding). */
export function base64(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

/** base64url without padding, as Connect GET requests carry messages. */
export function base64url(bytes: Uint8Array): string {
  return base64(bytes).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** gzip or brotli of `bytes`. */
export function compress(encoding: "gzip" | "br", bytes: Uint8Array): Uint8Array {
  const out = encoding === "gzip" ? gzipSync(bytes) : brotliCompressSync(bytes);
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}
