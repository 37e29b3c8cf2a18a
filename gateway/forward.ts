/**
 * The gateway's service implementations: every unary method of a service
 * forwarded through the router (gateway/upstream.ts) with the caller's
 * deadline and cancellation, a chosen set of its request headers, and
 * nothing of the instance's response metadata but an allowlist.
 *
 * Request headers forwarded ({@linkcode forwardsRequestHeader}): the W3C
 * trace context (`traceparent`, `tracestate`, `baggage`), `authorization`,
 * and custom `x-*` headers except the gRPC-web protocol's own (`x-grpc-web`,
 * `x-user-agent`). Protocol headers (content type, timeouts, encodings,
 * `user-agent`, `host`) are the gateway's own business and are not copied.
 *
 * Response headers and trailers copied back, from a reply or an error
 * ({@linkcode FORWARDED_RESPONSE_HEADERS}): `retry-after` and
 * `grpc-retry-pushback-ms`, the instance's advice on when to retry. Nothing
 * else: an instance's headers describe its own hop (dates, lengths,
 * encodings, whatever a future interceptor adds), not the gateway's.
 *
 * Errors keep their code, message and details; a call the caller did not
 * cancel that ends CANCELED (the router closing) becomes UNAVAILABLE, as do
 * lost instances (upstream.ts).
 *
 * Streaming methods are not forwarded (none of the served services has any).
 *
 * @module
 */
import type { DescMethodUnary, DescService } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  createContextValues,
  type HandlerContext,
  type ServiceImpl,
  type Transport,
} from "@connectrpc/connect";
import { CALL_ROUTE, CallRoute } from "./upstream.ts";

/** Response headers and trailers copied from the instance to the caller. */
export const FORWARDED_RESPONSE_HEADERS: readonly string[] = Object.freeze([
  "retry-after",
  "grpc-retry-pushback-ms",
]);

const REQUEST_HEADERS = new Set(["traceparent", "tracestate", "baggage", "authorization"]);
const GRPC_WEB_HEADERS = new Set(["x-grpc-web", "x-user-agent"]);

/** Whether a request header (lower case) is forwarded to the instance; see the module doc. */
export function forwardsRequestHeader(name: string): boolean {
  return REQUEST_HEADERS.has(name) || (name.startsWith("x-") && !GRPC_WEB_HEADERS.has(name));
}

/** The headers of `incoming` that go to the instance, or undefined when none do. */
export function forwardedRequestHeaders(incoming: Headers): Headers | undefined {
  let out: Headers | undefined;
  incoming.forEach((value, name) => {
    if (forwardsRequestHeader(name)) (out ??= new Headers()).set(name, value);
  });
  return out;
}

/** Copies the allowlisted fields of `from` into the Headers `to()` gives (made only if needed). */
function copyAllowed(from: Headers, to: () => Headers): void {
  for (const name of FORWARDED_RESPONSE_HEADERS) {
    const value = from.get(name);
    if (value !== null) to().set(name, undoubled(value));
  }
}

/**
 * `v` without repeats: "3, 3" -> "3". connect-es's gRPC client appends a
 * trailers-only answer's headers to its trailers in an error's metadata, so
 * every field of such an error arrives twice; copied as is, each hop would
 * double it again.
 */
export function undoubled(v: string): string {
  for (let i = v.indexOf(", "); i > 0; i = v.indexOf(", ", i + 1)) {
    const part = v.slice(0, i);
    const n = (v.length + 2) / (i + 2);
    if (Number.isInteger(n) && v === Array(n).fill(part).join(", ")) return part;
  }
  return v;
}

/** One forwarded call, as the access log reports it. */
export interface ForwardedCall {
  /** `package.Service/Method`. */
  readonly rpc: string;
  /** undefined: OK. */
  readonly code: Code | undefined;
  readonly durationMs: number;
  /** The instance of the last attempt (undefined: no instance was tried). */
  readonly instance: string | undefined;
  readonly attempts: number;
  /** "connect", "grpc" or "grpc-web": how the caller called the gateway. */
  readonly protocol: string;
  readonly ctx: HandlerContext;
}

/** Options of {@linkcode forwardService}. */
export interface ForwardOptions {
  /** Hears every call when set (access logs); costs a context value per call. */
  readonly onCall?: (call: ForwardedCall) => void;
}

/**
 * `service`'s unary methods, each forwarded through `upstream` (the router):
 * see the module doc.
 */
export function forwardService<S extends DescService>(
  service: S,
  upstream: Transport,
  options: ForwardOptions = {},
): Partial<ServiceImpl<S>> {
  const impl: Record<string, (req: never, ctx: HandlerContext) => Promise<unknown>> = {};
  for (const method of service.methods) {
    if (method.methodKind !== "unary") continue;
    impl[method.localName] = forwardUnary(method as DescMethodUnary, upstream, options);
  }
  return impl as Partial<ServiceImpl<S>>;
}

function forwardUnary(
  method: DescMethodUnary,
  upstream: Transport,
  { onCall }: ForwardOptions,
): (req: never, ctx: HandlerContext) => Promise<unknown> {
  const rpc = `${method.parent.typeName}/${method.name}`;
  return async (req, ctx) => {
    const started = onCall === undefined ? 0 : performance.now();
    const route = onCall === undefined ? undefined : new CallRoute();
    let code: Code | undefined;
    try {
      const timeoutMs = ctx.timeoutMs();
      if (timeoutMs !== undefined && timeoutMs <= 0) {
        throw new ConnectError("the operation timed out", Code.DeadlineExceeded);
      }
      const signal = ctx.signal;
      try {
        const res = await upstream.unary(
          method,
          signal,
          timeoutMs,
          forwardedRequestHeaders(ctx.requestHeader),
          req,
          route === undefined ? undefined : createContextValues().set(CALL_ROUTE, route),
        );
        copyAllowed(res.header, () => ctx.responseHeader);
        copyAllowed(res.trailer, () => ctx.responseTrailer);
        return res.message;
      } catch (e) {
        throw callerError(e, signal);
      }
    } catch (e) {
      code = (e as ConnectError).code;
      throw e;
    } finally {
      onCall?.({
        rpc,
        code,
        durationMs: performance.now() - started,
        instance: route?.instance,
        attempts: route?.attempts ?? 0,
        protocol: ctx.protocolName,
        ctx,
      });
    }
  };
}

/** The error the caller gets: same code, message and details; allowlisted metadata only. */
function callerError(error: unknown, signal: AbortSignal): ConnectError {
  const e = ConnectError.from(error);
  const code = e.code === Code.Canceled && !signal.aborted ? Code.Unavailable : e.code;
  const metadata = new Headers();
  copyAllowed(e.metadata, () => metadata);
  const out = new ConnectError(e.rawMessage, code, metadata, undefined, e.cause ?? error);
  out.details = e.details; // as received: encoded again as they came
  return out;
}
