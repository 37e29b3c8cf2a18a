/**
 * Server stacks the conformance server under test (`server.ts`) can put under
 * the suite. A stack is one function: given a service (Connect routes) and
 * the few settings the runner asks for, serve it the way the product does and
 * say where. To test another serving path (say a fast unary path or a second
 * listener), add a function to {@linkcode SERVER_STACKS} and run
 * `deno task conformance --stack NAME`.
 *
 * @module
 */
import type { ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import type { Registry } from "@bufbuild/protobuf";
import { parseConfig } from "../server/config.ts";
import { withCors } from "../server/cors.ts";
import { observe } from "../server/interceptors.ts";
import { createLogger } from "../server/log.ts";
import { ServiceMetrics } from "../server/metrics.ts";
import { serveOnePort } from "../server/one_port.ts";

/** What a stack serves. */
export interface ServiceUnderTest {
  /** Registers the services on a Connect router. */
  readonly routes: (router: ConnectRouter) => void;
  /** Types packed in `google.protobuf.Any` fields, for the JSON codec. */
  readonly registry: Registry;
  /** Fully-qualified names of the services, e.g. for metrics labels. */
  readonly services: readonly string[];
}

/** Settings from the runner's `ServerCompatRequest`. */
export interface StackOptions {
  /**
   * Largest request message, as the product's `--read-max-bytes` (the
   * runner's `message_receive_limit`, 0 for the product's default).
   */
  readonly readMaxBytes: number;
  /** Serve TLS with this certificate and key (PEM). */
  readonly tls?: { readonly cert: string; readonly key: string };
}

/** A running stack. */
export interface RunningStack {
  /** Address clients connect to. */
  readonly host: string;
  readonly port: number;
  /** Stops serving. */
  close(): Promise<void>;
}

/** Serves `service` on an ephemeral loopback port. */
export type ServerStack = (
  service: ServiceUnderTest,
  options: StackOptions,
) => Promise<RunningStack>;

/**
 * The largest request message the product accepts for a receive limit asked
 * by the runner: the limit goes through the product's own `--read-max-bytes`
 * flag parsing (bounds included); 0 means the product's default.
 */
export function productReadMaxBytes(limit: number): number {
  const args = limit > 0 ? ["--read-max-bytes", String(limit)] : [];
  return parseConfig(args, () => undefined).readMaxBytes;
}

/**
 * The product's serving stack as `server/app.ts` builds it: connect-node's
 * adapter (with the product's metrics/tracing/logging interceptor and
 * `readMaxBytes`) behind the CORS wrapper, on `serveOnePort` (all
 * protocols and HTTP versions on one port, sniffed per connection).
 */
export const serveOnePortStack: ServerStack = async (service, options) => {
  const metrics = new ServiceMetrics(() => ({ flights: 0, waiters: 0 }));
  // Failed calls are the point of many test cases: log only errors.
  const log = createLogger({ service: "conformance" }, { level: "error" });
  const shutdown = new AbortController();
  const adapter = connectNodeAdapter({
    routes: service.routes,
    readMaxBytes: productReadMaxBytes(options.readMaxBytes),
    jsonOptions: { registry: service.registry },
    interceptors: [observe(metrics, log, {
      services: new Set(service.services),
      uncounted: new Set(),
    })],
    shutdownSignal: shutdown.signal,
  });
  const server = await serveOnePort({
    hostname: "127.0.0.1",
    port: 0,
    handler: withCors(["localhost"], adapter),
    tls: options.tls,
    shutdownController: shutdown,
    limits: { maxConcurrentStreams: 4096 },
  });
  return {
    host: "127.0.0.1",
    port: server.port,
    close: () => server.close({ graceMs: 1000 }),
  };
};

/** Stacks by name; the first is the default. */
export const SERVER_STACKS: Readonly<Record<string, ServerStack>> = {
  "one-port": serveOnePortStack,
};
