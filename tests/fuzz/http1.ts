/**
 * A raw HTTP/1.1 client over `Deno.connect` for the fuzz test: it sends the
 * bytes it is given (any header, any body, chunked or not, garbage), reads
 * the answer with its trailers, and keeps connections alive between
 * requests, so a server that breaks a keep-alive connection is caught.
 *
 * @module
 */
import type { Answer, Result } from "./outcome.ts";
import { concat } from "./wire.ts";

/** A request to send. */
export interface H1Request {
  readonly method: string;
  readonly path: string;
  readonly headers: readonly (readonly [string, string])[];
  readonly body: Uint8Array;
  readonly chunked?: boolean;
}

const encoder = new TextEncoder();
const latin1 = new TextDecoder("latin1");

/** The bytes of a request (Host and Content-Length or chunked framing added). */
export function encodeRequest(req: H1Request): Uint8Array {
  let head = `${req.method} ${req.path} HTTP/1.1\r\nhost: fuzz\r\n`;
  for (const [k, v] of req.headers) head += `${k}: ${v}\r\n`;
  let body = req.body;
  if (req.chunked) {
    head += "transfer-encoding: chunked\r\n\r\n";
    const parts: Uint8Array[] = [];
    for (let at = 0; at < body.length; at += 7000) {
      const piece = body.subarray(at, at + 7000);
      parts.push(encoder.encode(`${piece.length.toString(16)}\r\n`), piece, encoder.encode("\r\n"));
    }
    parts.push(encoder.encode("0\r\n\r\n"));
    body = concat(...parts);
  } else {
    head += `content-length: ${body.length}\r\n\r\n`;
  }
  return concat(encoder.encode(head), body);
}

/** Buffered reads from a connection. */
class Reader {
  #buf = new Uint8Array(64 * 1024);
  #start = 0;
  #end = 0;
  constructor(private readonly conn: Deno.Conn) {}

