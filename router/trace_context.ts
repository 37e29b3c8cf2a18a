/**
 * The caller's trace context on every routed call: W3C `traceparent` and
 * `tracestate` from the active OpenTelemetry context, added to the request
 * headers unless the caller set them. Without an OpenTelemetry SDK (Deno:
 * `OTEL_DENO` unset) the propagator is a no-op and headers are untouched.
 * Browser-safe.
 *
 * @module
 */
import { context, propagation } from "@opentelemetry/api";

/** `header` with the active trace context added (the same object when there is none). */
export function withTraceContext(header: HeadersInit | undefined): HeadersInit | undefined {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  let h: Headers | undefined;
  for (const key in carrier) {
    h ??= new Headers(header);
    if (!h.has(key)) h.set(key, carrier[key]);
  }
  return h ?? header;
}
