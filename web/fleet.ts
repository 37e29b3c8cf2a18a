/**
 * The page's connection to the fleet: the routing transport over gRPC-web
 * transports (one per instance), the optional gateway, the mode (direct or
 * through the gateway), readable explanations of failed calls, and
 * `GetStats` of every instance.
 *
 * Browser only (fetch with `mode: "no-cors"`, `location`).
 *
 * @module
 */
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { MessagesService } from "../gen/dataservices/v1/messages_pb.ts";
import {
  createRoutingTransport,
  type HealthChange,
  probeHealth,
  type ProbeOptions,
  type ProbeResult,
  type RoutingTransport,
  TransportFailure,
  withFastListener,
} from "../router/mod.ts";
import type { PageConfig } from "./page_config.ts";
import { describeError, type Snapshot, toCounters } from "./stats.ts";

/** Where the page's calls go. */
export type Mode = "direct" | "gateway";

/** GetStats of one instance, with the fields the live table shows. */
export interface StatsRead extends Snapshot {
  raw?: { instance: string; inFlightQueries: number };
  code?: Code;
}

/**
 * The cause attached to a call that never reached its server (fetch
 * rejected): a transport failure, so the router counts it against the
 * instance and the fast-listener discovery looks again.
 */
class Unreachable extends TransportFailure {
  constructor(readonly baseUrl: string, cause: unknown) {
    const why = cause instanceof Error ? cause.message : String(cause);
    super(`cannot reach ${baseUrl}: ${why}`, { cause });
    this.name = "Unreachable";
  }
}

/** How long a successful call keeps an instance "answering" (busy, not down). */
const ANSWERED_MS = 1500;

/** The page's view of the fleet. */
export class Fleet {
  readonly router: RoutingTransport;
  readonly gateway?: Transport;
  /** The gateway's base URL without a trailing slash. */
  readonly gatewayUrl?: string;
  #mode: Mode = "direct";
  /** When each server last answered a call of this page (any call, any status). */
  readonly #lastAnswer = new Map<string, number>();
  readonly #baseUrls = new WeakMap<Transport, string>();
  readonly #diagnoses = new Map<string, { at: number; result: Promise<"down" | "cors"> }>();

