/**
 * The conformance suite's server under test: reads one `ServerCompatRequest`
 * (size-delimited protobuf) from stdin, serves `ConformanceService`
 * (`service.ts`) through a server stack (`stacks.ts`; the product's one-port
 * stack unless `--stack NAME`) on an ephemeral loopback port, writes the
 * `ServerCompatResponse` to stdout, and serves until SIGTERM.
 *
 * ```sh
 * connectconformance --mode server --conf … -- deno run -A conformance/server.ts [--stack one-port]
 * ```
 *
 * Every protocol and HTTP version is served on the port whatever the request
 * asks for; a request for TLS client certificates is refused (not claimed in
 * the suite's config).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  ServerCompatRequestSchema,
  ServerCompatResponseSchema,
} from "../gen/connectrpc/conformance/v1/server_compat_pb.ts";
import { ConformanceService } from "../gen/connectrpc/conformance/v1/service_pb.ts";
import { frame, readFrames } from "./framing.ts";
import { CONFORMANCE_JSON_REGISTRY, conformanceService } from "./service.ts";
import { SERVER_STACKS, type ServiceUnderTest } from "./stacks.ts";

/** The service the suite calls. */
export const CONFORMANCE_SERVICE: ServiceUnderTest = {
  services: [{ service: ConformanceService, impl: conformanceService() }],
  registry: CONFORMANCE_JSON_REGISTRY,
};

async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { stack: { type: "string", default: Object.keys(SERVER_STACKS)[0] } },
  });
  const stack = SERVER_STACKS[values.stack!];
  if (stack === undefined) {
    throw new Error(
      `unknown --stack ${values.stack}; known: ${Object.keys(SERVER_STACKS).join(", ")}`,
    );
  }
  let bytes: Uint8Array | undefined;
  for await (const message of readFrames(Deno.stdin.readable)) {
    bytes = message;
    break;
  }
  if (bytes === undefined) throw new Error("no ServerCompatRequest on stdin");
  const req = fromBinary(ServerCompatRequestSchema, bytes);
  if (req.clientTlsCert.length > 0) throw new Error("TLS client certificates are not supported");
  const decoder = new TextDecoder();
  const creds = req.useTls ? req.serverCreds : undefined;
  if (req.useTls && creds === undefined) throw new Error("use_tls without server_creds");
  const running = await stack(CONFORMANCE_SERVICE, {
    readMaxBytes: req.messageReceiveLimit,
    tls: creds && { cert: decoder.decode(creds.cert), key: decoder.decode(creds.key) },
  });
  Deno.addSignalListener("SIGTERM", () => {
    // The runner sends SIGTERM once its calls are done: nothing left to drain.
    Deno.exit(0);
  });
  const res = toBinary(
    ServerCompatResponseSchema,
    create(ServerCompatResponseSchema, {
      host: running.host,
      port: running.port,
      pemCert: creds?.cert,
    }),
  );
  const out = frame(res);
  for (let written = 0; written < out.byteLength;) {
    written += Deno.stdout.writeSync(out.subarray(written));
  }
}

if (import.meta.main) {
  try {
    await main(Deno.args);
  } catch (err) {
    console.error(`conformance server: ${err instanceof Error ? err.message : err}`);
    Deno.exit(1);
  }
}
