/**
 * The config file `connectconformance` reads for one invocation: the
 * features the side under test claims, for one protocol and HTTP version.
 *
 * @module
 */
import type { Combination, Mode } from "./combinations.ts";

const PROTOCOL_ENUM = {
  connect: "PROTOCOL_CONNECT",
  grpc: "PROTOCOL_GRPC",
  "grpc-web": "PROTOCOL_GRPC_WEB",
} as const;

/**
 * The runner's config file (YAML is a superset of JSON) for one invocation:
 * one protocol and HTTP version; proto and JSON; identity and gzip; every
 * stream type. The server claims message receive limits (`readMaxBytes`),
 * Connect GET and, with `tls`, TLS (the runner's certificate, HTTP/1.1 and
 * HTTP/2 by ALPN: every case then also runs over TLS). The client
 * (connect-node, whose `readMaxBytes` and `useHttpGet` it uses) runs
 * cleartext only: the router's transport factory takes no CA. Neither claims
 * bidi streams over HTTP/1.1 nor TLS client certificates.
 */
export function runnerConfig(mode: Mode, c: Combination, tls: boolean): string {
  const features = {
    versions: [c.http === "2" ? "HTTP_VERSION_2" : "HTTP_VERSION_1"],
    protocols: [PROTOCOL_ENUM[c.protocol]],
    codecs: ["CODEC_PROTO", "CODEC_JSON"],
    compressions: ["COMPRESSION_IDENTITY", "COMPRESSION_GZIP"],
    supportsH2c: c.http === "2",
    supportsTls: mode === "server" && tls,
    supportsTlsClientCerts: false,
    supportsTrailers: true,
    supportsHalfDuplexBidiOverHttp1: false,
    supportsConnectGet: true,
    supportsMessageReceiveLimit: true,
  };
  return JSON.stringify({ features }, null, 2) + "\n";
}
