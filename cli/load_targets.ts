/**
 * Where the load goes: connect-node HTTP/2 transports to every instance (one
 * connection each), the routing strategy that picks an instance per request,
 * the request each `--method` sends, and `GetStats` on every instance.
 *
 * @module
 */
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { MessagesService } from "../gen/dataservices/v1/messages_pb.ts";
import { MessagesService as CompatMessagesService } from "../gen/messages/messages_pb.ts";
import { createRoutingTransport, type HealthChange, type RoutingTransport } from "../router/mod.ts";
import { createNodeTransportFactory } from "../router/node.ts";
import { createFastTransportFactory } from "../router/fast_factory.ts";
import type { ClosableTransport, TransportFactory } from "../router/membership.ts";
import type { LoadMethod, LoadProtocol, Routing } from "./load_flags.ts";
import type { StatsSnapshot } from "./report.ts";

/** The run cannot start or go on (unreachable target...): exit code 1 with this message. */
export class LoadError extends Error {
  override name = "LoadError";
}

/** Deadline of one GetStats call. */
export const STATS_TIMEOUT_MS = 5000;

/**
 * The instance (0..n-1) request `index` goes to, for the strategies the load
 * tool applies itself (`jump` is the router's job).
 *
 * - `round-robin`: the k-th request of a channel (k = floor(index / channels))
 *   goes to instance `(channel + k) mod n`. Every channel's requests rotate
 *   over all instances and the totals stay even; a plain `index mod n` would
 *   pin channel c to instance `c mod n` whenever n divides the channel count,
 *   which is sharding, not round robin.
 * - `random`: uniform.
 * - `single`: instance 0.
 */
export function pickInstance(
  routing: Exclude<Routing, "jump">,
  index: number,
  channels: number,
  n: number,
  random: () => number = Math.random,
): number {
  if (routing === "single" || n <= 1) return 0;
  if (routing === "random") return Math.min(n - 1, Math.floor(random() * n));
  return ((index % channels) + Math.floor(index / channels)) % n;
}

/** The channel request `index` asks: `(index % channels) + 1`. */
export function channelOf(index: number, channels: number): number {
  return (index % channels) + 1;
}

/** Connections to the targets (or the gateway), ready to send. */
export interface Targets {
  /** Instance ids in router order. */
  readonly ids: readonly string[];
  /** Sends request `index` (channel `(index % channels) + 1`); rejects with a ConnectError. */
  call(index: number, signal?: AbortSignal): Promise<unknown>;
  /** GetStats on every instance. @throws {LoadError} naming the instance that did not answer. */
  readStats(): Promise<StatsSnapshot[]>;
  /** GetStats on every instance; those that do not answer are listed with the reason. */
  readStatsPartial(): Promise<{ snapshots: StatsSnapshot[]; failures: LoadError[] }>;
  /** Closes every HTTP/2 connection. */
  close(): Promise<void>;
}

/** Options of {@linkcode openTargets}. */
export interface TargetOptions {
  readonly targets: readonly string[];
  readonly gateway?: string;
  readonly routing: Routing;
  readonly protocol: LoadProtocol;
  readonly method: LoadMethod;
  readonly channels: number;
  /** Per-request deadline, ms; 0 or undefined: none. */
  readonly timeoutMs?: number;
  /**
   * HTTP/2 connections per instance (default 1) to start with: the fast
   * factory (connect, connect-json) opens more as calls pile up (200 per
   * connection, Deno.serve's cap); connect-node (grpc, grpc-web) rotates calls
   * over exactly this many.
   */
  readonly connections?: number;
  /** Called when the jump router marks an instance down or up. */
  readonly onHealthChange?: (change: HealthChange) => void;
}

/**
 * Deadline of the jump router's health probes. The router's default (500 ms)
 * is shorter than the latency of an instance saturated by an all-at-once
 * run, which would then be marked down and have its channels split over two
 * instances, inflating the very query counts this tool measures. A dead
 * instance still fails its probe at once (connection refused).
 */
export const PROBE_TIMEOUT_MS = 10_000;

