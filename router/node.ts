/**
 * Server-side helpers for the router (Deno, and Node where noted): instance
 * lists from flags, the `DATA_SERVICES` environment variable, a file that is
 * re-read when it changes or a DNS name that is re-resolved (`router/dns.ts`),
 * and transports from connect-node (HTTP/2, or HTTP/1.1 for Connect and
 * gRPC-web).
 *
 * Browsers use `router/mod.ts` only, with a connect-web transport factory.
 *
 * @module
 */

import * as http from "node:http";
import * as https from "node:https";
import {
  type ConnectTransportOptions,
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
  Http2SessionManager,
  type Http2SessionOptions,
} from "@connectrpc/connect-node";
import type { Interceptor } from "@connectrpc/connect";
import {
  type DnsWatchOptions,
  isDnsTarget,
  parseDnsTarget,
  resolveDnsTarget,
  watchDnsTarget,
} from "./dns.ts";
import { type InstanceInit, parseInstanceList, type TransportFactory } from "./membership.ts";
import { reportLostInstance } from "./lost_instance.ts";
import { createFastTransportFactory } from "./fast_factory.ts";
import {
  createRoutingTransport,
  type RoutingTransport,
  type RoutingTransportOptions,
} from "./transport.ts";

/** Name of the environment variable holding the instance list. */
export const DATA_SERVICES_ENV = "DATA_SERVICES";

/**
 * The instance list in the environment variable `name` (default
 * `DATA_SERVICES`, e.g. `"127.0.0.1:50051,127.0.0.1:50052"`), or `undefined`
 * if it is unset or empty. Needs `--allow-env`.
 */
export function instancesFromEnv(name: string = DATA_SERVICES_ENV): string[] | undefined {
  const value = Deno.env.get(name);
  if (value === undefined) return undefined;
  const list = parseInstanceList(value);
  return list.length === 0 ? undefined : list;
}

/**
 * Reads an instance list file: one instance per line or comma-separated,
 * `#` comments. Needs `--allow-read`.
 *
 * @throws {Deno.errors.NotFound} if the file does not exist.
 */
export async function readInstancesFile(path: string): Promise<string[]> {
  return parseInstanceList(await Deno.readTextFile(path));
}

/** Options of {@linkcode watchInstancesFile}. */
export interface WatchOptions {
  /** Wait this long after the last change event before re-reading (default 100 ms). */
  readonly debounceMs?: number;
  /** Called when the file cannot be read or parsed; the watch goes on. */
  readonly onError?: (error: unknown) => void;
}

/** A running file watch. */
export interface InstancesFileWatch {
  /** Stops watching. Idempotent. */
  close(): void;
}

/**
 * Calls `onChange` with the new list each time the file's list changes
 * (comparing entries and order, so touching the file or editing comments
 * does nothing). A file that reads empty is ignored: editors truncate before
 * writing, so an empty list is taken as "being rewritten", not "no instance".
 * Watches the file's directory, so editors that replace the file by renaming
 * are followed, and so are Kubernetes ConfigMap volumes, which swap a `..data`
 * symlink (a ConfigMap mounted with `subPath` is never updated by Kubernetes:
 * mount the whole volume). Does not call `onChange` for the current contents:
 * read them first with {@linkcode readInstancesFile}.
 *
 * @param initial the list currently in use (changes are relative to it).
 */
export function watchInstancesFile(
  path: string,
  initial: readonly string[],
  onChange: (list: string[]) => void,
  options: WatchOptions = {},
): InstancesFileWatch {
  const debounceMs = options.debounceMs ?? 100;
  const absolute = resolvePath(path);
  const dir = absolute.slice(0, absolute.lastIndexOf("/")) || "/";
  const watcher = Deno.watchFs(dir, { recursive: false });
  // The file itself, or Kubernetes' AtomicWriter at work: a ConfigMap volume
  // holds `name -> ..data/name`, and an update writes a new `..<timestamp>`
  // directory and renames a `..data_tmp` symlink over `..data`, so no event
  // ever names the file.
  const prefix = dir === "/" ? "/" : `${dir}/`;
  const concerns = (p: string) =>
    p === absolute || (p.startsWith(`${prefix}..`) && !p.slice(prefix.length).includes("/"));
  let last = initial.join("\n");
  let timer: ReturnType<typeof setTimeout> | undefined;
  let closed = false;

  const reread = async () => {
    timer = undefined;
    try {
      const list = await readInstancesFile(absolute);
      // A file being rewritten can read empty for a moment: keep the list.
      if (closed || list.length === 0) return;
      const joined = list.join("\n");
      if (joined === last) return;
      last = joined;
      onChange(list);
    } catch (error) {
      if (!closed) options.onError?.(error);
    }
  };

  (async () => {
    try {
      for await (const event of watcher) {
        if (!event.paths.some(concerns)) continue;
        if (timer !== undefined) clearTimeout(timer);
        timer = setTimeout(reread, debounceMs);
      }
    } catch (error) {
      if (!closed) options.onError?.(error);
    }
  })();

  return {
    close() {
      if (closed) return;
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      watcher.close();
    },
  };
}

