/**
 * The gateway's way to its instances: the router client (router/node.ts)
 * over, by default, the lean Connect transport to each instance's fast
 * listener (router/fast_factory.ts), or connect-node to each instance's main
 * port when a protocol is named. Every instance's transport is wrapped so that
 *
 * - a call's {@linkcode CallRoute} (when it carries one) learns which instance
 *   each attempt went to, for access logs;
 * - a failure that did not come from the instance (a reset or cancelled
 *   HTTP/2 stream, a premature close, a socket hang-up) becomes UNAVAILABLE
 *   before the router sees it: connect-node reports a killed instance as
 *   CANCELED ("http/2 stream closed with error code CANCEL"), ABORTED
 *   ("read ECONNRESET") or INTERNAL/UNKNOWN ("Premature close"), codes the
 *   router neither retries nor reads as "instance down", and clients do not
 *   retry either. So the router's one retry of idempotent reads on the
 *   fallback and its mark-down apply to every protocol.
 *
 * @module
 */
import { type ContextValues, createContextKey } from "@connectrpc/connect";
import { createFastTransportFactory } from "../router/fast_factory.ts";
import { reportLostInstance } from "../router/lost_instance.ts";
import type { TransportFactory } from "../router/membership.ts";
import { createNodeRoutingTransport, createNodeTransportFactory } from "../router/node.ts";
import type { HealthChange, RoutingTransport } from "../router/transport.ts";

/** Towards the instances: "fast" (lean Connect to the fast listener) or a connect-node protocol. */
export type UpstreamProtocol = "fast" | "grpc" | "connect" | "grpc-web";

/** The protocols, default first. */
export const UPSTREAM_PROTOCOLS: readonly UpstreamProtocol[] = Object.freeze([
  "fast",
  "grpc",
  "connect",
  "grpc-web",
]);

/** Where one forwarded call went; filled in by the instances' transports. */
export class CallRoute {
  /** The instance of the last attempt. */
  instance: string | undefined = undefined;
  /** Attempts made (2 when the router retried on the fallback). */
  attempts = 0;
}

/** The context value that carries a call's {@linkcode CallRoute} to the transports. */
export const CALL_ROUTE = createContextKey<CallRoute | undefined>(undefined, {
  description: "where a forwarded call went",
});

/** Options of {@linkcode createUpstream}. */
export interface UpstreamOptions {
  /** Ordered `host:port` list, or one `dns:`/`dns+srv:` target (router/dns.ts). */
  readonly targets?: readonly string[];
  /** A membership file, watched (used when `targets` is not given). */
  readonly targetsFile?: string;
  /** Default "fast". */
  readonly protocol?: UpstreamProtocol;
  /** Deadline of calls whose caller set none (ms). */
  readonly defaultTimeoutMs?: number;
  /** Between health probe rounds (ms; router default 1000). */
  readonly probeIntervalMs?: number;
  /** Deadline of one health probe (ms). */
  readonly probeTimeoutMs?: number;
  readonly onHealthChange?: (change: HealthChange) => void;
  readonly onInstancesChange?: (list: readonly string[]) => void;
  /** A membership file or DNS name could not be read (the list in use stays). */
  readonly onSourceError?: (what: "file" | "dns", error: unknown) => void;
}

/** The router over the instances, with the transports described in the module doc. */
export function createUpstream(o: UpstreamOptions): Promise<RoutingTransport> {
  const protocol = o.protocol ?? "fast";
  const factory = protocol === "fast"
    ? createFastTransportFactory({ defaultTimeoutMs: o.defaultTimeoutMs })
    : createNodeTransportFactory({ protocol, defaultTimeoutMs: o.defaultTimeoutMs });
  return createNodeRoutingTransport({
    instances: o.targets,
    file: o.targetsFile,
    env: false,
    createTransport: guardedFactory(factory),
    probeIntervalMs: o.probeIntervalMs,
    probeTimeoutMs: o.probeTimeoutMs,
    onHealthChange: o.onHealthChange,
    onInstancesChange: o.onInstancesChange,
    watch: { onError: (error) => o.onSourceError?.("file", error) },
    dns: { onError: (error) => o.onSourceError?.("dns", error) },
  });
}

/**
 * Wraps every transport `factory` makes: notes each attempt in the call's
 * {@linkcode CallRoute} and turns a lost instance into UNAVAILABLE (see the
 * module doc).
 */
export function guardedFactory(factory: TransportFactory): TransportFactory {
  return (instance) => {
    const inner = reportLostInstance(factory(instance), instance);
    const note = (values: ContextValues | undefined) => {
      const route = values?.get(CALL_ROUTE);
      if (route !== undefined) {
        route.instance = instance.id;
        route.attempts++;
      }
    };
    return {
      unary(method, signal, timeoutMs, header, input, values) {
        note(values);
        return inner.unary(method, signal, timeoutMs, header, input, values);
      },
      stream(method, signal, timeoutMs, header, input, values) {
        note(values);
        return inner.stream(method, signal, timeoutMs, header, input, values);
      },
      close: () => inner.close?.(),
    };
  };
}
