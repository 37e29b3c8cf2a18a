/**
 * How a port shuts down and lets idle HTTP/2 sessions go: the shutdown
 * policy of `serveOnePort` (see its `http2Shutdown` option).
 *
 * - "finish-first" (default): a session keeps serving until no stream is in
 *   flight, then gets a PING and, once the PING is answered and the session
 *   is still idle, a GOAWAY (the client has read every response by then).
 *   Sessions still busy after half of the grace period get the GOAWAY
 *   anyway.
 * - "goaway": GOAWAY to every session at once; streams in flight finish.
 *
 * Then, past the grace period, handlers are aborted (their callers get a
 * retryable UNAVAILABLE if they can answer within 100 ms) and what is left is
 * destroyed.
 *
 * @module
 */
import type * as http2 from "node:http2";
import type { Connections } from "./connections.ts";

/** On close, how long idle HTTP/1.x keep-alive connections stay for a request already sent. */
const IDLE_LINGER_MS = 200;

/** What {@linkcode Drain.close} needs from the port. */
export interface DrainTargets {
  /** Resolves when the listener stopped accepting. */
  readonly listenerClosed: Promise<void>;
  /** Aborts the handlers still running (the port's shutdown controller). */
  readonly abortHandlers: () => void;
}

/** The shutdown policy of one port. */
export class Drain {
  #conns: Connections;
  #finishFirst: boolean;
  #pinging = new Set<http2.Http2Session>();
  #pingTimeoutMs: number;
  #idleSweep: ReturnType<typeof setInterval> | undefined;

  /**
   * @param pingTimeoutMs a PING not answered within this destroys its session
   *   (0 = no bound; see `OnePortLimits.http2PingTimeoutMs`).
   */
  constructor(conns: Connections, policy: "finish-first" | "goaway", pingTimeoutMs = 0) {
    this.#conns = conns;
    this.#finishFirst = policy === "finish-first";
    this.#pingTimeoutMs = pingTimeoutMs;
  }

  /** A stream ended with `left` still in flight on its session: the last one may let it go. */
  streamEnded(session: http2.Http2Session | undefined, left: number): void {
    if (session && this.#conns.closing && left === 0 && this.#finishFirst) {
      this.goawayWhenIdle(session);
    }
  }

  /**
   * GOAWAY (after a PING, as for "finish-first") to sessions with no stream
   * in flight and none started for `idleMs` (as grpc-go's MaxConnectionIdle),
   * checked by one timer every quarter of `idleMs` (at most every 5 s); stops
   * at `close`. Not node:http2's `server.setTimeout`: in Deno 2.9.6 sessions
   * with that timer armed abort the process (nghttp2 assertion
   * `find_stream_on_goaway_func`, or a segfault) far more often when clients
   * close them: 15 of 30 runs against 0 of 30 without it, in one test of
   * oversized heads under forced GC.
   */
  closeIdleSessions(idleMs: number): void {
    if (idleMs <= 0 || this.#idleSweep !== undefined) return;
    const every = Math.min(5_000, Math.max(10, Math.floor(idleMs / 4)));
    this.#idleSweep = setInterval(() => {
      for (const session of this.#conns.idleSessions(performance.now(), idleMs)) {
        this.goawayWhenIdle(session);
      }
    }, every);
  }

  /** PING, then GOAWAY if the session is still idle. */
  goawayWhenIdle(session: http2.Http2Session): void {
    if (session.closed || session.destroyed || this.#pinging.has(session)) return;
    this.#pinging.add(session);
    const unanswered = this.#pingTimeoutMs > 0
      ? setTimeout(() => {
        if (!this.#pinging.delete(session)) return;
        session.destroy();
      }, this.#pingTimeoutMs)
      : undefined;
    const sent = session.ping((err) => {
      clearTimeout(unanswered);
      // Streams that arrived with the PING ACK are dispatched on next ticks:
      // look after them.
      setImmediate(() => {
        this.#pinging.delete(session);
        if (err || !this.#conns.streamsOf(session)) session.close();
        // else: busy again; the next stream to finish calls this again.
      });
    });
    if (!sent) {
      clearTimeout(unanswered);
      this.#pinging.delete(session);
      session.close();
    }
  }

  /**
   * Shuts the port down within `graceMs` (see the module doc). The caller
   * sets `closing` first so new connections are refused.
   */
  async close(graceMs: number, targets: DrainTargets): Promise<void> {
    clearInterval(this.#idleSweep);
    const conns = this.#conns;
    const everyConnectionClosed = conns.everyClosed();
    for (const socket of conns.sniffing) socket.destroy();
    // Idle keep-alive connections linger briefly: a request may already be
    // on its way (written by the client, not yet read by a busy server);
    // it is still answered, with "Connection: close". Then idle ones close.
    const closeIdle = () => {
      for (const [socket, state] of conns.h1) {
        if (state.active === 0) socket.destroy();
      }
    };
    const lingerTimer = setTimeout(closeIdle, Math.min(IDLE_LINGER_MS, graceMs));
    let graceLeft = graceMs;
    if (this.#finishFirst) {
      for (const session of conns.sessions) {
        if (!conns.streamsOf(session)) this.goawayWhenIdle(session);
      }
      const half = Math.floor(graceMs / 2);
      graceLeft -= half;
      await settlesWithin(everyConnectionClosed, half);
    }
    for (const session of conns.sessions) session.close();

    if (!(await settlesWithin(everyConnectionClosed, graceLeft))) {
      targets.abortHandlers();
      // Give aborted handlers a moment to answer before cutting connections.
      await settlesWithin(everyConnectionClosed, Math.min(100, graceMs));
      for (const session of conns.sessions) session.destroy();
      for (const socket of conns.h1.keys()) socket.destroy();
      for (const socket of conns.sockets) socket.destroy();
      await everyConnectionClosed;
    }
    clearTimeout(lingerTimer);
    await targets.listenerClosed;
  }
}

/** Resolves true if `promise` settles within `ms`, false otherwise; leaves no timer. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
