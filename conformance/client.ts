/**
 * The conformance suite's client under test: reads `ClientCompatRequest`s
 * (size-delimited protobuf) from stdin, makes each call through a client
 * transport stack (`transports.ts`; the product's router transport unless
 * `--transport NAME`), and writes a `ClientCompatResponse` per call to
 * stdout as calls finish (up to `--parallel` calls at once, default 16).
 * Each call gets a fresh transport unless `--reuse` (one per configuration).
 * A call still running after `--call-watchdog-ms` (default 15 s, under the
 * runner's 20 s) is reported as a client error for that test alone.
 * Exits at the end of stdin once every call is done, or at once on SIGTERM.
 *
 * ```sh
 * connectconformance --mode client --conf … -- deno run -A conformance/client.ts [--transport router]
 * ```
 *
 * Requests for TLS, HTTP/3 or compressions other than gzip are answered with
 * an error result (not claimed in the suite's config).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  type ClientCompatRequest,
  ClientCompatRequestSchema,
  ClientCompatResponseSchema,
  ClientErrorResultSchema,
} from "../gen/connectrpc/conformance/v1/client_compat_pb.ts";
import {
  Codec,
  Compression,
  HTTPVersion,
  Protocol,
} from "../gen/connectrpc/conformance/v1/config_pb.ts";
import { frame, readFrames } from "./framing.ts";
import { InvalidRequestError, invoke } from "./invoke.ts";
import { CONFORMANCE_JSON_REGISTRY } from "./service.ts";
import {
  CLIENT_STACKS,
  type ClientConfig,
  type ClientStack,
  type ClosableClientTransport,
} from "./transports.ts";

/** The transport settings of a request. */
export function clientConfig(req: ClientCompatRequest): ClientConfig {
  if (req.serverTlsCert.length > 0) throw new InvalidRequestError("TLS is not supported");
  const protocols: Partial<Record<Protocol, ClientConfig["protocol"]>> = {
    [Protocol.CONNECT]: "connect",
    [Protocol.GRPC]: "grpc",
    [Protocol.GRPC_WEB]: "grpc-web",
  };
  const versions: Partial<Record<HTTPVersion, ClientConfig["httpVersion"]>> = {
    [HTTPVersion.HTTP_VERSION_1]: "1.1",
    [HTTPVersion.HTTP_VERSION_2]: "2",
  };
  const compressions: Partial<Record<Compression, ClientConfig["compression"]>> = {
    [Compression.UNSPECIFIED]: "identity",
    [Compression.IDENTITY]: "identity",
    [Compression.GZIP]: "gzip",
  };
  const protocol = protocols[req.protocol];
  const httpVersion = versions[req.httpVersion];
  const compression = compressions[req.compression];
  if (!protocol) throw new InvalidRequestError(`unsupported protocol ${Protocol[req.protocol]}`);
  if (!httpVersion) throw new InvalidRequestError(`unsupported ${HTTPVersion[req.httpVersion]}`);
  if (!compression) {
    throw new InvalidRequestError(`unsupported compression ${Compression[req.compression]}`);
  }
  if (req.codec !== Codec.PROTO && req.codec !== Codec.JSON) {
    throw new InvalidRequestError(`unsupported codec ${Codec[req.codec]}`);
  }
  return {
    host: req.host,
    port: req.port,
    protocol,
    httpVersion,
    binary: req.codec === Codec.PROTO,
    compression,
    readMaxBytes: req.messageReceiveLimit > 0 ? req.messageReceiveLimit : undefined,
    useHttpGet: req.useGetHttpMethod,
    registry: CONFORMANCE_JSON_REGISTRY,
  };
}

/**
 * Where calls get their transport: a fresh one per call (default, like
 * connect-es's own conformance client: a call that breaks its connection
 * cannot fail the next test cases), or with `reuse` one per distinct
 * configuration for the whole run (connection reuse under the suite).
 */
