/**
 * Admission before work: every request is counted from the moment its head
 * arrives until its answer is written, and past `maxInFlight` a new one is
 * answered RESOURCE_EXHAUSTED at once — before its body is read or decoded,
 * in the caller's protocol (gRPC and gRPC-web: a trailers-only status;
 * Connect: HTTP 429 with the error as JSON; anything else: 503).
 *
 * Health, readiness, metrics and the cheap introspection RPCs (`exempt`
 * paths) are always admitted, so probes and dashboards keep answering while
 * data calls are shed.
 *
 * @module
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { connectError } from "./fast/connect_wire.ts";
import { grpcError } from "./fast/grpc_wire.ts";
import type { Reply } from "./fast/reply.ts";

/** Options of {@linkcode Admission}. */
export interface AdmissionOptions {
  /** Most requests in flight at once (exempt ones not counted); Infinity = no bound. */
  readonly maxInFlight: number;
  /** Paths (`/package.Service/Method` or plain routes) always admitted. */
  readonly exempt?: Iterable<string>;
  /** Called for each request turned away (e.g. a metric); must not throw. */
  readonly onReject?: (path: string) => void;
}

/** Counts requests in flight and turns away what is past the bound. */
export class Admission {
  readonly maxInFlight: number;
  #exempt: Set<string>;
  #inFlight = 0;
  #rejected = 0;
  #onReject: ((path: string) => void) | undefined;

  constructor(o: AdmissionOptions) {
    if (!(o.maxInFlight >= 1)) {
      throw new RangeError(`maxInFlight must be >= 1, got ${o.maxInFlight}`);
    }
    this.maxInFlight = o.maxInFlight;
    this.#exempt = new Set(o.exempt ?? []);
    this.#onReject = o.onReject;
  }

  /** Requests in flight now (exempt ones not counted). */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Requests turned away since start. */
  get rejected(): number {
    return this.#rejected;
  }

  /**
   * Admits a request for `path` (returns true; call {@linkcode leave} with the
   * same answer when it is done) or turns it away (false).
   */
  enter(path: string): boolean {
    if (this.#exempt.has(path)) return true;
    if (this.#inFlight >= this.maxInFlight) {
      this.#rejected++;
      try {
        this.#onReject?.(path);
      } catch { /* a metric must not break shedding */ }
      return false;
    }
    this.#inFlight++;
    return true;
  }

  /** A request admitted by {@linkcode enter} is done. */
  leave(path: string): void {
    if (!this.#exempt.has(path)) this.#inFlight--;
  }

  /** The error a turned-away caller gets. */
  error(): ConnectError {
    return new ConnectError(
      `server busy: ${this.maxInFlight} requests in flight, retry later`,
      Code.ResourceExhausted,
    );
  }
}

/**
 * The answer to a turned-away request, in the protocol its content type
 * names (no body is read, so the format is what the caller asked for).
 */
export function busyReply(contentType: string | null | undefined, error: ConnectError): Reply {
  const type = (contentType ?? "").toLowerCase();
  if (type.startsWith("application/grpc-web")) {
    return grpcError("grpc-web", error, !type.includes("json"), undefined);
  }
  if (type.startsWith("application/grpc")) {
    return grpcError("grpc", error, !type.includes("json"), undefined);
  }
  if (type.startsWith("application/") || type === "") {
    // Connect (unary, streaming, GET): the error as JSON; 429 is Connect's
    // status for RESOURCE_EXHAUSTED.
    return connectError(error, undefined);
  }
  return {
    status: 503,
    contentType: "text/plain; charset=utf-8",
    body: new TextEncoder().encode(`${error.rawMessage}\n`),
  };
}
