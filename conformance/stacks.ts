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
import type { Registry } from "@bufbuild/protobuf";
import { parseConfig } from "../server/config.ts";
import { plainRoutes } from "../http/routes.ts";
import { createLogger } from "../lib/log.ts";
import { ServiceMetrics } from "../server/metrics.ts";
import { createObserver } from "../http/observe.ts";
import { type Registration, serve, type Serving } from "../http/serving.ts";

/** What a stack serves. */
export interface ServiceUnderTest {
  /** The services and their implementations. */
  readonly services: readonly Registration[];
  /** Types packed in `google.protobuf.Any` fields, for the JSON codec. */
  readonly registry: Registry;
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
 * Serves `service` with the product's own serving function (`serve` from
 * http/serving.ts, as `server/app.ts` does) and hands back one of its
 * listeners.
 */
function productStack(listener: "main" | "fast", fastPath: boolean): ServerStack {
  return async (service, options) => {
    const metrics = new ServiceMetrics(() => ({ flights: 0, waiters: 0 }));
    // Failed calls are the point of many test cases: log only errors.
    const log = createLogger({ service: "conformance" }, { level: "error" });
    const serving: Serving = await serve({
      hostname: "127.0.0.1",
      port: 0,
      fastPort: listener === "fast" ? 0 : undefined,
      services: service.services,
      readMaxBytes: productReadMaxBytes(options.readMaxBytes),
      fastPath,
      observer: createObserver(metrics, log, { tracing: false }),
      plain: plainRoutes({
        health: () => ({}),
        ready: () => ({ ok: true, reason: "" }),
        metrics: () => metrics.exposition(),
      }),
      corsOrigins: ["localhost"],
      jsonOptions: { registry: service.registry },
      tls: options.tls,
    });
    return {
      host: "127.0.0.1",
      port: listener === "fast" ? serving.fastPort! : serving.port,
      close: () => serving.close(1000),
    };
  };
}

/**
 * Stacks by name; the first is the default.
 *
 * - `main`: the instance's main port (node:http2 and node:http), with the
 *   fast unary path in front of connect-node: what every client of port
 *   50051 gets;
 * - `fast`: the fast listener (Deno.serve), Connect and gRPC-web only;
 * - `connect-node`: the main port with the fast path off (`--no-fast-path`):
 *   the library path the fast path must behave like.
 */
export const SERVER_STACKS: Readonly<Record<string, ServerStack>> = {
  main: productStack("main", true),
  fast: productStack("fast", true),
  "connect-node": productStack("main", false),
};

/** Protocols a stack serves (the fast listener has no native gRPC: no trailers in Deno.serve). */
export function stackServes(stack: string, protocol: string): boolean {
  return stack !== "fast" || protocol !== "grpc";
}
