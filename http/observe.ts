/**
 * What the instance records about every RPC, on both serving paths: the
 * go-grpc-prometheus metrics, an OpenTelemetry span with the RPC status (only
 * when tracing is on), and a log line for failed calls. The fast path calls
 * the {@linkcode CallObserver} directly; the connect-es path gets the same
 * observer as an interceptor ({@linkcode observeInterceptor}).
 *
 * @module
 */
import type { DescMethod } from "@bufbuild/protobuf";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { context, propagation, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import type { Counter, Histogram } from "prom-client";
import type { CallObserver, TracedCall } from "./fast/unary.ts";
import { type Logger, LogThrottle } from "../lib/log.ts";
import type { RpcMetrics } from "./rpc_metrics.ts";

const tracer = trace.getTracer("deno-data-services");

/** "NotFound" -> "not_found"; the Connect spelling of a code. */
export function codeLabel(code: Code | undefined): string {
  if (code === undefined) return "ok";
  return Code[code].replace(/[A-Z]/g, (c, i) => (i ? "_" : "") + c.toLowerCase());
}

/** The gRPC spelling of a code, as go-grpc-prometheus labels it: "OK", "NotFound". */
export function grpcCodeName(code: Code | undefined): string {
  return code === undefined ? "OK" : Code[code];
}

/** Codes that mean the server (or what is behind it) failed; logged at warn. */
const SERVER_SIDE = new Set<Code>([Code.Internal, Code.Unavailable, Code.DataLoss, Code.Unknown]);

/** Prometheus children of one method, made once. */
interface MethodMetrics {
  readonly started: ReturnType<Counter<string>["labels"]>;
  readonly seconds: ReturnType<Histogram<string>["labels"]>;
  readonly labels: Record<string, string>;
  readonly rpc: string;
  /** Children of grpc_server_handled_total by code. */
  readonly handled: Map<Code | undefined, ReturnType<Counter<string>["labels"]>>;
}

/** Options of {@linkcode createObserver}. */
export interface ObserverOptions {
  /** Trace every RPC (OpenTelemetry spans); default: when `OTEL_DENO` is "true". */
  readonly tracing?: boolean;
  /** At most one "rpc failed" line per method and code per this many ms (default 1000). */
  readonly logIntervalMs?: number;
  /**
   * Log each failed call (default true: server-side codes at warn, the rest
   * at debug). The gateway turns it off: during an outage every call fails,
   * and a line per call would turn an overload into a log overload; its
   * metrics count the codes, and its access log is opt-in.
   */
  readonly logFailures?: boolean;
}

/** Whether Deno's OpenTelemetry export is switched on for this process. */
export function tracingEnabled(): boolean {
  try {
    return Deno.env.get("OTEL_DENO") === "true";
  } catch {
    return false;
  }
}

/**
 * The observer of every RPC of an instance: metrics always, spans when
 * tracing is on, failures logged (server-side codes at warn, the rest at
 * debug).
 */
export function createObserver(
  metrics: RpcMetrics,
  log: Logger,
  options: ObserverOptions = {},
): CallObserver {
  const byMethod = new WeakMap<DescMethod, MethodMetrics>();
  const methodMetrics = (method: DescMethod): MethodMetrics => {
    let m = byMethod.get(method);
    if (m === undefined) {
      const labels = {
        grpc_type: method.methodKind === "unary"
          ? "unary"
          : method.methodKind === "bidi_streaming"
          ? "bidi_stream"
          : method.methodKind,
        grpc_service: method.parent.typeName,
        grpc_method: method.name,
      };
      m = {
        labels,
        rpc: `${labels.grpc_service}/${labels.grpc_method}`,
        started: metrics.started.labels(labels),
        seconds: metrics.handlingSeconds.labels(labels),
        handled: new Map(),
      };
      byMethod.set(method, m);
    }
    return m;
  };
  const tracing = options.tracing ?? tracingEnabled();
  // Failures come in bursts (an outage, an overload): one line per RPC and code a second.
  const throttle = new LogThrottle(options.logIntervalMs ?? 1000);
  const logFailures = options.logFailures ?? true;
  return {
    start(method) {
      methodMetrics(method).started.inc();
      return performance.now();
    },
    end(method, started, error) {
      const m = methodMetrics(method);
      const code = error?.code;
      let handled = m.handled.get(code);
      if (handled === undefined) {
        handled = metrics.handled.labels({ ...m.labels, grpc_code: grpcCodeName(code) });
        m.handled.set(code, handled);
      }
      handled.inc();
      m.seconds.observe((performance.now() - started) / 1000);
      if (error !== undefined && logFailures) {
        const serverSide = SERVER_SIDE.has(error.code);
        if (!serverSide && !log.enabled("debug")) return;
        const t = throttle.allow(`${m.rpc} ${error.code}`);
        if (!t.ok) return;
        (serverSide ? log.warn : log.debug)("rpc failed", {
          rpc: m.rpc,
          code: codeLabel(error.code),
          error: error.rawMessage,
          ...(t.suppressed > 0 ? { similarSuppressed: t.suppressed } : {}),
        });
      }
    },
    trace: tracing ? traceCall : undefined,
  };
}

/** Runs `fn` in a server span named `package.Service/Method`, parented by the caller's trace context. */
function traceCall<T>(desc: DescMethod, call: TracedCall, fn: () => Promise<T>): Promise<T> {
  const service = desc.parent.typeName;
  const method = desc.name;
  const parent = propagation.extract(context.active(), call.requestHeader, headerGetter);
  return tracer.startActiveSpan(
    `${service}/${method}`,
    {
      kind: SpanKind.SERVER,
      attributes: {
        "rpc.system": call.protocolName === "connect" ? "connect_rpc" : "grpc",
        "rpc.service": service,
        "rpc.method": method,
      },
    },
    parent,
    async (span) => {
      let code: Code | undefined;
      try {
        return await fn();
      } catch (err) {
        const ce = ConnectError.from(err);
        code = ce.code;
        span.setStatus({ code: SpanStatusCode.ERROR, message: ce.rawMessage });
        throw err;
      } finally {
        span.setAttribute("rpc.connect_rpc.error_code", codeLabel(code));
        span.setAttribute("rpc.grpc.status_code", code ?? 0);
        span.end();
      }
    },
  );
}

const headerGetter = {
  get: (h: Headers, key: string) => h.get(key) ?? undefined,
  keys: (h: Headers) => [...h.keys()],
};

/** The same observation as a connect-es interceptor, for calls the fast path does not take. */
export function observeInterceptor(observer: CallObserver): Interceptor {
  return (next) => async (req) => {
    const started = observer.start(req.method);
    let error: ConnectError | undefined;
    try {
      if (observer.trace === undefined) return await next(req);
      const call = { protocolName: protocolOf(req.header), requestHeader: req.header };
      return await observer.trace(req.method, call, () => next(req));
    } catch (e) {
      throw error = ConnectError.from(e);
    } finally {
      observer.end(req.method, started, error);
    }
  };
}

/** The protocol of a request on the connect-es path, from its content type. */
function protocolOf(header: Headers): string {
  const type = header.get("content-type") ?? "";
  return type.startsWith("application/grpc-web")
    ? "grpc-web"
    : type.startsWith("application/grpc")
    ? "grpc"
    : "connect";
}