  constructor(config: PageConfig, onHealthChange: (change: HealthChange) => void) {
    // Each instance's (and the gateway's) fast listener once /healthz names it; calls and
    // errors are reported under the main URL the page was given.
    const fast = (baseUrl: string): Transport => {
      const t = withFastListener((target) => this.#grpcWeb(target.baseUrl, baseUrl), {
        timeoutMs: 1000,
      })({ id: baseUrl, baseUrl });
      this.#baseUrls.set(t, baseUrl);
      return t;
    };
    this.router = createRoutingTransport({
      instances: config.instances,
      createTransport: (i) => fast(i.baseUrl),
      probeIntervalMs: 1000,
      probeTimeoutMs: 1000,
      probe: (t, o) => this.#probe(t, o),
      onHealthChange,
    });
    if (config.gateway) {
      this.gatewayUrl = config.gateway.replace(/\/+$/, "");
      this.gateway = fast(this.gatewayUrl);
    }
  }

  /** Direct (the page routes) or through the gateway. */
  get mode(): Mode {
    return this.#mode;
  }

  /** Switches mode; "gateway" without a gateway stays direct. Returns the mode in effect. */
  setMode(next: Mode): Mode {
    this.#mode = next === "gateway" && this.gateway ? "gateway" : "direct";
    return this.#mode;
  }

  /** A MessagesService client for the current mode. */
  api() {
    return createClient(
      MessagesService,
      this.#mode === "gateway" && this.gateway ? this.gateway : this.router,
    );
  }

  /** Whether a call to `baseUrl` succeeded in the last 1.5 s. */
  answeredRecently(baseUrl: string | undefined): boolean {
    const at = baseUrl === undefined ? undefined : this.#lastAnswer.get(baseUrl);
    return at !== undefined && Date.now() - at < ANSWERED_MS;
  }

  /** GetStats of every instance in the list, each straight to its instance. */
  readAllStats(timeoutMs = 2000): Promise<StatsRead[]> {
    return Promise.all(this.router.instances.map(async (i): Promise<StatsRead> => {
      try {
        const client = createClient(MessagesService, this.router.transportFor(i.id));
        const s = await client.getStats({}, { timeoutMs });
        return {
          id: i.id,
          counters: toCounters(s),
          startedAtMs: s.startedAt ? timestampMs(s.startedAt) : undefined,
          raw: { instance: s.instance, inFlightQueries: Number(s.inFlightQueries) },
        };
      } catch (e) {
        return { id: i.id, error: await this.explain(e), code: ConnectError.from(e).code };
      }
    }));
  }

  /** One readable sentence for an error of a call. */
  async explain(err: unknown): Promise<string> {
    const e = ConnectError.from(err);
    if (e.cause instanceof Unreachable) {
      const { baseUrl } = e.cause;
      const what = baseUrl === this.gatewayUrl
        ? `the gateway ${baseUrl}`
        : `instance ${this.#idOf(baseUrl)}`;
      return (await this.#diagnose(baseUrl)) === "cors"
        ? `${what} is up but refuses calls from this page's origin ${location.origin} (CORS): ` +
          `add the origin to its --cors-origins`
        : `cannot reach ${what}: it is down or not listening`;
    }
    return describeError(e.code, e.rawMessage);
  }

  #idOf(baseUrl: string): string {
    return this.router.instances.find((i) => i.baseUrl === baseUrl)?.id ?? baseUrl;
  }

  /**
   * A gRPC-web transport to `url` whose network failures are UNAVAILABLE
   * caused by {@linkcode Unreachable} (a transport failure), as with
   * connect-node, instead of connect-web's UNKNOWN "Failed to fetch": the
   * router then marks the instance down and retries idempotent reads on its
   * fallback. Answers and failures are recorded under `key`, the main URL.
   */
  #grpcWeb(url: string, key: string): Transport {
    return createGrpcWebTransport({
      baseUrl: url,
      fetch: async (input, init) => {
        try {
          const res = await globalThis.fetch(input, init);
          this.#lastAnswer.set(key, Date.now());
          return res;
        } catch (e) {
          if (init?.signal?.aborted || (e instanceof Error && e.name === "AbortError")) throw e;
          const cause = new Unreachable(key, e);
          throw new ConnectError(cause.message, Code.Unavailable, undefined, undefined, cause);
        }
      },
    });
  }

  /**
   * The router's health check, adapted to a browser: over HTTP/1.1 a browser
   * opens at most 6 connections per server, so during a storm the probe waits
   * behind hundreds of reads and times out although the instance answers them
   * all. A probe that times out while calls to its instance keep succeeding is
   * inconclusive: the instance stays up. Refused connections, CORS refusals and
   * NOT_SERVING still mark it down at once.
   */
  async #probe(transport: Transport, options: ProbeOptions): Promise<ProbeResult> {
    const result = await probeHealth(transport, options);
    if (result.up || result.error?.code !== Code.DeadlineExceeded) return result;
    return this.answeredRecently(this.#baseUrls.get(transport)) ? { up: true } : result;
  }

  /**
   * Why a fetch to `baseUrl` failed. A browser hides the difference between a
   * dead server and a CORS refusal; a `no-cors` request tells them apart: it
   * succeeds (opaquely) whenever the server answers at all.
   */
  #diagnose(baseUrl: string): Promise<"down" | "cors"> {
    const cached = this.#diagnoses.get(baseUrl);
    if (cached && Date.now() - cached.at < 2000) return cached.result;
    const result = fetch(`${baseUrl}/healthz`, {
      mode: "no-cors",
      cache: "no-store",
      signal: AbortSignal.timeout(2000),
    }).then(() => "cors" as const, () => "down" as const);
    this.#diagnoses.set(baseUrl, { at: Date.now(), result });
    return result;
  }
}
