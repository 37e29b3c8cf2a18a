/**
 * The bodies of a `deno task bench:rpc` case: the request body h2load
 * sends (a file for its `-d`, per protocol) and the size of one good
 * response body, probed on the case's own port, against which every
 * response byte h2load counted is checked.
 *
 * @module
 */
import { writeFile } from "node:fs/promises";
import { requestFor, type RpcCase, type RpcProtocol } from "./bench_rpc_cases.ts";
import { probe } from "./bench_rpc_probe.ts";

const BODY_FILE: Record<RpcProtocol, string> = {
  "connect-proto": "connect-proto.bin",
  "connect-json": "connect-json.json",
  "connect-get": "",
  "grpc-web": "grpc-web.bin",
  "grpc": "grpc.bin",
};

/** Writes the request body of `protocol` for h2load; returns its path (undefined for GET). */
export async function bodyFile(
  workDir: string,
  protocol: RpcProtocol,
): Promise<string | undefined> {
  const body = requestFor(protocol).body;
  if (body === undefined) return undefined;
  const path = `${workDir}/${BODY_FILE[protocol]}`;
  await writeFile(path, body);
  return path;
}

/**
 * The good response body size of a case: probed on the case's own port
 * (gRPC: the Connect binary body of the instance in a 5-byte frame).
 */
export async function expectedBodyBytes(
  c: RpcCase,
  url: string,
  instanceUrl: string,
): Promise<number> {
  if (c.protocol === "grpc") {
    return 5 + await probe(c.port === "floor" ? instanceUrl : url, "connect-proto");
  }
  return await probe(url, c.protocol);
}
