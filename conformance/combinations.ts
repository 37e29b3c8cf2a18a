/**
 * What the conformance runner is asked to test in one invocation: a mode
 * (the project's server or its client under test) and a protocol over an
 * HTTP version.
 *
 * @module
 */

/** Which side of the project is under test. */
export type Mode = "server" | "client";
/** A protocol over an HTTP version: one runner invocation per mode. */
export interface Combination {
  readonly protocol: "connect" | "grpc" | "grpc-web";
  readonly http: "1.1" | "2";
}

/** Every protocol × HTTP version the project supports (gRPC needs HTTP/2). */
export const COMBINATIONS: readonly Combination[] = [
  { protocol: "connect", http: "1.1" },
  { protocol: "connect", http: "2" },
  { protocol: "grpc", http: "2" },
  { protocol: "grpc-web", http: "1.1" },
  { protocol: "grpc-web", http: "2" },
];

/** `connect/2`, `grpc-web/1.1`. */
export const label = (c: Combination) => `${c.protocol}/${c.http}`;
