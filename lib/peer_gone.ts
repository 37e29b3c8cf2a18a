/**
 * Keeps a connection or stream its peer already closed from ending the process.
 *
 * Deno 2.9.6's `node:net` reports a failed read or write on a closed
 * connection (`EPIPE`, `ECONNRESET`) as an `error` event of the socket's
 * stream, and `node:http2` reports a stream its client reset
 * (`ERR_HTTP2_STREAM_ERROR`, "Stream closed with error code
 * NGHTTP2_INTERNAL_ERROR") as an `error` event of that stream. On a socket or
 * stream that `node:http`/`node:http2` made inside, with no listener, such an
 * event becomes an uncaught exception and the process exits (seen under
 * `deno task start` while load clients closed their connections, `Uncaught
 * Error: write EPIPE at WriteWrap.onWriteComplete`, and in the fault suite's
 * write overload, `ServerHttp2Stream._destroy`). The connection or stream is
 * gone either way, and its requests with it; the instance's others are not.
 * {@linkcode guardPeerGone} turns exactly those errors into a log line and
 * lets every other uncaught error end the process as before.
 *
 * @module
 */
import { type Logger, LogThrottle } from "./log.ts";

/** The error codes of a peer that closed its connection or reset its stream. */
const PEER_GONE_CODES: ReadonlySet<string> = new Set([
  "EPIPE",
  "ECONNRESET",
  "ERR_HTTP2_STREAM_ERROR",
]);

/** Whether `error` says the peer closed the connection or reset the stream. */
export function isPeerGone(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" && PEER_GONE_CODES.has(code);
}

/**
 * From now on, an uncaught {@linkcode isPeerGone} error is logged on `log`
 * (one warning per 10 s at most, with the count left out) instead of ending
 * the process. Returns the function that removes the guard.
 */
export function guardPeerGone(log: Pick<Logger, "warn">): () => void {
  const throttle = new LogThrottle(10_000);
  const listener = (event: ErrorEvent) => {
    if (!isPeerGone(event.error)) return;
    event.preventDefault();
    const line = throttle.allow("peer gone");
    if (!line.ok) return;
    log.warn("a peer closed its connection or reset its stream while it was in use", {
      error: (event.error as Error).message,
      suppressed: line.suppressed,
    });
  };
  globalThis.addEventListener("error", listener);
  return () => globalThis.removeEventListener("error", listener);
}