class Transports {
  readonly #made = new Map<string, ClosableClientTransport>();
  constructor(readonly stack: ClientStack, readonly reuse: boolean) {}

  /** Runs `fn` with a transport for `config`. */
  async with<T>(config: ClientConfig, fn: (t: ClosableClientTransport) => Promise<T>): Promise<T> {
    if (!this.reuse) {
      const transport = this.stack(config);
      try {
        return await fn(transport);
      } finally {
        await transport.close();
      }
    }
    const { registry: _, ...key } = config;
    const id = JSON.stringify(key);
    let transport = this.#made.get(id);
    if (transport === undefined) {
      transport = this.stack(config);
      this.#made.set(id, transport);
    }
    return await fn(transport);
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.#made.values()].map((t) => t.close()));
  }
}

/** Rejects after `ms` with a message naming the test, unless `promise` settles first. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`client watchdog: ${what} did not finish within ${ms} ms (hung)`)),
      ms,
    );
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Makes the call of one request; failures to make it become an error result.
 * A call still running after `watchdogMs` is reported as an error (the runner
 * would otherwise wait 20 s, then give up on every call left).
 */
async function run(
  transports: Transports,
  bytes: Uint8Array,
  watchdogMs: number,
): Promise<Uint8Array> {
  const req = fromBinary(ClientCompatRequestSchema, bytes);
  const res = create(ClientCompatResponseSchema, { testName: req.testName });
  try {
    const call = transports.with(clientConfig(req), (t) => invoke(t, req));
    const value = await within(call, watchdogMs, "the call");
    res.result = { case: "response", value };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    res.result = { case: "error", value: create(ClientErrorResultSchema, { message }) };
  }
  return toBinary(ClientCompatResponseSchema, res);
}

function writeAll(bytes: Uint8Array): void {
  for (let written = 0; written < bytes.byteLength;) {
    written += Deno.stdout.writeSync(bytes.subarray(written));
  }
}

async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      transport: { type: "string", default: Object.keys(CLIENT_STACKS)[0] },
      parallel: { type: "string", default: "16" },
      reuse: { type: "boolean", default: false },
      "call-watchdog-ms": { type: "string", default: "15000" },
    },
  });
  const stack = CLIENT_STACKS[values.transport!];
  if (stack === undefined) {
    throw new Error(
      `unknown --transport ${values.transport}; known: ${Object.keys(CLIENT_STACKS).join(", ")}`,
    );
  }
  const parallel = Number(values.parallel);
  if (!Number.isInteger(parallel) || parallel < 1) throw new Error("--parallel must be >= 1");
  const watchdogMs = Number(values["call-watchdog-ms"]);
  if (!(watchdogMs > 0)) throw new Error("--call-watchdog-ms must be > 0");
  Deno.addSignalListener("SIGTERM", () => Deno.exit(0));
  // A rejection nobody handles (inside a client library) would end this
  // process and every test after it: report it on stderr, where the runner
  // shows it, and go on.
  globalThis.addEventListener("unhandledrejection", (event) => {
    event.preventDefault();
    const reason = event.reason instanceof Error ? event.reason.stack : String(event.reason);
    console.error(`conformance client: unhandled rejection: ${reason}`);
  });
  const transports = new Transports(stack, values.reuse!);
  const running = new Set<Promise<void>>();
  for await (const bytes of readFrames(Deno.stdin.readable)) {
    while (running.size >= parallel) await Promise.race(running);
    const call: Promise<void> = run(transports, bytes, watchdogMs)
      .then((res) => writeAll(frame(res)))
      .finally(() => running.delete(call));
    running.add(call);
  }
  await Promise.all(running);
  await transports.close();
}

if (import.meta.main) {
  try {
    await main(Deno.args);
    Deno.exit(0);
  } catch (err) {
    console.error(`conformance client: ${err instanceof Error ? err.message : err}`);
    Deno.exit(1);
  }
}