  /** Reads more; false at end of stream. */
  async #fill(): Promise<boolean> {
    if (this.#start > 0 && this.#start === this.#end) this.#start = this.#end = 0;
    if (this.#end === this.#buf.length) {
      const bigger = new Uint8Array(this.#buf.length * 2);
      bigger.set(this.#buf.subarray(this.#start, this.#end));
      this.#end -= this.#start;
      this.#start = 0;
      this.#buf = bigger;
    }
    const n = await this.conn.read(this.#buf.subarray(this.#end));
    if (n === null) return false;
    this.#end += n;
    return true;
  }

  /** Bytes up to and including `delimiter`; undefined at end of stream. */
  async until(delimiter: string): Promise<Uint8Array | undefined> {
    const d = encoder.encode(delimiter);
    let searched = 0; // bytes after #start known not to begin the delimiter (#fill moves #start)
    for (;;) {
      outer: for (let i = this.#start + searched; i + d.length <= this.#end; i++) {
        for (let j = 0; j < d.length; j++) if (this.#buf[i + j] !== d[j]) continue outer;
        const out = this.#buf.slice(this.#start, i + d.length);
        this.#start = i + d.length;
        return out;
      }
      searched = Math.max(0, this.#end - this.#start - d.length + 1);
      if (!(await this.#fill())) return undefined;
    }
  }

  /** Exactly `n` bytes; undefined if the stream ends first. */
  async exactly(n: number): Promise<Uint8Array | undefined> {
    while (this.#end - this.#start < n) {
      if (!(await this.#fill())) return undefined;
    }
    const out = this.#buf.slice(this.#start, this.#start + n);
    this.#start += n;
    return out;
  }

  /** Everything until the end of stream. */
  async rest(): Promise<Uint8Array> {
    while (await this.#fill()) { /* keep reading */ }
    const out = this.#buf.slice(this.#start, this.#end);
    this.#start = this.#end;
    return out;
  }

  get buffered(): number {
    return this.#end - this.#start;
  }
}

function parseFields(text: string, into: Record<string, string>) {
  for (const line of text.split("\r\n")) {
    const i = line.indexOf(":");
    if (i <= 0) continue;
    const name = line.slice(0, i).trim().toLowerCase();
    const value = line.slice(i + 1).trim();
    into[name] = into[name] === undefined ? value : `${into[name]}, ${value}`;
  }
}

/** Reads one response; throws "closed ..." if the connection ends before it is whole. */
async function readResponse(r: Reader): Promise<{ answer: Answer; keepAlive: boolean }> {
  for (;;) {
    const head = await r.until("\r\n\r\n");
    if (head === undefined) {
      throw new Error(r.buffered ? "closed inside a response head" : "closed before any answer");
    }
    const text = latin1.decode(head);
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
    if (m === null) throw new Error(`not an HTTP response: ${JSON.stringify(text.slice(0, 60))}`);
    const status = Number(m[1]);
    const headers: Record<string, string> = {};
    parseFields(text.slice(text.indexOf("\r\n") + 2), headers);
    if (status >= 100 && status < 200) continue; // 100 Continue
    const trailers: Record<string, string> = {};
    let body: Uint8Array;
    let keepAlive = !/\bclose\b/i.test(headers["connection"] ?? "") &&
      !text.startsWith("HTTP/1.0");
    if (/chunked/i.test(headers["transfer-encoding"] ?? "")) {
      const parts: Uint8Array[] = [];
      for (;;) {
        const sizeLine = await r.until("\r\n");
        if (sizeLine === undefined) throw new Error("closed inside a chunked body");
        const size = parseInt(latin1.decode(sizeLine), 16);
        if (!Number.isFinite(size)) throw new Error("bad chunk size in the answer");
        if (size === 0) {
          // Trailers, then an empty line.
          let t = "";
          for (;;) {
            const line = await r.until("\r\n");
            if (line === undefined) throw new Error("closed inside trailers");
            if (line.length === 2) break;
            t += latin1.decode(line);
          }
          parseFields(t, trailers);
          break;
        }
        const chunk = await r.exactly(size + 2);
        if (chunk === undefined) throw new Error("closed inside a chunk");
        parts.push(chunk.subarray(0, size));
      }
      body = concat(...parts);
    } else if (headers["content-length"] !== undefined) {
      const n = Number(headers["content-length"]);
      const b = await r.exactly(n);
      if (b === undefined) throw new Error("closed inside a body");
      body = b;
    } else if (status === 204 || status === 304) {
      body = new Uint8Array(0);
    } else {
      body = await r.rest();
      keepAlive = false;
    }
    return { answer: { status, headers, trailers, body }, keepAlive };
  }
}

interface Conn {
  readonly conn: Deno.Conn;
  readonly reader: Reader;
}

/** Keep-alive connections to one port; one request at a time per connection. */
export class H1Client {
  readonly #idle: Conn[] = [];
  readonly #open = new Set<Conn>();
  /** Connections the server closed (or broke) while idle. */
  staleRetries = 0;

  constructor(readonly port: number) {}

  /**
   * Sends `req` (or `raw` bytes on a fresh connection) and reads the answer.
   * A keep-alive connection found closed before any answer is retried once
   * on a fresh one (the server may close idle connections).
   */
  async send(req: H1Request | Uint8Array, timeoutMs: number): Promise<Result> {
    const raw = req instanceof Uint8Array;
    const reused = !raw && this.#idle.length > 0;
    const started = performance.now();
    try {
      const result = await this.#sendOn(
        raw ? await this.#connect() : await this.#take(),
        req,
        timeoutMs,
        raw,
      );
      if (reused && result.kind === "closed" && result.detail === "closed before any answer") {
        this.staleRetries++;
        return await this.#sendOn(await this.#connect(), req, timeoutMs, false);
      }
      return result;
    } catch (e) {
      // Connection refused: the server is gone.
      return { kind: "closed", ms: performance.now() - started, detail: (e as Error).message };
    }
  }

  async #sendOn(
    c: Conn,
    req: H1Request | Uint8Array,
    timeoutMs: number,
    raw: boolean,
  ): Promise<Result> {
    const bytes = req instanceof Uint8Array ? req : encodeRequest(req);
    const started = performance.now();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      this.#drop(c);
    }, timeoutMs);
    // Written concurrently with the read: an early answer may come before the body is sent.
    const written = writeAll(c.conn, bytes).catch(() => undefined);
    try {
      const { answer, keepAlive } = await readResponse(c.reader);
      const ms = performance.now() - started;
      if (keepAlive && !raw) {
        await written;
        this.#idle.push(c);
      } else {
        this.#drop(c);
      }
      return { kind: "answer", answer, ms };
    } catch (e) {
      this.#drop(c);
      const ms = performance.now() - started;
      if (timedOut) return { kind: "timeout", ms };
      return { kind: "closed", ms, detail: (e as Error).message };
    } finally {
      clearTimeout(timer);
      await written.catch(() => {});
    }
  }

  async #take(): Promise<Conn> {
    return this.#idle.pop() ?? await this.#connect();
  }

  async #connect(): Promise<Conn> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: this.port });
    const c = { conn, reader: new Reader(conn) };
    this.#open.add(c);
    return c;
  }

  #drop(c: Conn) {
    if (!this.#open.delete(c)) return;
    const i = this.#idle.indexOf(c);
    if (i >= 0) this.#idle.splice(i, 1);
    try {
      c.conn.close();
    } catch { /* already closed */ }
  }

  /** Closes every connection. */
  close(): void {
    for (const c of [...this.#open]) this.#drop(c);
  }
}

/** Writes all of `bytes` (`Deno.Conn.write` may write part of them). */
async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let at = 0;
  while (at < bytes.length) at += await conn.write(bytes.subarray(at));
}