function resolvePath(path: string): string {
  if (path.startsWith("/")) return path;
  const cwd = Deno.cwd();
  return `${cwd === "/" ? "" : cwd}/${path.replace(/^\.\//, "")}`;
}

/** Where {@linkcode resolveInstances} looks, in order of precedence. */
export interface InstanceSources {
  /** Explicit list (e.g. from `--instances a:1,b:2`); a string is parsed. */
  readonly instances?: string | Iterable<string>;
  /** A membership file. */
  readonly file?: string;
  /** Environment variable name (default `DATA_SERVICES`); `false` to skip it. */
  readonly env?: string | false;
}

/**
 * The first non-empty list among: explicit `instances`, the `file`, the
 * environment variable. Empty if none is given.
 */
export async function resolveInstances(sources: InstanceSources): Promise<string[]> {
  if (sources.instances !== undefined) {
    const list = typeof sources.instances === "string"
      ? parseInstanceList(sources.instances)
      : [...sources.instances];
    if (list.length > 0) return list;
  }
  if (sources.file !== undefined) return await readInstancesFile(sources.file);
  if (sources.env !== false) return instancesFromEnv(sources.env || DATA_SERVICES_ENV) ?? [];
  return [];
}

/** Options of {@linkcode createNodeTransportFactory}. */
export interface NodeTransportFactoryOptions extends
  Http2SessionOptions,
  Pick<
    ConnectTransportOptions,
    | "sendCompression"
    | "acceptCompression"
    | "compressMinBytes"
    | "readMaxBytes"
    | "writeMaxBytes"
    | "jsonOptions"
    | "binaryOptions"
  > {
  /** Wire protocol (default `"grpc"`). */
  readonly protocol?: "grpc" | "connect" | "grpc-web";
  /**
   * HTTP version (default `"2"`: one HTTP/2 connection per instance, h2c for
   * `http://`). `"1.1"`: a keep-alive connection pool per instance (Connect
   * and gRPC-web only; gRPC needs HTTP/2); the HTTP/2 session options do not
   * apply.
   */
  readonly httpVersion?: "2" | "1.1";
  /** Binary protobuf (default true); false sends JSON (Connect and gRPC-web only). */
  readonly useBinaryFormat?: boolean;
  /** Connect only: send side-effect-free methods as HTTP GET (default false). */
  readonly useHttpGet?: boolean;
  /** Interceptors applied to every call on every instance. */
  readonly interceptors?: Interceptor[];
  /** Default deadline of calls that set none. */
  readonly defaultTimeoutMs?: number;
}

/**
 * A {@linkcode TransportFactory} for connect-node: per instance, one HTTP/2
 * connection (an `Http2SessionManager`) or, with `httpVersion: "1.1"`, one
 * keep-alive `http.Agent`; either is closed when the router closes the
 * transport. Works in Deno and Node.
 *
 * @throws {TypeError} for gRPC over HTTP/1.1.
 *
 * @example
 * ```ts
 * const router = createRoutingTransport({
 *   instances: ["127.0.0.1:50051", "127.0.0.1:50052"],
 *   createTransport: createNodeTransportFactory({ protocol: "grpc" }),
 * });
 * ```
 */
export function createNodeTransportFactory(
  options: NodeTransportFactoryOptions = {},
): TransportFactory {
  const { protocol = "grpc", httpVersion = "2", useBinaryFormat = true } = options;
  if (protocol === "grpc" && httpVersion !== "2") {
    throw new TypeError('gRPC needs HTTP/2: use httpVersion "2" or another protocol');
  }
  const session: Http2SessionOptions = {
    pingIntervalMs: options.pingIntervalMs,
    pingIdleConnection: options.pingIdleConnection,
    pingTimeoutMs: options.pingTimeoutMs,
    idleConnectionTimeoutMs: options.idleConnectionTimeoutMs,
  };
  const common = {
    useBinaryFormat,
    interceptors: options.interceptors,
    defaultTimeoutMs: options.defaultTimeoutMs,
    sendCompression: options.sendCompression,
    // Identity unless asked: connect-node under Deno 2.9.6 can fail gzip responses with
    // "Premature close" (conformance/known-flaky-client.txt), and our messages are small.
    // (What we send compressed may come back compressed the same way: accept that one.)
    acceptCompression: options.acceptCompression ??
      (options.sendCompression ? [options.sendCompression] : []),
    compressMinBytes: options.compressMinBytes,
    readMaxBytes: options.readMaxBytes,
    writeMaxBytes: options.writeMaxBytes,
    jsonOptions: options.jsonOptions,
    binaryOptions: options.binaryOptions,
  };
  return (instance) => {
    let http1: { httpVersion: "1.1"; nodeOptions: { agent: http.Agent } } | undefined;
    let http2: { httpVersion: "2"; sessionManager: Http2SessionManager } | undefined;
    if (httpVersion === "1.1") {
      const Agent = instance.baseUrl.startsWith("https:") ? https.Agent : http.Agent;
      http1 = { httpVersion: "1.1", nodeOptions: { agent: new Agent({ keepAlive: true }) } };
    } else {
      http2 = {
        httpVersion: "2",
        sessionManager: new Http2SessionManager(instance.baseUrl, session),
      };
    }
    const base = { ...common, baseUrl: instance.baseUrl };
    const transport = protocol === "connect"
      ? createConnectTransport({ ...base, ...(http1 ?? http2!), useHttpGet: options.useHttpGet })
      : protocol === "grpc-web"
      ? createGrpcWebTransport({ ...base, ...(http1 ?? http2!) })
      : createGrpcTransport({ ...base, ...http2! });
    // A killed instance's reset or closed stream reaches callers as UNAVAILABLE (lost_instance.ts).
    return reportLostInstance({
      unary: transport.unary.bind(transport),
      stream: transport.stream.bind(transport),
      close: () => {
        http2?.sessionManager.abort();
        http1?.nodeOptions.agent.destroy();
      },
    }, instance);
  };
}

