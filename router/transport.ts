/**
 * A Connect `Transport` that sends every request for a routing key (the
 * channel id) to the same data-service instance, so that instance's request
 * coalescing sees all of them, and fails over around dead instances.
 *
 * Imports nothing from `node:`: works in browsers with connect-web transports.
 *
 * @module
 */

import {
  Code,
  ConnectError,
  type ContextValues,
  type StreamResponse,
  type Transport,
  type UnaryResponse,
} from "@connectrpc/connect";
import type {
  DescMessage,
  DescMethod,
  DescMethodStreaming,
  DescMethodUnary,
  MessageInitShape,
  MessageShape,
} from "@bufbuild/protobuf";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import { DEFAULT_FAILOVER_ATTEMPTS, route, routeLive } from "./jump.ts";
import {
  type BreakerOptions,
  CircuitBreaker,
  isInstanceFailure,
  saysRetryElsewhere,
  wasRefused,
} from "./breaker.ts";
import { RetryBudget, type RetryBudgetOptions } from "./retry_budget.ts";
import {
  DEFAULT_PROBE_INTERVAL_MS,
  DEFAULT_PROBE_TIMEOUT_MS,
  probeHealth,
  ProbeLoop,
  type ProbeOptions,
  type ProbeResult,
} from "./health.ts";
import {
  type Instance,
  type InstanceInit,
  type Member,
  Membership,
  type MembershipChange,
  type TransportFactory,
} from "./membership.ts";

/**
 * Extracts the routing key of a call. `input` is the request message (or its
 * init object) for unary and server-streaming calls, and `undefined` for
 * client- and bidi-streaming calls. `undefined` means "no key": the call goes
 * to the default instance.
 */
export type KeyOf = (method: DescMethod, input: unknown) => bigint | undefined;

/**
 * A {@linkcode KeyOf} that reads the scalar field `localName` of the request,
 * for every method whose input message has such a field (unset means 0).
 * Methods without it are keyless.
 *
 * @example
 * ```ts
 * const byGuild = keyFromField("guildId");
 * ```
 */
export function keyFromField(localName: string): KeyOf {
  return (method, input) => {
    const fields = method.input.field;
    const field = Object.hasOwn(fields, localName) ? fields[localName] : undefined;
    if (field === undefined || field.fieldKind !== "scalar") return undefined;
    if (input === undefined || input === null) return undefined;
    const value = (input as Record<string, unknown>)[localName];
    switch (typeof value) {
      case "undefined":
        return 0n;
      case "bigint":
        return value;
      case "number":
        return Number.isInteger(value) ? BigInt(value) : undefined;
      case "string":
        try {
          return BigInt(value);
        } catch {
          return undefined;
        }
      default:
        return value === null ? 0n : undefined;
    }
  };
}

/** The default routing key: the request's `channelId` field, where the method has one. */
export const defaultKeyOf: KeyOf = keyFromField("channelId");

/**
 * Methods retried on UNAVAILABLE although their proto does not declare an
 * idempotency level: the original service's read, `messages.MessagesService/getMessage`.
 */
export const DEFAULT_IDEMPOTENT_METHODS: readonly string[] = Object.freeze([
  "messages.MessagesService/getMessage",
]);

/** `package.Service/Method`, the name used in {@linkcode RoutingTransportOptions.idempotentMethods}. */
export function methodName(method: DescMethod): string {
  return `${method.parent.typeName}/${method.name}`;
}

/** A change of an instance's health, reported to {@linkcode RoutingTransportOptions.onHealthChange}. */
export interface HealthChange {
  /** The instance whose health changed. */
  readonly instance: Instance;
  /** The new state. */
  readonly up: boolean;
  /** What caused it: a probe, a call that failed to reach the instance, or markUp/markDown. */
  readonly reason: "probe" | "call" | "manual";
  /** The failure, when going down because of an error. */
  readonly error?: ConnectError;
}

