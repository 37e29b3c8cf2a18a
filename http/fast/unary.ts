/**
 * The fast unary path's engine: decode one request message, run the
 * service implementation with a lazy {@linkcode FastContext}, encode the
 * reply for Connect, gRPC or gRPC-web. No streams, no interceptor chain, no
 * abort signal per call; the same implementations, codes, headers and
 * trailers as the connect-es path (proven by the Connect conformance suite).
 *
 * Transport adapters (Deno.serve, node:http2 streams, node:http) read the
 * body, pick the procedure and the protocol, call one of the methods below
 * and write the {@linkcode Reply}.
 *
 * @module
 */
import type { DescMethod, Message } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { parseTimeout as parseConnectTimeout } from "@connectrpc/connect/protocol-connect";
import { parseTimeout as parseGrpcTimeout } from "@connectrpc/connect/protocol-grpc";
import { FastContext, type RequestReader } from "./context.ts";
import { connectError, connectOk } from "./connect_wire.ts";
import { grpcError, type GrpcKind, grpcOk, unwrapUnary } from "./grpc_wire.ts";
import type { Procedure } from "./procedures.ts";
import type { Reply } from "./reply.ts";

/** What a trace span needs to know of a call. */
export interface TracedCall {
  /** "connect", "grpc" or "grpc-web". */
  readonly protocolName: string;
  /** Carries the caller's trace context (`traceparent`). */
  readonly requestHeader: Headers;
}

/** Sees every call: metrics, traces and logs hang off it. */
export interface CallObserver {
  /** A call starts; the return value is handed back to {@linkcode CallObserver.end}. */
  start(method: DescMethod): number;
  /** The call ended, with its error if it failed. */
  end(method: DescMethod, started: number, error: ConnectError | undefined): void;
  /**
   * Runs the implementation inside a trace span, when tracing is on
   * (undefined: no tracing, nothing is wrapped).
   */
  readonly trace?: <T>(method: DescMethod, call: TracedCall, fn: () => Promise<T>) => Promise<T>;
}

/** Options of {@linkcode UnaryEngine}. */
export interface UnaryEngineOptions {
  /** Largest request message in bytes; larger ones get RESOURCE_EXHAUSTED. */
  readonly readMaxBytes: number;
  /** Largest timeout a caller may ask for (ms); default: no bound. */
  readonly maxTimeoutMs?: number;
  readonly observer?: CallObserver;
  /**
   * Checks each decoded request before the implementation runs (the
   * connect-es path's validation interceptor, for the fast path, which runs
   * no interceptors); an error it returns is the call's answer, observed like
   * any other. See `../validation.ts`.
   */
  readonly validate?: (method: DescMethod, message: Message) => ConnectError | undefined;
}

const NO_OBSERVER: CallObserver = { start: () => 0, end: () => {} };

/** Runs unary calls for the transport adapters. */
export class UnaryEngine {
  readonly readMaxBytes: number;
  #maxTimeoutMs: number;
  #observer: CallObserver;
  #validate: UnaryEngineOptions["validate"];

  constructor(options: UnaryEngineOptions) {
    this.readMaxBytes = options.readMaxBytes;
    this.#maxTimeoutMs = options.maxTimeoutMs ?? Number.MAX_SAFE_INTEGER;
    this.#observer = options.observer ?? NO_OBSERVER;
    this.#validate = options.validate;
  }

  /**
   * A Connect unary call (POST body or decoded GET message).
   *
   * @param timeout the `connect-timeout-ms` header.
   */
  async connect<R>(
    proc: Procedure,
    binary: boolean,
    message: Uint8Array,
    requestMethod: string,
    timeout: string | null,
    raw: R,
    reader: RequestReader<R>,
  ): Promise<Reply> {
    const t = timeout === null ? undefined : parseConnectTimeout(timeout, this.#maxTimeoutMs);
    const ctx = new FastContext(proc.method, "connect", requestMethod, t?.timeoutMs, raw, reader);
    try {
      const refused = t?.error ??
        (message.length > this.readMaxBytes
          ? tooLarge(message.length, this.readMaxBytes)
          : undefined);
      return connectOk(await this.#run(proc, ctx, message, binary, false, refused), binary, ctx);
    } catch (e) {
      return connectError(asConnectError(e), ctx);
    }
  }

  /**
   * A gRPC or gRPC-web unary call (the body is the enveloped message; the
   * adapter sends compressed requests to the fallback).
   *
   * @param timeout the `grpc-timeout` header.
   */
  async grpc<R>(
    kind: GrpcKind,
    proc: Procedure,
    binary: boolean,
    body: Uint8Array,
    timeout: string | null,
    raw: R,
    reader: RequestReader<R>,
  ): Promise<Reply> {
    const t = timeout === null ? undefined : parseGrpcTimeout(timeout, this.#maxTimeoutMs);
    const ctx = new FastContext(proc.method, kind, "POST", t?.timeoutMs, raw, reader);
    try {
      return grpcOk(kind, await this.#run(proc, ctx, body, binary, true, t?.error), binary, ctx);
    } catch (e) {
      return grpcError(kind, asConnectError(e), binary, ctx);
    }
  }

  /**
   * Decodes (after taking the message out of its envelope if `enveloped`),
   * validates, runs the implementation, encodes; observed. Throws what the
   * caller gets.
   */
  async #run(
    proc: Procedure,
    ctx: FastContext,
    body: Uint8Array,
    binary: boolean,
    enveloped: boolean,
    refused?: ConnectError,
  ): Promise<Uint8Array> {
    const obs = this.#observer;
    const started = obs.start(proc.method);
    let error: ConnectError | undefined;
    try {
      // Refused before it ran (a bad timeout header, an oversized message): observed like any call.
      if (refused !== undefined) throw refused;
      const message = enveloped ? unwrapUnary(body, this.readMaxBytes) : body;
      const input = proc.decode(message, binary);
      const invalid = this.#validate?.(proc.method, input);
      if (invalid !== undefined) throw invalid;
      const output = obs.trace === undefined
        ? await proc.impl(input, ctx)
        : await obs.trace(proc.method, ctx, async () => await proc.impl(input, ctx));
      return proc.encode(output, binary);
    } catch (e) {
      throw error = asConnectError(e);
    } finally {
      obs.end(proc.method, started, error);
      ctx.done(error);
    }
  }
}

/** What connect-es does with a thrown value: ConnectErrors pass, the rest is "internal error". */
function asConnectError(e: unknown): ConnectError {
  if (e instanceof ConnectError) return e;
  return new ConnectError("internal error", Code.Internal, undefined, undefined, e);
}

function tooLarge(size: number, max: number): ConnectError {
  return new ConnectError(
    `message size ${size} is larger than configured readMaxBytes ${max}`,
    Code.ResourceExhausted,
  );
}
