/**
 * Server interceptors: request metrics, OpenTelemetry spans with the RPC
 * status, and a log line for every failed call.
 *
 * @module
 */
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import type { Logger } from "./log.ts";
import type { ServiceMetrics } from "./metrics.ts";

const tracer = trace.getTracer("deno-data-services");

/** "NotFound" -> "not_found"; the label value of a Connect code. */
export function codeLabel(code: Code | undefined): string {
  if (code === undefined) return "ok";
  return Code[code].replace(/[A-Z]/g, (c, i) => (i ? "_" : "") + c.toLowerCase());
}

/**
 * Counts and times data RPCs (all methods of `services` except `uncounted`),
 * wraps every RPC in a span named `package.Service/Method` that carries the
 * RPC status, and logs failures (server-side codes at warn, the rest at debug).
 */
export function observe(
  metrics: ServiceMetrics,
  log: Logger,
  options: { services: ReadonlySet<string>; uncounted: ReadonlySet<string> },
): Interceptor {
  return (next) => (req) => {
    const service = req.service.typeName;
    const method = req.method.name;
    const counted = options.services.has(service) && !options.uncounted.has(method);
    const end = counted ? metrics.requestSeconds.startTimer({ method }) : undefined;
    return tracer.startActiveSpan(`${service}/${method}`, {
      kind: SpanKind.SERVER,
      attributes: { "rpc.system": "connect_rpc", "rpc.service": service, "rpc.method": method },
    }, async (span) => {
      let code: Code | undefined;
      try {
        return await next(req);
      } catch (err) {
        const ce = ConnectError.from(err);
        code = ce.code;
        span.setStatus({ code: SpanStatusCode.ERROR, message: ce.rawMessage });
        const serverSide = [Code.Internal, Code.Unavailable, Code.DataLoss, Code.Unknown];
        (serverSide.includes(code) ? log.warn : log.debug)("rpc failed", {
          rpc: `${service}/${method}`,
          code: codeLabel(code),
          error: ce.rawMessage,
        });
        throw err;
      } finally {
        span.setAttribute("rpc.connect_rpc.error_code", codeLabel(code));
        span.setAttribute("rpc.grpc.status_code", code ?? 0);
        span.end();
        if (counted) {
          metrics.requests.inc({ method, code: codeLabel(code) });
          end?.();
        }
      }
    });
  };
}
