/**
 * A failure the instance did not send is the instance lost: connect-node
 * reports a killed instance as CANCELED ("http/2 stream closed with error
 * code CANCEL"), ABORTED ("read ECONNRESET") or INTERNAL/UNKNOWN ("Premature
 * close"), codes neither the router nor clients read as "try elsewhere". These
 * helpers turn such failures into UNAVAILABLE with a {@linkcode TransportFailure}
 * cause, so the router marks the instance down and retries idempotent reads
 * on the fallback, and callers see the retryable code. An answer of the
 * instance (it carries at least its `content-type`) keeps its code.
 * Browser-safe.
 *
 * @module
 */
import { Code, ConnectError, type StreamResponse } from "@connectrpc/connect";
import { TransportFailure } from "./lean_transport.ts";
import type { ClosableTransport, Instance } from "./membership.ts";

/**
 * Whether `error` says the instance was lost rather than answering, while the
 * caller had not cancelled: no ConnectError at all; CANCELED or ABORTED with
 * no response metadata (a reset stream or connection); INTERNAL or UNKNOWN
 * caused by a Node.js system error (`ECONNRESET`, `ERR_STREAM_PREMATURE_CLOSE`,
 * `ERR_HTTP2_*`). An INTERNAL or UNKNOWN that connect-es made from what the
 * instance sent (an HTTP status, a missing trailer, an unknown compression)
 * is an answer and keeps its code, as the Connect conformance suite requires.
 */
export function lostInstance(error: unknown, signal?: AbortSignal): boolean {
  if (signal?.aborted) return false;
  if (!(error instanceof ConnectError)) return true;
  switch (error.code) {
    case Code.Canceled:
    case Code.Aborted:
      return !error.metadata.has("content-type");
    case Code.Internal:
    case Code.Unknown:
      return causedBySystemError(error.cause);
    default:
      return false;
  }
}

/** Whether a Node.js system error (an `Error` with a string `code`) is in `cause`'s chain. */
function causedBySystemError(cause: unknown): boolean {
  for (let depth = 0; cause instanceof Error && depth < 8; depth++) {
    if (typeof (cause as { code?: unknown }).code === "string") return true;
    cause = cause.cause;
  }
  return false;
}

/** `error` as the caller should see it: UNAVAILABLE when the instance was lost. */
export function asLostInstance(
  error: unknown,
  instance: Instance,
  signal: AbortSignal | undefined,
): unknown {
  if (!lostInstance(error, signal)) return error;
  const why = error instanceof Error ? error.message : String(error);
  return new ConnectError(
    `lost instance ${instance.id}: ${why}`,
    Code.Unavailable,
    undefined,
    undefined,
    new TransportFailure(why, { cause: error }),
  );
}

/** `inner` with every lost-instance failure, unary or in a stream, as {@linkcode asLostInstance}. */
export function reportLostInstance(
  inner: ClosableTransport,
  instance: Instance,
): ClosableTransport {
  return {
    async unary(method, signal, timeoutMs, header, input, values) {
      try {
        return await inner.unary(method, signal, timeoutMs, header, input, values);
      } catch (e) {
        throw asLostInstance(e, instance, signal);
      }
    },
    async stream(method, signal, timeoutMs, header, input, values) {
      let res: StreamResponse<typeof method.input, typeof method.output>;
      try {
        res = await inner.stream(method, signal, timeoutMs, header, input, values);
      } catch (e) {
        throw asLostInstance(e, instance, signal);
      }
      const messages = res.message;
      return {
        ...res,
        message: (async function* () {
          try {
            yield* messages;
          } catch (e) {
            throw asLostInstance(e, instance, signal);
          }
        })(),
      } as typeof res;
    },
    close: () => inner.close?.(),
  };
}
