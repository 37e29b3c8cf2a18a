/**
 * What a port has open: TCP connections (and those still being sniffed),
 * HTTP/1.x connections with their requests in flight, HTTP/2 sessions with
 * their streams in flight. The drain on shutdown reads it; `stats()` reports
 * it.
 *
 * @module
 */
import type * as http2 from "node:http2";
import type * as net from "node:net";

/** Counters of a port, as `OnePortServer.stats()` reports them. */
export interface OnePortStats {
  /** TCP connections accepted since start. */
  accepted: number;
  /** TCP connections open now (all kinds). */
  open: number;
  /** Open connections still being sniffed (no protocol decided yet). */
  sniffing: number;
  /** Open HTTP/1.x connections. */
  http1: number;
  /** Open HTTP/2 sessions. */
  http2: number;
  /** Requests being handled now (both protocols). */
  inFlight: number;
}

/** Per HTTP/1.x connection: requests not yet finished. */
export interface H1State {
  active: number;
}

/** Per HTTP/2 session: streams in flight, streams ever started, and since when it is quiet. */
interface SessionState {
  inFlight: number;
  started: number;
  /** `started` when the idle sweep last looked. */
  seen: number;
  /** When it was first seen with nothing in flight and nothing new started (or opened). */
  quietSince: number | undefined;
}

/** The open connections of one port. Fields are written only through the methods. */
export class Connections {
  /** Set once shutdown starts; connections accepted later are refused. */
  closing = false;
  #accepted = 0;
  #inFlight = 0;
  readonly sockets = new Set<net.Socket>();
  readonly sniffing = new Set<net.Socket>();
  readonly h1 = new Map<net.Socket, H1State>();
  readonly sessions = new Set<http2.Http2Session>();
  readonly #streams = new Map<http2.Http2Session, SessionState>();
  #allClosed: PromiseWithResolvers<void> | undefined;

  /** Counts a new TCP connection until it closes. */
  track(socket: net.Socket, onError: (e: Error) => void): void {
    this.#accepted++;
    this.sockets.add(socket);
    socket.on("error", onError);
    socket.once("close", () => {
      this.sockets.delete(socket);
      this.sniffing.delete(socket);
      this.h1.delete(socket);
      if (this.closing && this.sockets.size === 0) this.#allClosed?.resolve();
    });
  }

  /** An HTTP/1.x connection (with TLS: the TLS socket, not the tracked TCP one). */
  h1Connection(socket: net.Socket): void {
    this.h1.set(socket, { active: 0 });
    socket.once("close", () => this.h1.delete(socket));
  }

  /** An HTTP/2 session, until it closes. */
  addSession(session: http2.Http2Session, onError: (e: Error) => void): void {
    this.sessions.add(session);
    this.#stateOf(session);
    session.on("error", onError);
    session.once("close", () => {
      this.sessions.delete(session);
      this.#streams.delete(session);
    });
  }

  /** A request (HTTP/1.x) or stream (HTTP/2) starts. */
  requestStarted(session?: http2.Http2Session): void {
    this.#inFlight++;
    if (session) {
      const state = this.#stateOf(session);
      state.inFlight++;
      state.started++;
    }
  }

  /** A request or stream ended; returns the streams still in flight on `session`. */
  requestEnded(session?: http2.Http2Session): number {
    this.#inFlight--;
    if (!session) return 0;
    const state = this.#streams.get(session);
    if (state === undefined) return 0;
    return --state.inFlight;
  }

  /** Streams in flight on `session`. */
  streamsOf(session: http2.Http2Session): number {
    return this.#streams.get(session)?.inFlight ?? 0;
  }

  /**
   * The sessions with no stream in flight and none started for at least
   * `idleMs`, as seen by calls at time `now`: a session is quiet from when it
   * opened or from the first call that finds it quiet after a stream, so
   * with calls every fraction of `idleMs` none is named early.
   */
  *idleSessions(now: number, idleMs: number): Generator<http2.Http2Session> {
    for (const [session, state] of this.#streams) {
      if (state.inFlight > 0 || state.started !== state.seen) {
        state.seen = state.started;
        state.quietSince = undefined;
      } else if (state.quietSince === undefined) {
        state.quietSince = now;
      } else if (now - state.quietSince >= idleMs) {
        yield session;
      }
    }
  }

  #stateOf(session: http2.Http2Session): SessionState {
    let state = this.#streams.get(session);
    if (state === undefined) {
      state = { inFlight: 0, started: 0, seen: 0, quietSince: performance.now() };
      this.#streams.set(session, state);
    }
    return state;
  }

  /** Resolves once every connection is closed (call after setting `closing`). */
  everyClosed(): Promise<void> {
    if (this.#allClosed === undefined) {
      this.#allClosed = Promise.withResolvers<void>();
      if (this.sockets.size === 0) this.#allClosed.resolve();
    }
    return this.#allClosed.promise;
  }

  stats(): OnePortStats {
    return {
      accepted: this.#accepted,
      open: this.sockets.size,
      sniffing: this.sniffing.size,
      http1: this.h1.size,
      http2: this.sessions.size,
      inFlight: this.#inFlight,
    };
  }
}
