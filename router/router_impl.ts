/**
 * The routing transport's implementation (see transport.ts for its
 * contract): pick an instance per call by jump hash over the ordered list,
 * skip instances whose breaker is open, retry instance failures within the
 * budget, probe health.
 *
 * Browser-safe.
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
import { DEFAULT_FAILOVER_ATTEMPTS, route, routeLive } from "./jump.ts";
import { DEFAULT_IDEMPOTENT_METHODS, defaultKeyOf, isIdempotent, type KeyOf } from "./keys.ts";
import {
  type BreakerOptions,
  CircuitBreaker,
  isInstanceFailure,
  saysRetryElsewhere,
  wasRefused,
} from "./breaker.ts";
import { RetryBudget } from "./retry_budget.ts";
import { withTraceContext } from "./trace_context.ts";
import {
  DEFAULT_PROBE_INTERVAL_MS,
  DEFAULT_PROBE_TIMEOUT_MS,
  probeHealth,
  ProbeLoop,
  type ProbeOptions,
  type ProbeResult,
} from "./health.ts";
import { type InstanceInit, type Member, Membership, type MembershipChange } from "./membership.ts";
import type {
  HealthChange,
  InstanceStatus,
  RoutingTransport,
  RoutingTransportOptions,
} from "./transport.ts";

const CLOSED = () => new ConnectError("router is closed", Code.Canceled);

/** The routing transport; made by `createRoutingTransport` (transport.ts). */
export class Router implements RoutingTransport {
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
    header = withTraceContext(header);
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
    header = withTraceContext(header);
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
    // A call that never ran (refused, or "retry elsewhere") adds no work anywhere: no budget.
    if (!notProcessed(error) && !this.#budget.tryRetry()) return undefined;
    return { member, timeoutMs: remaining };
  }

  #isIdempotent(method: DescMethod): boolean {
    return isIdempotent(method, this.#idempotent);
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