/** Options of {@linkcode createNodeRoutingTransport}. */
export interface NodeRoutingTransportOptions
  extends
    Omit<RoutingTransportOptions, "instances" | "createTransport">,
    InstanceSources,
    NodeTransportFactoryOptions {
  /**
   * The instances' transports. Default: with no `protocol`, the lean Connect
   * transport over `fetch` to each instance's fast listener
   * (`createFastTransportFactory`, `connections` per instance); with a
   * `protocol`, connect-node to the main port (`createNodeTransportFactory`).
   */
  readonly createTransport?: TransportFactory;
  /** HTTP/2 connections per instance of the default (lean) factory (default 1). */
  readonly connections?: number;
  /** Options of the file watch (when `file` is the source used). */
  readonly watch?: WatchOptions;
  /** Options of the DNS watch (when the list is a `dns:` target, see `router/dns.ts`). */
  readonly dns?: DnsWatchOptions;
  /** Called after the router took a new list from the watched file or DNS. */
  readonly onInstancesChange?: (list: readonly string[]) => void;
}

/**
 * A routing transport whose list comes from `instances`, else `file`, else
 * `DATA_SERVICES`, with connect-node transports ({@linkcode createNodeTransportFactory}). When the list comes
 * from a file, the file is watched and the router follows its changes
 * (see {@linkcode watchInstancesFile}). When the list is one `dns:` or
 * `dns+srv:` target (e.g. `DATA_SERVICES=dns:///data-services.default.svc:50051`),
 * the name is resolved now and every `dns.intervalMs`, and the router follows
 * the sorted answer (see `router/dns.ts`); if the first resolution fails the
 * router starts empty (calls fail with UNAVAILABLE) and `dns.onError` hears why.
 * `close()` also stops the watch.
 *
 * @throws {TypeError} if no source yields an instance, or a `dns:` target is
 *   listed with other entries.
 *
 * @example
 * ```ts
 * // DATA_SERVICES=127.0.0.1:50051,127.0.0.1:50052
 * const router = await createNodeRoutingTransport({ protocol: "grpc" });
 * const client = createClient(MessagesService, router);
 * ```
 */
export async function createNodeRoutingTransport(
  options: NodeRoutingTransportOptions = {},
): Promise<RoutingTransport> {
  const explicit = options.instances !== undefined &&
    (await resolveInstances({ instances: options.instances, env: false })).length > 0;
  const sourced = await resolveInstances(options);
  if (sourced.length === 0) {
    throw new TypeError(
      `No data-service instances: pass a list, a file, or set ${options.env || DATA_SERVICES_ENV}`,
    );
  }
  const dnsEntry = sourced.find(isDnsTarget);
  if (dnsEntry !== undefined && sourced.length > 1) {
    throw new TypeError(
      `A DNS target must be the only entry of the list, got ${sourced.join(",")}`,
    );
  }
  const dnsTarget = dnsEntry === undefined ? undefined : parseDnsTarget(dnsEntry);
  let list = sourced;
  if (dnsTarget !== undefined) {
    try {
      list = await resolveDnsTarget(dnsTarget, { resolver: options.dns?.resolver });
    } catch (error) {
      options.dns?.onError?.(error);
      list = [];
    }
  }
  const router = createRoutingTransport({
    ...options,
    instances: list as InstanceInit[],
    createTransport: options.createTransport ??
      (options.protocol === undefined
        ? createFastTransportFactory(options)
        : createNodeTransportFactory(options)),
  });
  const follow = (onError?: (error: unknown) => void) => (next: string[]) => {
    try {
      router.setInstances(next);
    } catch (error) {
      onError?.(error);
      return;
    }
    options.onInstancesChange?.(next);
  };
  let watch: { close(): void };
  if (dnsTarget !== undefined) {
    watch = watchDnsTarget(dnsTarget, list, follow(options.dns?.onError), options.dns);
  } else if (!explicit && options.file !== undefined) {
    watch = watchInstancesFile(options.file, list, follow(options.watch?.onError), options.watch);
  } else {
    return router;
  }
  const close = router.close.bind(router);
  return Object.assign(router, {
    close: async () => {
      watch.close();
      await close();
    },
  });
}
