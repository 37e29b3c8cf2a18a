/**
 * Spans of Cassandra operations, children of the RPC span that caused them
 * (with `OTEL_DENO=true`; otherwise nothing is wrapped and nothing costs).
 * A coalesced read runs once for all its callers: its span is a child of the
 * call that started the flight.
 *
 * @module
 */
import { SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { tracingEnabled } from "../http/observe.ts";

const tracer = trace.getTracer("deno-data-services");

/** Runs one store operation inside a span; undefined when tracing is off. */
export type QueryTracer = <T>(op: string, fn: () => Promise<T>) => Promise<T>;

/** A {@linkcode QueryTracer} for `keyspace` when tracing is on, else undefined. */
export function queryTracer(
  keyspace: string,
  enabled: boolean = tracingEnabled(),
): QueryTracer | undefined {
  if (!enabled) return undefined;
  return (op, fn) =>
    tracer.startActiveSpan(`cassandra ${op}`, {
      kind: SpanKind.CLIENT,
      attributes: {
        "db.system": "cassandra",
        "db.namespace": keyspace,
        "db.operation.name": op,
      },
    }, async (span) => {
      try {
        return await fn();
      } catch (err) {
        span.setStatus({
          code: SpanStatusCode.ERROR,
          message: err instanceof Error ? err.message : String(err),
        });
        throw err;
      } finally {
        span.end();
      }
    });
}
