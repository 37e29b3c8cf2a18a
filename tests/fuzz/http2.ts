/**
 * An h2c client for the fuzz test on `node:http2`: one session per port for
 * a batch of requests, each request a stream with the case's headers and
 * raw body; closed gracefully once its streams are done (Deno 2.9.6's
 * node:http2 client can abort the process when a GOAWAY meets open streams).
 *
 * @module
 */
import http2 from "node:http2";
import type { Buffer } from "node:buffer";
import type { Result } from "./outcome.ts";
import { concat } from "./wire.ts";

/** A request to send. */
export interface H2Request {
  readonly method: string;
  readonly path: string;
  readonly headers: readonly (readonly [string, string])[];
  readonly body: Uint8Array;
  /** Leave the request side open after the body (a client that stalls). Default false. */
  readonly stall?: boolean;
}

/** One HTTP/2 session to one port, reopened when the server ends it. */
export class H2Client {
  #session: http2.ClientHttp2Session | undefined;
  #streams = 0;
  /** Sessions that ended with an error (reported by the runner). */
  readonly sessionErrors: string[] = [];

  constructor(readonly url: string) {}

  #get(): http2.ClientHttp2Session {
    const s = this.#session;
    if (s !== undefined && !s.closed && !s.destroyed) return s;
    const session = http2.connect(this.url);
    session.on("error", (e: Error) => this.sessionErrors.push(e.message));
    session.on("goaway", () => {
      if (this.#session === session) this.#session = undefined;
    });
    session.once("close", () => {
      if (this.#session === session) this.#session = undefined;
    });
    this.#session = session;
    return session;
  }

  /** Sends one request as a stream and collects the whole answer. */
  send(req: H2Request, timeoutMs: number): Promise<Result> {
    const started = performance.now();
    const headers: http2.OutgoingHttpHeaders = { ":method": req.method, ":path": req.path };
    for (const [k, v] of req.headers) {
      const prev = headers[k];
      headers[k] = prev === undefined ? v : [...[prev].flat().map(String), v];
    }
    let stream: http2.ClientHttp2Stream;
    try {
      stream = this.#get().request(headers, {
        endStream: req.body.length === 0 && req.method === "GET",
      });
    } catch (e) {
      return Promise.resolve({
        kind: "unsendable",
        ms: performance.now() - started,
        detail: (e as Error).message,
      });
    }
    this.#streams++;
    return new Promise<Result>((resolve) => {
      let status = 0;
      let head: Record<string, string> = {};
      let trailers: Record<string, string> = {};
      const chunks: Uint8Array[] = [];
      let ended = false;
      let settled = false;
      const finish = (result: Result) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.#streams--;
        resolve(result);
      };
      const timer = setTimeout(() => {
        finish({ kind: "timeout", ms: performance.now() - started });
        stream.close(http2.constants.NGHTTP2_CANCEL);
      }, timeoutMs);
      stream.on("response", (h) => {
        status = Number(h[":status"]);
        head = flatten(h);
      });
      stream.on("trailers", (t) => trailers = flatten(t));
      stream.on("data", (c: Buffer) => chunks.push(new Uint8Array(c)));
      stream.on("end", () => {
        ended = true;
        // The answer is whole; a request side the client left open is not waited for.
        if (req.stall && status !== 0) {
          finish({
            kind: "answer",
            answer: { status, headers: head, trailers, body: concat(...chunks) },
            ms: performance.now() - started,
          });
          stream.close(http2.constants.NGHTTP2_CANCEL);
        }
      });
      stream.on("error", () => {});
      stream.on("close", () => {
        const ms = performance.now() - started;
        // An answer is whole when the server ended its side (a reset with
        // NO_ERROR after it, for a body the server did not read, is fine).
        if (status !== 0 && ended) {
          finish({
            kind: "answer",
            answer: { status, headers: head, trailers, body: concat(...chunks) },
            ms,
          });
        } else {
          finish({
            kind: "closed",
            ms,
            detail: `stream closed (rst ${stream.rstCode}) ${
              status ? "inside" : "before"
            } an answer`,
          });
        }
      });
      if (req.method === "GET" && req.body.length === 0) return;
      if (req.stall) stream.write(req.body);
      else stream.end(req.body);
    });
  }

  /** Ends the session once its streams are done (or at once if none). */
  async close(): Promise<void> {
    const s = this.#session;
    this.#session = undefined;
    if (s === undefined || s.destroyed) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        s.destroy();
        resolve();
      }, 3000);
      s.close(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }
}

function flatten(h: http2.IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) {
    if (v !== undefined) out[k] = Array.isArray(v) ? v.join(", ") : String(v);
  }
  return out;
}
