/**
 * The handler context of the fast unary path: a connect-es `HandlerContext`
 * whose costly parts (abort signal, header objects, context values) are made
 * only when a handler asks for them, and a {@linkcode CallSignal} that lets
 * code on the hot path (the coalescer) follow the caller's deadline and
 * hang-up without an `AbortSignal` per call.
 *
 * connect-es builds an `AbortController`, a deadline signal, three `Headers`
 * and a context-values map for every call and aborts the controller at the
 * end (a `DOMException` per call).
 *
 * @module
 */
import {
  Code,
  ConnectError,
  type ContextValues,
  createContextValues,
  type HandlerContext,
} from "@connectrpc/connect";
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { CallSignal, type Cancellation } from "../../lib/cancellation.ts";

export { CallSignal, type Cancellation };

/**
 * How a transport adapter reads the rarely needed parts of its native request
 * object: one shared reader per adapter, so no closure is made per call.
 */
export interface RequestReader<R> {
  /** The request headers as a `Headers` (called at most once per call, on first use). */
  headers(raw: R): Headers;
  /** The full request URL (called at most once per call, on first use). */
  url(raw: R): string;
  /**
   * Calls `abort` if the client goes away before the answer (installed only
   * when something waits on the call's cancellation). Optional.
   */
  hangup?(raw: R, abort: (reason?: unknown) => void): void;
  /** The caller's address (`ip:port`), if the adapter knows it (called on first use). */
  peer?(raw: R): string | undefined;
}

/**
 * The longest timeout a call can have (2^31 − 1 ms, about 24.8 days): a
 * timer cannot wait longer (`setTimeout` fires at once instead, with a
 * TimeoutOverflowWarning), and gRPC's "99999999H" or a Connect timeout of
 * 9,999,999,999 ms would otherwise fail the call at once with
 * DEADLINE_EXCEEDED. Longer ones are treated as no deadline.
 */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/**
 * A `HandlerContext` for one fast-path call. Everything connect-es would
 * allocate eagerly is made on first access.
 */
export class FastContext<R = unknown> implements HandlerContext {
  readonly method: DescMethod;
  /** "connect", "grpc" or "grpc-web". */
  readonly protocolName: string;
  /** "POST" or "GET". */
  readonly requestMethod: string;
  /** The call's deadline and hang-up, as a cheap {@linkcode Cancellation}. */
  readonly cancellation: CallSignal;
  #raw: R;
  #reader: RequestReader<R>;
  #controller: AbortController | undefined;
  #requestHeader: Headers | undefined;
  #responseHeader: Headers | undefined;
  #responseTrailer: Headers | undefined;
  #values: ContextValues | undefined;
  #url: string | undefined;

  /**
   * @param timeoutMs the timeout the caller sent, if any; one longer than a
   *   timer can wait ({@linkcode MAX_TIMEOUT_MS}) counts as none.
   * @param raw the adapter's native request, read through `reader` on demand.
   */
  constructor(
    method: DescMethod,
    protocolName: string,
    requestMethod: string,
    timeoutMs: number | undefined,
    raw: R,
    reader: RequestReader<R>,
  ) {
    this.method = method;
    this.protocolName = protocolName;
    this.requestMethod = requestMethod;
    const hangup = reader.hangup;
    this.cancellation = new CallSignal(
      timeoutMs !== undefined && timeoutMs > MAX_TIMEOUT_MS ? undefined : timeoutMs,
      hangup === undefined ? undefined : (abort) => hangup(raw, abort),
    );
    this.#raw = raw;
    this.#reader = reader;
  }

  get service(): DescService {
    return this.method.parent;
  }

  /** A real AbortSignal, following {@linkcode cancellation}; made on first access. */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      const controller = new AbortController();
      this.#controller = controller;
      const c = this.cancellation;
      if (c.aborted) controller.abort(c.reason);
      else c.addEventListener("abort", () => controller.abort(c.reason));
    }
    return this.#controller.signal;
  }

  /** Whole milliseconds left before the deadline (as connect-es: may be negative), if any. */
  timeoutMs(): number | undefined {
    const left = this.cancellation.remainingMs();
    return left === Infinity ? undefined : Math.floor(left);
  }

  get requestHeader(): Headers {
    return this.#requestHeader ??= this.#reader.headers(this.#raw);
  }

  get responseHeader(): Headers {
    return this.#responseHeader ??= new Headers();
  }

  get responseTrailer(): Headers {
    return this.#responseTrailer ??= new Headers();
  }

  /** Whether a handler touched the response headers or trailers. */
  get hasResponseMetadata(): boolean {
    return this.#responseHeader !== undefined || this.#responseTrailer !== undefined;
  }

  /** The caller's address (`ip:port`), when the transport adapter knows it. */
  get peer(): string | undefined {
    return this.#reader.peer?.(this.#raw);
  }

  get values(): ContextValues {
    return this.#values ??= createContextValues();
  }

  get url(): string {
    return this.#url ??= this.#reader.url(this.#raw);
  }

  /** Ends the call: aborts a signal someone made (connect-es does the same). */
  done(reason?: unknown): void {
    const c = this.#controller;
    if (c !== undefined && !c.signal.aborted) {
      c.abort(reason ?? new ConnectError("call ended", Code.Canceled));
    }
  }
}

/**
 * What a wait on behalf of the caller of `ctx` should follow: for fast-path
 * calls its {@linkcode CallSignal} (no AbortSignal is made). On the
 * connect-es path, `ctx.signal` when the caller set no deadline, else a
 * CallSignal with that deadline that follows `ctx.signal`: its `aborted`
 * reads the clock, so a deadline that passed is seen even before its timer
 * fires (the coalescer relies on it to never start a query for nobody).
 */
export function cancellationOf(ctx: HandlerContext): Cancellation {
  if (ctx instanceof FastContext) return ctx.cancellation;
  const signal = ctx.signal;
  const timeoutMs = ctx.timeoutMs();
  if (timeoutMs === undefined) return signal;
  return new CallSignal(timeoutMs, (abort) => {
    if (signal.aborted) abort(signal.reason);
    else signal.addEventListener("abort", () => abort(signal.reason), { once: true });
  });
}
