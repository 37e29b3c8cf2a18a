/**
 * In-process fake data-service instances for the router tests: each one is a
 * Connect router transport (`createRouterTransport`) serving the
 * dataservices.v1 and original messages services plus grpc.health.v1, with
 * its own counters, a switch to fail like a dead process (UNAVAILABLE), and
 * gates to hold calls open.
 *
 * @module
 */

import {
  Code,
  ConnectError,
  type ConnectRouter,
  createRouterTransport,
  type HandlerContext,
} from "@connectrpc/connect";
import { create } from "@bufbuild/protobuf";
import { MessagesService } from "../gen/dataservices/v1/messages_pb.ts";
import { MessagesService as OriginalService } from "../gen/messages/messages_pb.ts";
import {
  Health,
  HealthCheckResponse_ServingStatus as Serving,
  HealthCheckResponseSchema,
} from "../gen/grpc/health/v1/health_pb.ts";
import { TransportFailure } from "./lean_transport.ts";
import type { ClosableTransport, Instance, TransportFactory } from "./membership.ts";

/** One call a fake instance received. */
export interface Received {
  readonly method: string;
  readonly channelId?: bigint;
  /** The deadline the handler saw, if any. */
  readonly timeoutMs?: number;
}

/** How a fake instance answers health checks. */
export type HealthMode = "serving" | "not-serving" | "unavailable" | "unimplemented" | "hang";

/** A fake data-service instance. */
export class FakeInstance {
  readonly id: string;
  /** Calls received (data and keyless), in order; health checks are not listed. */
  readonly received: Received[] = [];
  /** Health checks received. */
  healthChecks = 0;
  /**
   * When true every data call fails like a process that died mid-call: the
   * call reached it (it is recorded) and the connection was reset
   * (UNAVAILABLE caused by a TransportFailure: maybe processed).
   */
  down = false;
  /**
   * When true every data call fails like a process that is gone: the
   * connection is refused before anything is sent (not recorded; certainly
   * not processed, so even writes may be retried).
   */
  refused = false;
  /** When set, data calls fail with this error instead of answering. */
  failWith: ConnectError | undefined;
  /** How Health/Check answers. */
  health: HealthMode = "serving";
  /** When set, each data call waits for this promise before answering. */
  gate: Promise<void> | undefined;
  /** Number of times the router closed this instance's transport. */
  closed = 0;
  /** The transport the router gets (in-memory; `close` counts). */
  readonly transport: ClosableTransport;
  /** The service implementations, to serve them over a real server too. */
  readonly routes: (router: ConnectRouter) => void;
  #arrivals: (() => void)[] = [];

