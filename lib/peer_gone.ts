/**
 * Keeps a connection its peer already closed from ending the process.
 *
 * Deno 2.9.6's `node:net` reports a failed read or write on a closed
 * connection (`EPIPE`, `ECONNRESET`) as an `error` event of the socket's
 * stream. On a stream that `node:http`/`node:http2` made internally, with no
 * listener, that event becomes an uncaught exception and the process exits
 * (seen under `deno task start` while load clients closed their connections:
 * `Uncaught Error: write EPIPE at WriteWrap.onWriteComplete`). The connection
 * is gone either way, and its requests with it; the instance's other
 * connections are not. {@linkcode guardPeerGone} turns exactly those errors
 * into a log line and lets every other uncaught error end the process as
 * before.
 *
 * @module
 */
import { type Logger, LogThrottle } from "./log.ts";

/** The error codes of a peer that closed its connection. */
const PEER_GONE_CODES: ReadonlySet<string> = new Set(["EPIPE", "ECONNRESET"]);

/** Whether `error` is a system error saying the peer closed the connection. */
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
    log.warn("a connection's peer hung up while it was read or written", {
      error: (event.error as Error).message,
      suppressed: line.suppressed,
    });
  };
  globalThis.addEventListener("error", listener);
  return () => globalThis.removeEventListener("error", listener);
}
