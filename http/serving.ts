/**
 * How an instance serves its services, in one place: the main port (every
 * protocol, node:http2/node:http, with the fast unary path in front of
 * connect-node) and the fast listener (Deno.serve: Connect and gRPC-web).
 * `app.ts` serves the data services with it; the conformance suite's server
 * under test serves `ConformanceService` with the very same function.
 *
 * @module
 */
import type { DescService, JsonReadOptions, JsonWriteOptions } from "@bufbuild/protobuf";
import type { Validator } from "@bufbuild/protovalidate";
import {
  type ConnectRouter,
  createConnectRouter,
  createContextValues,
  type Interceptor,
  type ServiceImpl,
} from "@connectrpc/connect";
import { compressionBrotli, compressionGzip } from "@connectrpc/connect-node";
import { Admission } from "./admission.ts";
import { corsHeaders, withCors } from "./cors.ts";
import { createFastRequestHandler, createFastStreamHandler } from "./fast/node_handler.ts";
import { ProcedureTable } from "./fast/procedures.ts";
import { DEFAULT_BODY_TIMEOUT_MS } from "./fast/body_deadline.ts";
import { type CallObserver, UnaryEngine } from "./fast/unary.ts";
import { type FastListener, serveFastListener } from "./fast_listener.ts";
import { nodeRoutes, type PlainRoutes } from "./routes.ts";
import { observeInterceptor } from "./observe.ts";
import { PEER, socketPeer } from "./peer.ts";
import { guardRequestBody } from "./request_body_guard.ts";
import { nodeAdapter } from "./node_adapter.ts";
import { requestErrorsInterceptor } from "./request_errors.ts";
import {
  DEFAULT_MAX_HEADER_BYTES,
  type NodeHandler,
  type OnePortLimits,
  serveOnePort,
} from "./one_port.ts";
import { reflectionServices } from "./reflection.ts";
import { requestValidation } from "./validation.ts";

/** A service and its implementation. */
export interface Registration {
  readonly service: DescService;
  // deno-lint-ignore no-explicit-any
  readonly impl: Partial<ServiceImpl<any>>;
}

/** Options of {@linkcode serve}. */
export interface ServeOptions {
  readonly hostname: string;
  /** Main port; 0 = any free port. */
  readonly port: number;
  /** Fast listener's port (0 = any free port); undefined = none. */
  readonly fastPort: number | undefined;
  readonly services: readonly Registration[];
  /** Largest request message (RESOURCE_EXHAUSTED past it). */
  readonly readMaxBytes: number;
  /**
   * Most milliseconds a unary request's body may take to arrive after its
   * head, on both listeners (DEADLINE_EXCEEDED past it); 0 = no bound.
   * Default {@linkcode DEFAULT_BODY_TIMEOUT_MS}.
   */
  readonly bodyTimeoutMs?: number;
  /**
   * Serve unary calls through the fast path (default true); false leaves
   * every call to connect-es (the library path, for comparison and as a
   * fallback if the fast path ever misbehaves).
   */
  readonly fastPath?: boolean;
  /** Main port limits (header size, timeouts, HTTP/2 streams per connection). */
  readonly limits?: OnePortLimits;
  /** Sees every call on both paths (metrics, traces, logs). */
  readonly observer: CallObserver;
  /**
   * Validates every request on both paths against its protovalidate rules
   * (INVALID_ARGUMENT with a `buf.validate.Violations` detail, see
   * validation.ts); undefined = no validation.
   */
  readonly validator?: Validator;
  /**
   * Also serve gRPC server reflection (`grpc.reflection.v1` and `v1alpha`,
   * bidi streams: native gRPC on the main port) describing every service
   * served; see reflection.ts.
   */
  readonly reflection?: boolean;
  /** `/healthz`, `/readyz`, `/metrics` and unknown procedures. */
  readonly plain: PlainRoutes;
  readonly corsOrigins: readonly string[];
  /** JSON options, e.g. a registry for `google.protobuf.Any`. */
  readonly jsonOptions?: Partial<JsonReadOptions & JsonWriteOptions>;
  /** PEM certificate and key: both listeners serve TLS. */
  readonly tls?: { cert: string; key: string };
  /** Client connection errors (never thrown). */
  readonly onError?: (error: unknown, where: string) => void;
  /**
   * Admission before work on both listeners: requests in flight past this
   * bound are answered RESOURCE_EXHAUSTED before their body is read
   * (default: no bound).
   */
  readonly maxInFlight?: number;
  /** Paths always admitted (health, stats); the plain routes always are. */
  readonly exempt?: Iterable<string>;
  /** Told of each request turned away by admission. */
  readonly onShed?: () => void;
}

