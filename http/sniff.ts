/**
 * One cleartext port, two protocols: reads a new connection's first bytes
 * and hands it to the HTTP/2 server if they are the HTTP/2 client preface
 * (prior knowledge, h2c), else to the HTTP/1.x server.
 *
 * @module
 */
import type * as http from "node:http";
import type * as http2 from "node:http2";
import type * as net from "node:net";
import { Buffer } from "node:buffer";

// "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n": no HTTP/1.x method starts with "PRI", so
// three matching bytes decide HTTP/2 (POST, PUT and PATCH also start with "P").
const H2_PREFACE = new TextEncoder().encode("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
const H2_DECIDING_BYTES = 3;

/** Options of {@linkcode sniff}. */
export interface SniffOptions {
  /** The connection is destroyed if its first bytes do not come within this time (0: no bound). */
  readonly timeoutMs: number;
  /** Gets HTTP/1.x connections (through its "connection" event). */
  readonly http1: http.Server;
  /** Gets HTTP/2 connections (through its "connection" event). */
  readonly http2: http2.Http2Server;
  /** A handover that threw (the socket is destroyed). */
  readonly onError: (error: Error) => void;
  /** Sniffing is over: handed over, or the socket closed first. */
  readonly onDone: () => void;
}

/** Reads until the protocol is known, then hands the socket over. */
export function sniff(socket: net.Socket, o: SniffOptions): void {
  socket.setNoDelay(true);
  const chunks: Buffer[] = [];
  let length = 0;
  const timer = o.timeoutMs > 0 ? setTimeout(() => socket.destroy(), o.timeoutMs) : undefined;
  const stop = () => {
    clearTimeout(timer);
    socket.off("data", onData);
    socket.off("close", stop);
    o.onDone();
  };
  const onData = (chunk: Buffer) => {
    chunks.push(chunk);
    length += chunk.length;
    let h2: boolean | undefined;
    const data = chunks.length === 1 ? chunk : Buffer.concat(chunks);
    const n = Math.min(data.length, H2_PREFACE.length);
    for (let i = 0; i < n; i++) {
      if (data[i] !== H2_PREFACE[i]) {
        h2 = false;
        break;
      }
    }
    if (h2 === undefined) {
      if (length < H2_DECIDING_BYTES) return; // a lone "P" may still be POST
      h2 = true;
    }
    stop();
    try {
      if (h2) {
        // The HTTP/2 session reads already-buffered bytes first (Deno:
        // it resumes the socket itself; Node: it read()s them on the next
        // tick — resuming here would hand them to no one).
        socket.pause();
        socket.unshift(data);
        o.http2.emit("connection", socket);
      } else {
        // Not unshift(): Deno's HTTP/1 parser takes over the TCP handle's
        // reads natively, and bytes arriving next (e.g. the "0\r\n\r\n"
        // of a chunked body) could reach it before the unshifted ones
        // (seen under load as HPE_INVALID_CHUNK_SIZE / 400). Handing the
        // sniffed bytes over synchronously, before any further read can
        // run, keeps the order.
        o.http1.emit("connection", socket);
        socket.emit("data", data);
      }
    } catch (err) {
      o.onError(err as Error);
      socket.destroy();
    }
  };
  socket.on("data", onData);
  socket.once("close", stop);
}