  constructor(id: string) {
    this.id = id;
    // deno-lint-ignore no-this-alias
    const self = this;
    this.routes = (router) => {
      router.service(MessagesService, {
        getMessages: async (req, ctx) => {
          await this.#enter("GetMessages", req.channelId, ctx);
          return { messages: [{ channelId: req.channelId, content: this.id }] };
        },
        getMessage: async (req, ctx) => {
          await this.#enter("GetMessage", req.channelId, ctx);
          return { message: { channelId: req.channelId, messageId: req.messageId, content: id } };
        },
        createMessage: async (req, ctx) => {
          await this.#enter("CreateMessage", req.channelId, ctx);
          return { message: { channelId: req.channelId, content: this.id } };
        },
        getStats: async (_req, ctx) => {
          await this.#enter("GetStats", undefined, ctx);
          return { instance: this.id, requests: BigInt(this.received.length) };
        },
      });
      router.service(OriginalService, {
        getMessage: async (req, ctx) => {
          await this.#enter("getMessage", req.channelId, ctx);
          return { channelId: req.channelId, messageId: req.messageId, content: this.id };
        },
        getAndResetMetrics: async (_req, ctx) => {
          await this.#enter("getAndResetMetrics", undefined, ctx);
          return { totalRequests: BigInt(this.received.length) };
        },
      });
      router.service(Health, {
        check: async () => {
          this.healthChecks++;
          return create(HealthCheckResponseSchema, { status: await this.#health() });
        },
        watch: async function* (_req, ctx) {
          await self.#enter("Watch", undefined, ctx);
          yield { status: Serving.SERVING };
          yield { status: Serving.NOT_SERVING };
        },
      });
    };
    const inner = createRouterTransport(this.routes);
    this.transport = {
      unary: (...args) =>
        inner.unary(...args).catch((e) => {
          throw asClientFailure(e);
        }),
      stream: (...args) =>
        inner.stream(...args).then((res) => ({
          ...res,
          message: (async function* () {
            try {
              yield* res.message;
            } catch (e) {
              throw asClientFailure(e);
            }
          })(),
        }), (e) => {
          throw asClientFailure(e);
        }),
      close: () => {
        this.closed++;
      },
    };
  }

  /** Resolves when the next data call reaches this instance's handler. */
  nextCall(): Promise<void> {
    return new Promise((resolve) => this.#arrivals.push(resolve));
  }

  /** Channels this instance served (successfully or not), with counts. */
  channels(method?: string): Map<bigint, number> {
    const out = new Map<bigint, number>();
    for (const r of this.received) {
      if (r.channelId === undefined || (method !== undefined && r.method !== method)) continue;
      out.set(r.channelId, (out.get(r.channelId) ?? 0) + 1);
    }
    return out;
  }

  /** Calls received of `method`. */
  count(method: string): number {
    return this.received.filter((r) => r.method === method).length;
  }

  async #enter(method: string, channelId: bigint | undefined, ctx: HandlerContext) {
    if (this.refused) throw transportFailure(`connect ECONNREFUSED ${this.id}`, "refused");
    this.received.push({ method, channelId, timeoutMs: ctx.timeoutMs() });
    for (const arrived of this.#arrivals.splice(0)) arrived();
    if (this.gate !== undefined) await this.gate;
    if (this.down) throw deadProcess(this.id);
    if (this.failWith !== undefined) throw this.failWith;
  }

  async #health(): Promise<Serving> {
    switch (this.health) {
      case "serving":
        return Serving.SERVING;
      case "not-serving":
        return Serving.NOT_SERVING;
      case "unavailable":
        throw deadProcess(this.id);
      case "unimplemented":
        throw new ConnectError("no health service", Code.Unimplemented);
      case "hang":
        await new Promise(() => {});
        return Serving.UNKNOWN;
    }
  }
}

/** What a client sees when the process it calls dies: UNAVAILABLE from a reset connection. */
function deadProcess(id: string): ConnectError {
  return transportFailure(`${id} is down`, "reset");
}

/**
 * A failure of the connection, thrown inside the fake instance: the in-memory
 * transport carries it to the client as a wire error (causes do not cross
 * the wire), so it travels in a header that the fake's transport turns back
 * into the UNAVAILABLE-caused-by-TransportFailure a real client transport gives.
 */
function transportFailure(message: string, kind: "reset" | "refused"): ConnectError {
  return new ConnectError(message, Code.Unavailable, { [FAKE_TRANSPORT_FAILURE]: kind });
}

const FAKE_TRANSPORT_FAILURE = "x-fake-transport-failure";

/** Turns a wire error marked by {@linkcode transportFailure} into a client-side failure. */
function asClientFailure(e: unknown): unknown {
  if (!(e instanceof ConnectError)) return e;
  const kind = e.metadata.get(FAKE_TRANSPORT_FAILURE);
  if (kind === null) return e;
  const why = kind === "refused" ? "connection refused" : "connection reset by peer";
  return new ConnectError(
    e.rawMessage,
    Code.Unavailable,
    undefined,
    undefined,
    new TransportFailure(why),
  );
}

/** N fake instances `fake-0:1`, `fake-1:1`, ..., and a factory that serves them by id. */
export function fakeCluster(n: number): {
  fakes: FakeInstance[];
  ids: string[];
  factory: TransportFactory & { created: string[] };
  byId: Map<string, FakeInstance>;
  add(id: string): FakeInstance;
} {
  const byId = new Map<string, FakeInstance>();
  const created: string[] = [];
  const add = (id: string) => {
    const fake = new FakeInstance(id);
    byId.set(id, fake);
    return fake;
  };
  const fakes = Array.from({ length: n }, (_, i) => add(`fake-${i}:1`));
  const factory = Object.assign((instance: Instance) => {
    const fake = byId.get(instance.id);
    if (fake === undefined) throw new Error(`no fake for ${instance.id}`);
    created.push(instance.id);
    return fake.transport;
  }, { created });
  return { fakes, ids: fakes.map((f) => f.id), factory, byId, add };
}