/** Options of {@linkcode createRoutingTransport}. */
export interface RoutingTransportOptions {
  /**
   * The ordered instance list. Every router must list the same instances in
   * the same order; append new ones at the end. May be empty (calls then fail
   * with UNAVAILABLE until {@linkcode RoutingTransport.setInstances}).
   */
  readonly instances: Iterable<InstanceInit>;
  /**
   * Makes the transport of one instance, e.g.
   * `(i) => createConnectTransport({ baseUrl: i.baseUrl })` from connect-web.
   * If the transport has a `close()` method, it is called when the instance
   * leaves the list (after its in-flight calls end) or the router closes.
   */
  readonly createTransport: TransportFactory;
  /** Routing key of a call (default {@linkcode defaultKeyOf}: the `channelId` field). */
  readonly keyOf?: KeyOf;
  /**
   * `package.Service/Method` names retried once on UNAVAILABLE in addition to
   * methods declared `NO_SIDE_EFFECTS` or `IDEMPOTENT` in their proto
   * (default {@linkcode DEFAULT_IDEMPOTENT_METHODS}).
   */
  readonly idempotentMethods?: Iterable<string>;
  /** Retry idempotent calls once on the fallback instance (default true). */
  readonly retryUnavailable?: boolean;
  /**
   * Milliseconds between health probe rounds (default 1000). `0` disables
   * periodic probing: instances then come back up only through
   * {@linkcode RoutingTransport.checkHealth} or {@linkcode RoutingTransport.markUp}.
   */
  readonly probeIntervalMs?: number;
  /** Deadline of one health check in milliseconds (default 500). */
  readonly probeTimeoutMs?: number;
  /** Service name asked in `grpc.health.v1.Health/Check` (default `""`, the whole server). */
  readonly healthService?: string;
  /**
   * Replaces the health check (default {@linkcode probeHealth}: Health/Check,
   * up on SERVING or UNIMPLEMENTED).
   */
  readonly probe?: (transport: Transport, options: ProbeOptions) => Promise<ProbeResult>;
  /** Salted re-jumps tried for a key whose owner is down before the final scan (default 16). */
  readonly failoverAttempts?: number;
  /** Called on every health change (for logs and metrics); must not throw. */
  readonly onHealthChange?: (change: HealthChange) => void;
  /** Each instance's circuit breaker (cooldowns, probe timeouts that open it). */
  readonly breaker?: BreakerOptions;
  /** Retries are at most this share of calls (default 10%, a burst of 10). */
  readonly retryBudget?: RetryBudgetOptions;
}

/** A snapshot of one instance in the list. */
export interface InstanceStatus extends Instance {
  /** Position in the list: the jump bucket. */
  readonly index: number;
  /** Whether keyed calls are routed to it. */
  readonly up: boolean;
}

/**
 * A Connect `Transport` that routes by key; pass it to `createClient` like any
 * transport. See {@linkcode createRoutingTransport}.
 */
export interface RoutingTransport extends Transport {
  /** The instances in list order, with their health (a fresh snapshot on every read). */
  readonly instances: readonly InstanceStatus[];
  /**
   * The instance that owns `key`: `route(key, n)` over the full list,
   * whatever its health.
   *
   * @throws {ConnectError} UNAVAILABLE if the list is empty.
   */
  ownerOf(key: bigint): InstanceStatus;
  /**
   * Where a call with this key goes now: the owner if it is up, else its
   * fallback; for `undefined` (keyless calls) the first instance that is up.
   *
   * @throws {ConnectError} UNAVAILABLE if the list is empty.
   */
  instanceFor(key: bigint | undefined): InstanceStatus;
  /**
   * A transport that sends every call to the instance `id`, whatever its
   * health (no routing, no retry; a call failing with UNAVAILABLE still marks
   * it down). For per-instance calls such as GetStats on every instance.
   *
   * @throws {TypeError} if `id` is not in the list.
   */
  transportFor(id: string): Transport;
  /**
   * Replaces the ordered list. Kept instances keep their transport and
   * health; new ones start up; removed ones' transports close once idle.
   *
   * @throws {TypeError} on an invalid or duplicate entry (nothing changes then).
   */
  setInstances(list: Iterable<InstanceInit>): MembershipChange;
  /** Stops routing keyed calls to `id` until a probe (or markUp) says it is up. */
  markDown(id: string): void;
  /** Routes to `id` again. */
  markUp(id: string): void;
  /** Probes every instance now; resolves when the round is done. */
  checkHealth(): Promise<void>;
  /** Retries granted and denied by the retry budget so far. */
  readonly retries: { readonly granted: number; readonly denied: number };
  /**
   * Stops probing and closes every transport. Later calls fail with CANCELED.
   * Idempotent.
   */
  close(): Promise<void>;
}

