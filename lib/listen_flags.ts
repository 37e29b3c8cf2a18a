/**
 * The listening flags every server command shares (`deno task serve`,
 * `deno task gateway`): the fast listener's port, the TLS files and the drain
 * time, with their parsers, so both commands read them the same way.
 *
 * @module
 */
import * as defaults from "./defaults.ts";
import { FlagError } from "./flags.ts";

/** `--drain-ms D` (env `DRAIN_MS`): each command has its own default and words. */
export function drainFlag(defaultMs: number, help: string) {
  return {
    name: "drain-ms",
    env: "DRAIN_MS",
    type: "duration",
    bare: "ms",
    min: 0,
    max: 600_000,
    default: defaultMs,
    help,
  } as const;
}

/** `--fast-port PORT|off` (env `FAST_PORT`). */
export const FAST_PORT_FLAG = {
  name: "fast-port",
  env: "FAST_PORT",
  type: "string",
  arg: "PORT|off",
  help: "Second listener (Deno.serve): Connect and gRPC-web at about half the CPU per\n" +
    "call; clients find it in /healthz; 'off' = none",
  defaultHelp: "port + 1000; any free port when port is 0",
} as const;

/** `--tls-cert FILE` and `--tls-key FILE` (env `TLS_CERT`, `TLS_KEY`). */
export const TLS_FLAGS = [
  {
    name: "tls-cert",
    env: "TLS_CERT",
    type: "string",
    arg: "FILE",
    help: "PEM certificate file: serve TLS (HTTP/2 and HTTP/1.1 by ALPN)",
  },
  { name: "tls-key", env: "TLS_KEY", type: "string", arg: "FILE", help: "PEM private key file" },
] as const;

/** Where the PEM files are. */
export interface TlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
}

/**
 * `--fast-port`: a port, "off" (undefined: no fast listener), or unset
 * (port + 1000; 0, any free port, when port is 0).
 *
 * @throws {FlagError} for a bad value, a default past 65535, or the main port.
 */
export function parseFastPort(raw: string | undefined, port: number): number | undefined {
  if (raw === "off") return undefined;
  let fast: number;
  if (raw === undefined || raw === "") {
    fast = port === 0 ? 0 : port + defaults.FAST_PORT_OFFSET;
    if (fast > 65535) {
      throw new FlagError(
        `--fast-port defaults to --port + ${defaults.FAST_PORT_OFFSET} = ${fast}: give --fast-port`,
      );
    }
    return fast;
  }
  fast = Number(raw);
  if (!/^\d+$/.test(raw) || fast > 65535) {
    throw new FlagError(`--fast-port must be a port 0..65535 or 'off', got ${JSON.stringify(raw)}`);
  }
  if (fast !== 0 && fast === port) throw new FlagError("--fast-port must differ from --port");
  return fast;
}

/**
 * `--tls-cert` and `--tls-key`: both (TLS) or neither (cleartext).
 *
 * @throws {FlagError} when only one is given.
 */
export function parseTlsFlags(
  cert: string | undefined,
  key: string | undefined,
): TlsFiles | undefined {
  if (Boolean(cert) !== Boolean(key)) {
    throw new FlagError("--tls-cert and --tls-key must be given together");
  }
  return cert && key ? { certFile: cert, keyFile: key } : undefined;
}

/** Reads the PEM files (needs `--allow-read` on them). */
export async function readTlsFiles(files: TlsFiles): Promise<{ cert: string; key: string }> {
  return {
    cert: await Deno.readTextFile(files.certFile),
    key: await Deno.readTextFile(files.keyFile),
  };
}
