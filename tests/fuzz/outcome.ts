/**
 * Reading an answer as its protocol means it (Connect's JSON error, gRPC's
 * status trailer, gRPC-web's trailer frame, a Connect stream's end message)
 * and judging it by the general rules and the case's expectation.
 *
 * @module
 */
import type { FuzzCase } from "./cases.ts";

/** A complete HTTP answer. */
export interface Answer {
  readonly status: number;
  /** Lower-case names; repeated fields joined with ", ". */
  readonly headers: Readonly<Record<string, string>>;
  readonly trailers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
}

/** What came back for one request. */
export type Result =
  | { readonly kind: "answer"; readonly answer: Answer; readonly ms: number }
  /** The connection or stream ended without a complete answer. */
  | { readonly kind: "closed"; readonly ms: number; readonly detail: string }
  /** Nothing complete within the hard timeout. */
  | { readonly kind: "timeout"; readonly ms: number }
  /** The client library refused to send the request (not the server's doing). */
  | { readonly kind: "unsendable"; readonly ms: number; readonly detail: string };

/** Connect code names by gRPC number. */
const CODE_NAMES = [
  "ok",
  "canceled",
  "unknown",
  "invalid_argument",
  "deadline_exceeded",
  "not_found",
  "already_exists",
  "permission_denied",
  "resource_exhausted",
  "failed_precondition",
  "aborted",
  "out_of_range",
  "unimplemented",
  "internal",
  "unavailable",
  "data_loss",
  "unauthenticated",
];

/** Codes that are never right for a client's mistake (nor for anything the fuzz sends). */
const FORBIDDEN = new Set(["internal", "unknown", "data_loss", "no-status", "unavailable"]);

/** No answer may take longer (ms). */
export const SLOW_MS = 1000;

const decoder = new TextDecoder();

/** The code an answer carries, read as the case's protocol ("ok", "invalid_argument", "http:415", ...). */
export function codeOf(c: FuzzCase, result: Result): string {
  if (result.kind !== "answer") return result.kind;
  const a = result.answer;
  switch (c.protocol) {
    case "http":
      return `http:${a.status}`;
    case "connect-proto":
    case "connect-json":
    case "connect-get":
      return a.status === 200 ? "ok" : jsonCode(a.body) ?? `http:${a.status}`;
    case "grpc":
      if (a.status !== 200) return `http:${a.status}`;
      return grpcCode(a.trailers["grpc-status"] ?? a.headers["grpc-status"]);
    case "grpc-web": {
      if (a.status !== 200) return `http:${a.status}`;
      if (a.headers["grpc-status"] !== undefined) return grpcCode(a.headers["grpc-status"]);
      const trailer = frames(a.body).find((f) => (f.flags & 0x80) !== 0);
      if (trailer === undefined) return "no-status";
      const m = /(?:^|\r\n)grpc-status:\s*(\d+)/i.exec(decoder.decode(trailer.data));
      return grpcCode(m?.[1]);
    }
    case "connect-stream": {
      if (a.status !== 200) return jsonCode(a.body) ?? `http:${a.status}`;
      const end = frames(a.body).find((f) => (f.flags & 0x02) !== 0);
      if (end === undefined) return "no-status";
      try {
        const e = JSON.parse(decoder.decode(end.data)) as { error?: { code?: string } };
        return e.error?.code ?? "ok";
      } catch {
        return "no-status";
      }
    }
  }
}

/**
 * Why the answer breaks the rules, or undefined when it is right: never a
 * forbidden code or an HTTP 5xx without a Connect code, never a hang or a
 * drop (except for garbage below HTTP), never slower than {@linkcode SLOW_MS},
 * and one of the case's expected codes when it has them.
 */
export function verdict(c: FuzzCase, code: string, ms: number): string | undefined {
  if (code === "unsendable") return undefined;
  if (code === "timeout") return "no answer (hang)";
  if (ms > SLOW_MS) return `answered after ${Math.round(ms)} ms`;
  // A case may expect a code the general rules forbid, where a protocol requires it.
  if (FORBIDDEN.has(code) && !c.expect?.includes(code)) return `forbidden code ${code}`;
  if (/^http:5/.test(code)) return `HTTP ${code.slice(5)}`;
  const garbage = c.raw !== undefined;
  if (code === "closed" && !garbage && !c.expect?.includes("closed")) {
    return "connection closed without an answer";
  }
  if (garbage) {
    return code === "closed" || /^http:4/.test(code) ? undefined : `garbage answered ${code}`;
  }
  if (c.expect !== undefined && !c.expect.includes(code)) {
    return `got ${code}, expected ${c.expect.join(" or ")}`;
  }
  return undefined;
}

function jsonCode(body: Uint8Array): string | undefined {
  try {
    const j = JSON.parse(decoder.decode(body)) as { code?: unknown };
    return typeof j.code === "string" ? j.code : undefined;
  } catch {
    return undefined;
  }
}

function grpcCode(value: string | undefined): string {
  if (value === undefined) return "no-status";
  const n = Number(value);
  return CODE_NAMES[n] ?? `grpc-status:${value}`;
}

/** The envelopes of a body (a torn last one is dropped). */
function frames(body: Uint8Array): { flags: number; data: Uint8Array }[] {
  const out: { flags: number; data: Uint8Array }[] = [];
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  let at = 0;
  while (at + 5 <= body.length) {
    const n = view.getUint32(at + 1);
    if (at + 5 + n > body.length) break;
    out.push({ flags: body[at], data: body.subarray(at + 5, at + 5 + n) });
    at += 5 + n;
  }
  return out;
}