/**
 * Creates a transport that routes each call to one data-service instance by
 * its routing key (default: the request's `channelId`).
 *
 * **Routing rule.** Instances form an ordered list of n. A key's owner is
 * `jumpHash(mix64(key), n)` over the FULL list, whatever is up. If the owner is
 * down, the key goes to the first live instance among
 * `jumpHash(mix64(key ^ salt_i), n)` for i = 1..16, then (if all of those are
 * down) to a live instance picked by jump hash over the live ones; if nothing
 * is up, to the owner anyway (it may have recovered) and its error surfaces.
 * Hence keys owned by live instances never move; only a dead instance's keys
 * move, each to a deterministic fallback (the same on every router that sees
 * the same instances down), spread evenly over the live instances; and they
 * return to the owner as soon as it is up again. Keyless calls go to the first
 * live instance in the list.
 *
 * **Health.** Each instance has a circuit breaker (breaker.ts). Every
 * `probeIntervalMs` each instance gets a `grpc.health.v1.Health/Check`
 * (SERVING or UNIMPLEMENTED means up). A failure of the instance itself — a
 * refused or reset connection, a refused HTTP/2 stream, a probe refused or
 * timing out 3 times in a row, NOT_SERVING — opens the breaker: the instance
 * is down and its keys go to their fallbacks. After a cooldown (1 s, doubling
 * while trials fail, at most 10 s) the next probe is the half-open trial that
 * closes it again. An UNAVAILABLE the instance sent (its database timed out,
 * say) is an answer, not a failure of the instance: it marks nothing down.
 *
 * **Retry.** A unary or server-streaming call is retried once on the instance
 * the rule picks next, within the caller's original deadline, when the
 * instance failed (not when it answered with an error) and the call is
 * idempotent (`NO_SIDE_EFFECTS`/`IDEMPOTENT` in the proto, or listed in
 * `idempotentMethods`), or when it certainly was not processed (a refused
 * stream or connection, or an instance draining for shutdown: safe for
 * writes too, RFC 9113 §8.7). Retries are at most 10% of calls in the long
 * run (a token bucket, retry_budget.ts), so a failing fleet is not sent twice
 * the work.
 *
 * **Cost.** While a dead instance's keys sit on their fallbacks, routers that
 * have not yet noticed the failure (or the recovery) still send those keys to
 * the owner, so for up to one probe interval (plus the probe timeout) a
 * channel's reads can be split over two instances and coalesce separately: up
 * to twice the queries for those channels. Keys owned by live instances are
 * never affected. Routers must share the same ordered list; different lists
 * split coalescing for every moved key.
 *
 * @example
 * ```ts
 * import { createClient } from "@connectrpc/connect";
 * import { createConnectTransport } from "@connectrpc/connect-web";
 * import { MessagesService } from "../gen/dataservices/v1/messages_pb.ts";
 *
 * const router = createRoutingTransport({
 *   instances: ["ds-0:50051", "ds-1:50051", "ds-2:50051"],
 *   createTransport: (i) => createConnectTransport({ baseUrl: i.baseUrl }),
 * });
 * const client = createClient(MessagesService, router);
 * const page = await client.getMessages({ channelId: 42n }); // always the same instance
 * const stats = await Promise.all(router.instances.map((i) =>
 *   createClient(MessagesService, router.transportFor(i.id)).getStats({})
 * ));
 * await router.close();
 * ```
 */
export function createRoutingTransport(options: RoutingTransportOptions): RoutingTransport {
  return new Router(options);
}

const CLOSED = () => new ConnectError("router is closed", Code.Canceled);

class Router implements RoutingTransport {
  #membership: Membership;
  #keyOf: KeyOf;
  #idempotent: Set<string>;
  #retry: boolean;
  #attempts: number;
  #probe: (transport: Transport, options: ProbeOptions) => Promise<ProbeResult>;
  #probeOptions: { service: string; timeoutMs: number };
  #onHealthChange: ((change: HealthChange) => void) | undefined;
  #loop: ProbeLoop;
  #closed = false;
  #breakerOptions: BreakerOptions;
  #breakers = new WeakMap<Member, CircuitBreaker>();
  #budget: RetryBudget;

