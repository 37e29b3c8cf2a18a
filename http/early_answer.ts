/**
 * Answers that come before the request has been read to its end (an error
 * for an oversized body, a shed call), and what the connection needs then so
 * that the client's next request, or the rest of its stream, is not stuck
 * behind the unread bytes.
 *
 * @module
 */
import type * as http from "node:http";
import * as http2 from "node:http2";
import type * as net from "node:net";
import type { Buffer } from "node:buffer";
import type { NodeResponse } from "./one_port.ts";

/** How long a connection closed after an answer lingers, for the client to read the answer. */
const CLOSE_LINGER_MS = 1000;

/**
 * HTTP/1.x: once the response is sent, reads and drops what the handler left
 * unread of the request body, so the next request on the keep-alive
 * connection can be parsed: at most `maxBytes` (then the connection is
 * closed) unless the handler destroyed the request (connect-node does when a
 * streaming call fails before the client finished sending), whose rest is
 * then dropped by the parser, bounded only by the request timeout.
 *
 * Node's server does the equivalent itself (`req._dump()` when the response
 * finishes; a destroyed incomplete request destroys its socket), but Deno
 * 2.9's `node:http` does neither here: `parserOnBody` marks any request that
 * received body bytes as `_consuming`, which skips the dump, and the request
 * has already let go of its socket when connect-node destroys it. A handler
 * that answers early — connect-node refusing a message over `readMaxBytes`,
 * which it sees in the length before reading it — thus left the body
 * unread, the socket paused behind it, and the keep-alive connection dead:
 * the client's next request on it was never parsed (a hang, then a reset).
 */
export function drainWhenAnswered(req: http.IncomingMessage, res: NodeResponse, maxBytes: number) {
  const socket = req.socket;
  res.once("finish", () => {
    if (req.complete) return;
    if (req.destroyed) {
      // The parser drops the body of a dumped request instead of pausing the
      // socket behind it; resume the socket it paused.
      (req as { _dump?: () => void })._dump?.();
      socket.resume();
      return;
    }
    let dropped = 0;
    req.on("data", (chunk: Buffer) => {
      dropped += chunk.length;
      if (dropped > maxBytes && !socket.writableEnded) closeAfterAnswer(socket);
    });
    req.resume();
  });
}

/**
 * Ends a connection whose last response was sent: FIN now, destroyed after
 * {@linkcode CLOSE_LINGER_MS} (a close with unread input resets the
 * connection, which can lose the answer before the client reads it).
 */
function closeAfterAnswer(socket: net.Socket) {
  if (socket.destroyed) return;
  socket.end();
  const linger = setTimeout(() => socket.destroy(), CLOSE_LINGER_MS);
  socket.once("close", () => clearTimeout(linger));
}

/**
 * HTTP/2: once the response (trailers included) is out while the client is
 * still sending, resets the stream with NO_ERROR, as RFC 9113 §8.1 allows
 * and gRPC servers do: the client stops sending and its call ends with the
 * answer it got.
 *
 * Without it (Node and Deno's `node:http2` only do this for streams nobody
 * read from), a client whose request is blocked on flow control — say the
 * rest of a client-stream message over `readMaxBytes`, which connect-node
 * refuses from its length without reading it — waits forever, and the
 * stream stays open on the server. The reset waits one macrotask after the
 * stream's "finish": Deno submits the trailers in a `setImmediate`, and a
 * reset before them would reach the client first.
 */
export function resetWhenAnswered(stream: http2.ServerHttp2Stream) {
  stream.once("finish", () => {
    // The usual case: the client is done sending (`readableEnded` is cheap, `state` is not).
    if (stream.readableEnded || stream.state.remoteClose === 1) return;
    setImmediate(() => {
      if (stream.closed || stream.destroyed || stream.state.remoteClose === 1) return;
      stream.close(http2.constants.NGHTTP2_NO_ERROR);
    });
  });
}

/** Ends `res` with an empty response of `status` (just ends it if headers went out). */
export function answer(res: NodeResponse, status: number) {
  // Through one member of the union: with @types/node 26 in the program
  // (pulled in by other packages' types) the union's methods are not callable.
  const r = res as http.ServerResponse;
  if (!r.headersSent) r.writeHead(status);
  r.end();
}