/** Both listeners, running. */
export interface Serving {
  readonly url: string;
  readonly port: number;
  readonly fastUrl: string | undefined;
  readonly fastPort: number | undefined;
  /** Requests in flight (counted by admission; 0 without a bound). */
  readonly inFlight: () => number;
  /** Stops both: requests in flight get `graceMs` to finish. */
  close(graceMs: number): Promise<void>;
}

/** Starts both listeners; resolves once both ports are bound. */
export async function serve(o: ServeOptions): Promise<Serving> {
  const services = o.reflection
    ? [...o.services, ...reflectionServices(o.services.map((r) => r.service))]
    : o.services;
  const routes = (router: ConnectRouter) => {
    for (const r of services) router.service(r.service, r.impl);
  };
  const procedures = new ProcedureTable(o.jsonOptions);
  for (const r of services) procedures.add(r.service, r.impl);
  const validation = o.validator && requestValidation(o.validator);
  const engine = new UnaryEngine({
    readMaxBytes: o.readMaxBytes,
    observer: o.observer,
    validate: validation?.validate,
  });
  const shutdown = new AbortController();
  const bodyTimeoutMs = o.bodyTimeoutMs ?? DEFAULT_BODY_TIMEOUT_MS;
  // The observer first: it sees the calls that validation rejects.
  const interceptors: Interceptor[] = [observeInterceptor(o.observer), requestErrorsInterceptor()];
  if (validation) interceptors.push(validation.interceptor);
  const routerOptions = {
    readMaxBytes: o.readMaxBytes,
    jsonOptions: o.jsonOptions,
    interceptors,
    shutdownSignal: shutdown.signal,
  };
  // connect-node's adapter, over handlers whose request bodies are checked (request_body_guard.ts).
  const router = createConnectRouter({
    acceptCompression: [compressionGzip, compressionBrotli],
    ...routerOptions,
  });
  routes(router);
  const adapter = nodeAdapter(
    router.handlers.map((h) => guardRequestBody(h, { bodyTimeoutMs })),
    nodeRoutes(o.plain) as NodeHandler,
    (err) => o.onError?.(err, "handler"),
    // The caller's address for access logs (peer.ts); the fast path reads it on demand.
    (req) => createContextValues().set(PEER, socketPeer(req.socket)),
  );
  const fast = { engine, procedures, cors: corsHeaders(o.corsOrigins), bodyTimeoutMs };
  const fastPath = o.fastPath ?? true;
  const admission = o.maxInFlight === undefined || o.maxInFlight === Infinity
    ? undefined
    : new Admission({
      maxInFlight: o.maxInFlight,
      exempt: ["/healthz", "/readyz", "/metrics", ...(o.exempt ?? [])],
      onReject: o.onShed,
    });
  const main = await serveOnePort({
    hostname: o.hostname,
    port: o.port,
    handler: withCors(o.corsOrigins, adapter),
    fastStream: fastPath ? createFastStreamHandler(fast) : undefined,
    fastRequest: fastPath ? createFastRequestHandler(fast) : undefined,
    admission,
    tls: o.tls,
    shutdownController: shutdown,
    limits: o.limits,
    onError: (err, where) => o.onError?.(err, where),
  });
  let listener: FastListener | undefined;
  if (o.fastPort !== undefined) {
    try {
      listener = await serveFastListener({
        hostname: o.hostname,
        port: o.fastPort,
        engine,
        procedures: fastPath ? procedures : new ProcedureTable(),
        routes,
        routerOptions,
        plain: o.plain,
        corsOrigins: o.corsOrigins,
        mainPort: main.port,
        bodyTimeoutMs,
        maxHeaderBytes: o.limits?.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES,
        tls: o.tls,
        admission,
        onError: (err) => o.onError?.(err, "fast"),
      });
    } catch (err) {
      await main.close({ graceMs: 0 });
      throw err;
    }
  }
  return {
    url: main.url,
    port: main.port,
    fastUrl: listener?.url,
    fastPort: listener?.port,
    inFlight: () => admission?.inFlight ?? 0,
    close: async (graceMs) => {
      await Promise.all([main.close({ graceMs }), listener?.close(graceMs)]);
    },
  };
}
