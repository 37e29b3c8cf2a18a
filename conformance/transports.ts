/**
 * Client transports the conformance client under test (`client.ts`) can put
 * under the suite. A transport stack is one function: given the connection
 * settings of a `ClientCompatRequest`, return the `Transport` users would
 * build for them. To test another client path (say a lean transport), add a
 * function to {@linkcode CLIENT_STACKS} and run
 * `deno task conformance --transport NAME`.
 *
 * @module
 */
import type { Transport } from "@connectrpc/connect";
import { compressionGzip } from "@connectrpc/connect-node";
import type { Registry } from "@bufbuild/protobuf";
import { createNodeTransportFactory } from "../router/node.ts";
import { createFastTransportFactory } from "../router/fast_factory.ts";
import { createRoutingTransport } from "../router/transport.ts";

/** How to reach the reference server, from a `ClientCompatRequest`. */
export interface ClientConfig {
  readonly host: string;
  readonly port: number;
  readonly protocol: "connect" | "grpc" | "grpc-web";
  readonly httpVersion: "1.1" | "2";
  /** Binary protobuf, else JSON. */
  readonly binary: boolean;
  /** Request compression (responses: the same, or none for identity). */
  readonly compression: "identity" | "gzip";
  /** Largest response message, if limited. */
  readonly readMaxBytes?: number;
  /** Connect: side-effect-free methods as HTTP GET. */
  readonly useHttpGet: boolean;
  /** Types in `google.protobuf.Any` fields, for JSON. */
  readonly registry: Registry;
}

/** A transport the client closes when it is done. */
export type ClosableClientTransport = Transport & { close(): Promise<void> };

/** Builds the transport for one configuration (the client reuses it for every call with it). */
export type ClientStack = (config: ClientConfig) => ClosableClientTransport;

/**
 * The product's client path: the routing transport (`router/transport.ts`)
 * over one instance, with connect-node transports from
 * `createNodeTransportFactory` (`router/node.ts`). Health probing is off
 * (`probeIntervalMs: 0`) so the reference server sees only the suite's calls.
 */
export const routerClientStack: ClientStack = (config) => {
  const gzip = config.compression === "gzip";
  return createRoutingTransport({
    instances: [`${config.host}:${config.port}`],
    probeIntervalMs: 0,
    createTransport: createNodeTransportFactory({
      protocol: config.protocol,
      httpVersion: config.httpVersion,
      useBinaryFormat: config.binary,
      sendCompression: gzip ? compressionGzip : undefined,
      acceptCompression: gzip ? [compressionGzip] : [],
      // Compress every message, empty ones included, so the suite sees the encoding.
      compressMinBytes: gzip ? -1 : undefined,
      readMaxBytes: config.readMaxBytes,
      useHttpGet: config.useHttpGet,
      jsonOptions: { registry: config.registry },
    }),
  });
};

/**
 * The router over the lean Connect transport (router/lean_transport.ts, the
 * default of router/node.ts and the load CLI) for what it serves: Connect,
 * identity, POST, HTTP/1.1 or HTTP/2. The rest (gRPC, gRPC-web, gzip, GET)
 * goes through {@linkcode routerClientStack}, as the product's own
 * protocol override would.
 */
export const leanClientStack: ClientStack = (config) => {
  if (config.protocol !== "connect" || config.compression !== "identity" || config.useHttpGet) {
    return routerClientStack(config);
  }
  return createRoutingTransport({
    instances: [`${config.host}:${config.port}`],
    probeIntervalMs: 0,
    createTransport: createFastTransportFactory({
      httpVersion: config.httpVersion,
      useBinaryFormat: config.binary,
      jsonOptions: { registry: config.registry },
      // The reference server has no fast listener to find.
      discover: false,
    }),
  });
};

/** Transport stacks by name; the first is the default. */
export const CLIENT_STACKS: Readonly<Record<string, ClientStack>> = {
  router: routerClientStack,
  lean: leanClientStack,
};

/** Protocols a client transport speaks itself (the lean one: Connect only). */
export function transportSpeaks(transport: string, protocol: string): boolean {
  return transport !== "lean" || protocol === "connect";
}