  constructor(options: RoutingTransportOptions) {
    const attempts = options.failoverAttempts ?? DEFAULT_FAILOVER_ATTEMPTS;
    if (!Number.isInteger(attempts) || attempts < 0) {
      throw new RangeError(`Failover attempts must be an integer >= 0, got ${attempts}`);
    }
    const timeoutMs = options.probeTimeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS;
    if (!(timeoutMs > 0)) throw new RangeError(`Probe timeout must be > 0 ms, got ${timeoutMs}`);
    this.#attempts = attempts;
    this.#keyOf = options.keyOf ?? defaultKeyOf;
    this.#idempotent = new Set(options.idempotentMethods ?? DEFAULT_IDEMPOTENT_METHODS);
    this.#retry = options.retryUnavailable ?? true;
    this.#probe = options.probe ?? probeHealth;
    this.#probeOptions = { service: options.healthService ?? "", timeoutMs };
    this.#onHealthChange = options.onHealthChange;
    this.#breakerOptions = options.breaker ?? {};
    this.#budget = new RetryBudget(options.retryBudget);
    this.#membership = new Membership(options.createTransport);
    this.#membership.set(options.instances);
    this.#loop = new ProbeLoop(
      options.probeIntervalMs ?? DEFAULT_PROBE_INTERVAL_MS,
      (signal) => this.#probeRound(signal),
    );
    this.#loop.start();
  }

  get instances(): readonly InstanceStatus[] {
    return this.#membership.members.map(status);
  }

  ownerOf(key: bigint): InstanceStatus {
    const members = this.#nonEmpty();
    return status(members[route(key, members.length)]);
  }

  instanceFor(key: bigint | undefined): InstanceStatus {
    return status(this.#pick(key));
  }

  transportFor(id: string): Transport {
    if (this.#membership.get(id) === undefined) {
      throw new TypeError(`Instance "${id}" is not in the list`);
    }
    const resolve = (): Member => {
      if (this.#closed) throw CLOSED();
      const member = this.#membership.get(id);
      if (member === undefined) {
        throw new ConnectError(`instance ${id} is no longer in the list`, Code.Unavailable);
      }
      return member;
    };
    return {
      unary: (method, signal, timeoutMs, header, input, contextValues) =>
        this.#unaryOn(resolve(), method, signal, timeoutMs, header, input, contextValues),
      stream: (method, signal, timeoutMs, header, input, contextValues) =>
        this.#streamOn(resolve(), method, signal, timeoutMs, header, input, contextValues),
    };
  }

  setInstances(list: Iterable<InstanceInit>): MembershipChange {
    if (this.#closed) throw CLOSED();
    return this.#membership.set(list);
  }

  markDown(id: string): void {
    const member = this.#membership.get(id);
    if (member === undefined) return;
    this.#breaker(member).force(false);
    if (member.up) this.#setHealth(member, false, "manual");
  }

  markUp(id: string): void {
    const member = this.#membership.get(id);
    if (member === undefined) return;
    this.#breaker(member).force(true);
    if (!member.up) this.#setHealth(member, true, "manual");
  }

  /** Retries granted and denied by the retry budget so far. */
  get retries(): { granted: number; denied: number } {
    const { granted, denied } = this.#budget.stats;
    return { granted, denied };
  }

  checkHealth(): Promise<void> {
    return this.#loop.runNow();
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#loop.stop();
    await this.#membership.close();
  }

  async unary<I extends DescMessage, O extends DescMessage>(
    method: DescMethodUnary<I, O>,
    signal: AbortSignal | undefined,
    timeoutMs: number | undefined,
    header: HeadersInit | undefined,
    input: MessageInitShape<I>,
    contextValues?: ContextValues,
  ): Promise<UnaryResponse<I, O>> {
    if (this.#closed) throw CLOSED();
    const key = this.#keyOf(method, input);
    const first = this.#pick(key);
    const started = Date.now();
    this.#budget.call();
    try {
      return await this.#unaryOn(first, method, signal, timeoutMs, header, input, contextValues);
    } catch (e) {
      const retry = this.#retryTarget(e, first, key, method, signal, timeoutMs, started);
      if (retry === undefined) throw e;
      return await this.#unaryOn(
        retry.member,
        method,
        signal,
        retry.timeoutMs,
        header,
        input,
        contextValues,
      );
    }
  }

  async stream<I extends DescMessage, O extends DescMessage>(
    method: DescMethodStreaming<I, O>,
    signal: AbortSignal | undefined,
    timeoutMs: number | undefined,
    header: HeadersInit | undefined,
    input: AsyncIterable<MessageInitShape<I>>,
    contextValues?: ContextValues,
  ): Promise<StreamResponse<I, O>> {
    if (this.#closed) throw CLOSED();
    if (method.methodKind !== "server_streaming") {
      // The input is open-ended: route by whatever keyOf makes of no message.
      const member = this.#pick(this.#keyOf(method, undefined));
      return await this.#streamOn(member, method, signal, timeoutMs, header, input, contextValues);
    }
    // Server streaming: one request message, known before the call. Buffer it
    // to read the key, and to replay it on a retry.
    const requests: MessageInitShape<I>[] = [];
    for await (const message of input) requests.push(message);
    const key = this.#keyOf(method, requests[0]);
    const first = this.#pick(key);
    const started = Date.now();
    this.#budget.call();
    const open = (member: Member, timeout: number | undefined) =>
      this.#streamOn(member, method, signal, timeout, header, replay(requests), contextValues);
    try {
      const res = await open(first, timeoutMs);
      if (!this.#retry || !this.#isIdempotent(method)) return res;
      // An error can also arrive in the body before any message (Connect
      // protocol, gRPC trailers-only): the retry is still safe then.
      const retryBody = async function* (router: Router): AsyncIterable<MessageShape<O>> {
        let received = false;
        try {
          for await (const message of res.message) {
            received = true;
            yield message;
          }
          return;
        } catch (e) {
          const retry = received
            ? undefined
            : router.#retryTarget(e, first, key, method, signal, timeoutMs, started);
          if (retry === undefined) throw e;
          const second = await open(retry.member, retry.timeoutMs);
          yield* second.message;
          second.trailer.forEach((value, name) => res.trailer.set(name, value));
        }
      };
      return { ...res, message: retryBody(this) };
    } catch (e) {
      const retry = this.#retryTarget(e, first, key, method, signal, timeoutMs, started);
      if (retry === undefined) throw e;
      return await open(retry.member, retry.timeoutMs);
    }
  }

  /** The member a call with `key` goes to now. */
  #pick(key: bigint | undefined): Member {
    const members = this.#nonEmpty();
    if (key === undefined) return members.find((m) => m.up) ?? members[0];
    return members[routeLive(key, members.length, (i) => members[i].up, this.#attempts)];
  }

  #nonEmpty(): readonly Member[] {
    const members = this.#membership.members;
    if (members.length === 0) {
      throw new ConnectError(
        this.#closed ? "router is closed" : "no data-service instances are configured",
        this.#closed ? Code.Canceled : Code.Unavailable,
      );
    }
    return members;
  }

  /**
   * Where to retry a failed call once, or undefined to surface the error.
   *
   * Only failures of the instance are retried, never an answer it sent (an
   * UNAVAILABLE from a struggling database must not double the reads):
   * idempotent calls after any instance failure (refused or reset
   * connection, refused stream, "retry elsewhere"); other calls only when the
   * request was certainly not processed (a refused stream or connection, or
   * "retry elsewhere"). Retries come out of the retry budget.
   */
  #retryTarget(
    error: unknown,
    failed: Member,
    key: bigint | undefined,
    method: DescMethod,
    signal: AbortSignal | undefined,
    timeoutMs: number | undefined,
    started: number,
  ): { member: Member; timeoutMs: number | undefined } | undefined {
    if (!this.#retry || this.#closed || signal?.aborted) return undefined;
    if (!isInstanceFailure(error)) return undefined;
    if (!this.#isIdempotent(method) && !notProcessed(error)) return undefined;
    let remaining = timeoutMs;
    if (timeoutMs !== undefined && timeoutMs > 0) {
      remaining = timeoutMs - (Date.now() - started);
      if (remaining <= 0) return undefined;
    }
    if (this.#membership.members.length === 0) return undefined;
    const member = this.#pick(key);
    // Same instance (nothing else is up): surface its error instead.
    if (member === failed) return undefined;
    if (!this.#budget.tryRetry()) return undefined;
    return { member, timeoutMs: remaining };
  }

  #isIdempotent(method: DescMethod): boolean {
    return method.idempotency === MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS ||
      method.idempotency === MethodOptions_IdempotencyLevel.IDEMPOTENT ||
      this.#idempotent.has(methodName(method));
  }

  async #unaryOn<I extends DescMessage, O extends DescMessage>(
    member: Member,
    method: DescMethodUnary<I, O>,
    signal: AbortSignal | undefined,
    timeoutMs: number | undefined,
    header: HeadersInit | undefined,
    input: MessageInitShape<I>,
    contextValues: ContextValues | undefined,
  ): Promise<UnaryResponse<I, O>> {
    const epoch = member.epoch;
    this.#membership.acquire(member);
    try {
      return await member.transport.unary(method, signal, timeoutMs, header, input, contextValues);
    } catch (e) {
      this.#noteFailure(member, epoch, e);
      throw e;
    } finally {
      this.#membership.release(member);
    }
  }

  async #streamOn<I extends DescMessage, O extends DescMessage>(
    member: Member,
    method: DescMethodStreaming<I, O>,
    signal: AbortSignal | undefined,
    timeoutMs: number | undefined,
    header: HeadersInit | undefined,
    input: AsyncIterable<MessageInitShape<I>>,
    contextValues: ContextValues | undefined,
  ): Promise<StreamResponse<I, O>> {
    const epoch = member.epoch;
    this.#membership.acquire(member);
    let res: StreamResponse<I, O>;
    try {
      res = await member.transport.stream(method, signal, timeoutMs, header, input, contextValues);
    } catch (e) {
      this.#noteFailure(member, epoch, e);
      this.#membership.release(member);
      throw e;
    }
    // The call lasts until its response stream ends: keep the member acquired.
    const note = (e: unknown) => this.#noteFailure(member, epoch, e);
    const release = () => this.#membership.release(member);
    return { ...res, message: track(res.message, note, release) };
  }

  /**
   * A call failed: a failure of the instance itself (not an answer it sent)
   * opens its breaker and marks it down, unless its health changed meanwhile.
   */
  #noteFailure(member: Member, epoch: number, error: unknown): void {
    if (!member.up || member.removed || member.epoch !== epoch) return;
    if (this.#breaker(member).callFailed(error)) {
      this.#setHealth(member, false, "call", ConnectError.from(error));
    }
  }

  #breaker(member: Member): CircuitBreaker {
    let b = this.#breakers.get(member);
    if (b === undefined) {
      b = new CircuitBreaker(this.#breakerOptions);
      this.#breakers.set(member, b);
    }
    return b;
  }

  #setHealth(member: Member, up: boolean, reason: HealthChange["reason"], error?: ConnectError) {
    member.up = up;
    member.epoch++;
    try {
      this.#onHealthChange?.({ instance: member.instance, up, reason, error });
    } catch {
      // A listener's bug must not break routing.
    }
  }

  async #probeRound(signal: AbortSignal): Promise<void> {
    const options = { ...this.#probeOptions, signal };
    await Promise.all(this.#membership.members.map(async (member) => {
      const epoch = member.epoch;
      this.#membership.acquire(member);
      let result: ProbeResult;
      try {
        result = await this.#probe(member.transport, options);
      } catch (e) {
        result = { up: false, error: ConnectError.from(e) };
      } finally {
        this.#membership.release(member);
      }
      // Ignore results made stale by close, removal, or a health change meanwhile.
      if (signal.aborted || member.removed || member.epoch !== epoch) return;
      const breaker = this.#breaker(member);
      // An open breaker waits out its cooldown; then the probe is its trial (half-open).
      if (!breaker.probeMayDecide) return;
      if (result.error === undefined || result.up) breaker.probeAnswered(result.up);
      else breaker.probeFailed(result.error);
      if (breaker.closed !== member.up) {
        this.#setHealth(member, breaker.closed, "probe", result.error);
      }
    }));
  }
}

function status(member: Member): InstanceStatus {
  return Object.freeze({
    id: member.instance.id,
    baseUrl: member.instance.baseUrl,
    index: member.index,
    up: member.up,
  });
}

async function* replay<T>(messages: readonly T[]): AsyncIterable<T> {
  yield* messages;
}

async function* track<T>(
  messages: AsyncIterable<T>,
  onError: (e: unknown) => void,
  onEnd: () => void,
): AsyncIterable<T> {
  try {
    yield* messages;
  } catch (e) {
    onError(e);
    throw e;
  } finally {
    onEnd();
  }
}

/**
 * Whether the request certainly never reached the instance's handler: a
 * refused stream or connection, or the instance saying "retry elsewhere".
 * Only then may a call with side effects be sent again.
 */
function notProcessed(error: unknown): boolean {
  if (wasRefused(error) || saysRetryElsewhere(error)) return true;
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (code === "ECONNREFUSED" || /connection refused/i.test(e.message)) return true;
    e = e.cause;
  }
  return false;
}