/** Opens transports (lazily: connections are made by the first call). */
export function openTargets(o: TargetOptions): Targets {
  // Connect: the lean transport over fetch to each instance's fast listener (the cheapest
  // client here); gRPC and gRPC-web: connect-node to the main port.
  const factory = o.protocol === "connect" || o.protocol === "connect-json"
    ? createFastTransportFactory({
      connections: o.connections ?? 1,
      useBinaryFormat: o.protocol === "connect",
    })
    : pooled(createNodeTransportFactory({ protocol: o.protocol }), o.connections ?? 1);
  const router: RoutingTransport = createRoutingTransport({
    instances: o.targets,
    createTransport: factory,
    // Jump routing is the router client people use: with its health probes and
    // failover. The other strategies address instances directly and never fail over.
    probeIntervalMs: o.routing === "jump" && o.gateway === undefined ? 1000 : 0,
    probeTimeoutMs: PROBE_TIMEOUT_MS,
    onHealthChange: o.onHealthChange,
  });
  const ids = router.instances.map((i) => i.id);
  let gateway: ClosableTransport | undefined;
  if (o.gateway !== undefined) gateway = factory({ id: o.gateway, baseUrl: o.gateway });

  const perInstance = ids.map((id) => router.transportFor(id));
  const senders: ((index: number, signal?: AbortSignal) => Promise<unknown>)[] = [];
  const routed = gateway ?? router;
  const direct = gateway ? [gateway] : perInstance;
  const sendVia = makeSender(o.method, o.channels, o.timeoutMs);
  const routedSend = sendVia(routed);
  for (const t of direct) senders.push(sendVia(t));

  const call = gateway !== undefined || o.routing === "jump"
    ? routedSend
    : (index: number, signal?: AbortSignal) =>
      senders[pickInstance(o.routing as Exclude<Routing, "jump">, index, o.channels, ids.length)](
        index,
        signal,
      );

  const statsClients = perInstance.map((t) => createClient(MessagesService, t));
  const readOne = async (i: number): Promise<StatsSnapshot> => {
    const id = ids[i];
    try {
      const s = await statsClients[i].getStats({}, { timeoutMs: STATS_TIMEOUT_MS });
      return {
        id,
        instance: s.instance,
        startedAtMs: s.startedAt
          ? Number(s.startedAt.seconds) * 1000 + Math.floor(s.startedAt.nanos / 1e6)
          : 0,
        requests: Number(s.requests),
        queries: Number(s.queries),
        coalesced: Number(s.coalesced),
        errors: Number(s.errors),
        rejected: Number(s.rejected),
      };
    } catch (err) {
      const e = ConnectError.from(err);
      const base = router.instances[i].baseUrl;
      const hint = e.code === Code.Unavailable || e.code === Code.DeadlineExceeded
        ? " Is it running? `deno task start` runs 127.0.0.1:50051 and :50052; " +
          "otherwise pass --targets host:port,..."
        : e.code === Code.Unimplemented
        ? " It does not serve dataservices.v1.MessagesService/GetStats."
        : "";
      throw new LoadError(
        `Cannot read GetStats from instance ${id} (${base}): [${
          codeName(e.code)
        }] ${e.rawMessage}.${hint}`,
      );
    }
  };
  const readAll = () => Promise.allSettled(ids.map((_, i) => readOne(i)));
  return {
    ids,
    call,
    async readStats() {
      const results = await readAll();
      const failed = results.find((r) => r.status === "rejected");
      if (failed) throw failed.reason;
      return results.map((r) => (r as PromiseFulfilledResult<StatsSnapshot>).value);
    },
    async readStatsPartial() {
      const results = await readAll();
      return {
        snapshots: results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : [])),
        failures: results.flatMap((r) => (r.status === "rejected" ? [r.reason as LoadError] : [])),
      };
    },
    async close() {
      await router.close();
      gateway?.close?.();
    },
  };
}

/**
 * A factory whose transports spread calls over `n` transports (one HTTP/2
 * connection each) of `factory`, in turn, and close them all.
 */
export function pooled(factory: TransportFactory, n: number): TransportFactory {
  if (n <= 1) return factory;
  return (instance) => {
    const pool = Array.from({ length: n }, () => factory(instance));
    let next = 0;
    const pick = () => pool[next++ % n];
    return {
      unary: (...args) => pick().unary(...args),
      stream: (...args) => pick().stream(...args),
      close: async () => {
        await Promise.all(pool.map((t) => t.close?.()));
      },
    };
  };
}

/** Makes the function that sends request `index` of `method` over one transport. */
function makeSender(method: LoadMethod, channels: number, timeoutMs: number | undefined) {
  // Precomputed ids: BigInt conversion per request is measurable at 10k+ requests/s.
  const channelIds = Array.from({ length: Math.min(channels, 1 << 16) }, (_, i) => BigInt(i + 1));
  const idOf = (c: number) => c <= channelIds.length ? channelIds[c - 1] : BigInt(c);
  const opts = (signal?: AbortSignal) => ({
    timeoutMs: timeoutMs && timeoutMs > 0 ? timeoutMs : undefined,
    signal,
  });
  return (transport: Transport) => {
    if (method === "history") {
      const client = createClient(MessagesService, transport);
      return (index: number, signal?: AbortSignal) =>
        client.getMessages(
          { channelId: idOf(channelOf(index, channels)), limit: 50 },
          opts(signal),
        );
    }
    if (method === "message") {
      const client = createClient(MessagesService, transport);
      return (index: number, signal?: AbortSignal) => {
        const c = channelOf(index, channels);
        return client.getMessage(
          { channelId: idOf(c), messageId: BigInt(c) * 1000n },
          opts(signal),
        );
      };
    }
    const client = createClient(CompatMessagesService, transport);
    return (index: number, signal?: AbortSignal) => {
      const c = channelOf(index, channels);
      return client.getMessage({ channelId: idOf(c), messageId: BigInt(c) * 1000n }, opts(signal));
    };
  };
}

/** A Connect code in snake case, as gRPC spells it: `deadline_exceeded`. */
export function codeName(code: Code): string {
  const name = Code[code] as string | undefined;
  if (name === undefined) return `code_${code}`;
  return name.replace(/[A-Z]/g, (ch, i) => (i ? "_" : "") + ch.toLowerCase());
}
