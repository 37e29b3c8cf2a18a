/**
 * The routing transport's implementation (see transport.ts for its
 * contract): the routing decision, per call, by jump hash over the ordered
 * list (jump.ts), around instances that are down; unary and server-streaming
 * calls sent again once when failover.ts says so. Around it: the list
 * (membership.ts), each instance's health (instance_health.ts: breakers and
 * probes), and the calls on one instance (instance_calls.ts).
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
  DescMethodStreaming,
  DescMethodUnary,
  MessageInitShape,
  MessageShape,
} from "@bufbuild/protobuf";
import { DEFAULT_FAILOVER_ATTEMPTS, route, routeLive } from "./jump.ts";
import { DEFAULT_IDEMPOTENT_METHODS, defaultKeyOf, type KeyOf } from "./keys.ts";
import { withTraceContext } from "./trace_context.ts";
import { DEFAULT_PROBE_INTERVAL_MS, DEFAULT_PROBE_TIMEOUT_MS, probeHealth } from "./health.ts";
import { type InstanceInit, type Member, Membership, type MembershipChange } from "./membership.ts";
import { InstanceHealth } from "./instance_health.ts";
import { InstanceCalls } from "./instance_calls.ts";
import { type Attempt, Failover, type RetryTarget } from "./failover.ts";
import type { InstanceStatus, RoutingTransport, RoutingTransportOptions } from "./transport.ts";

const CLOSED = () => new ConnectError("router is closed", Code.Canceled);

/** The routing transport; made by `createRoutingTransport` (transport.ts). */
export class Router implements RoutingTransport {
  #membership: Membership;
  #keyOf: KeyOf;
  /** Salted re-jumps tried for a key whose owner is down. */
  #attempts: number;
  #failover: Failover;
  #health: InstanceHealth;
  #calls: InstanceCalls;
  #closed = false;

  constructor(options: RoutingTransportOptions) {
    const attempts = options.failoverAttempts ?? DEFAULT_FAILOVER_ATTEMPTS;
    if (!Number.isInteger(attempts) || attempts < 0) {
      throw new RangeError(`Failover attempts must be an integer >= 0, got ${attempts}`);
    }
    const timeoutMs = options.probeTimeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS;
    if (!(timeoutMs > 0)) throw new RangeError(`Probe timeout must be > 0 ms, got ${timeoutMs}`);
    this.#attempts = attempts;
    this.#keyOf = options.keyOf ?? defaultKeyOf;
    this.#failover = new Failover({
      retry: options.retryUnavailable ?? true,
      idempotentMethods: options.idempotentMethods ?? DEFAULT_IDEMPOTENT_METHODS,
      budget: options.retryBudget,
    });
    this.#membership = new Membership(options.createTransport);
    this.#membership.set(options.instances);
    this.#health = new InstanceHealth({
      membership: this.#membership,
      breaker: options.breaker ?? {},
      probe: options.probe ?? probeHealth,
      probeOptions: { service: options.healthService ?? "", timeoutMs },
      probeIntervalMs: options.probeIntervalMs ?? DEFAULT_PROBE_INTERVAL_MS,
      onHealthChange: options.onHealthChange,
    });
    this.#calls = new InstanceCalls(
      this.#membership,
      (member, epoch, error) => this.#health.callFailed(member, epoch, error),
    );
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
        this.#calls.unary(resolve(), method, signal, timeoutMs, header, input, contextValues),
      stream: (method, signal, timeoutMs, header, input, contextValues) =>
        this.#calls.stream(resolve(), method, signal, timeoutMs, header, input, contextValues),
    };
  }

  setInstances(list: Iterable<InstanceInit>): MembershipChange {
    if (this.#closed) throw CLOSED();
    return this.#membership.set(list);
  }

  markDown(id: string): void {
    const member = this.#membership.get(id);
    if (member !== undefined) this.#health.force(member, false);
  }

  markUp(id: string): void {
    const member = this.#membership.get(id);
    if (member !== undefined) this.#health.force(member, true);
  }

  /** Retries granted and denied by the retry budget so far. */
  get retries(): { granted: number; denied: number } {
    return this.#failover.retries;
  }

  checkHealth(): Promise<void> {
    return this.#health.checkNow();
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#health.stop();
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
    const attempt = { first, key, method, signal, timeoutMs, started: Date.now() };
    this.#failover.callStarted();
    const send = (member: Member, timeout: number | undefined) =>
      this.#calls.unary(member, method, signal, timeout, header, input, contextValues);
    try {
      return await send(first, timeoutMs);
    } catch (e) {
      const retry = this.#retryTarget(e, attempt);
      if (retry === undefined) throw e;
      return await send(retry.member, retry.timeoutMs);
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
      const calls = this.#calls;
      return await calls.stream(member, method, signal, timeoutMs, header, input, contextValues);
    }
    // Server streaming: one request message, known before the call. Buffer it
    // to read the key, and to replay it on a retry.
    const requests: MessageInitShape<I>[] = [];
    for await (const message of input) requests.push(message);
    const key = this.#keyOf(method, requests[0]);
    const first = this.#pick(key);
    const attempt = { first, key, method, signal, timeoutMs, started: Date.now() };
    this.#failover.callStarted();
    const open = (member: Member, timeout: number | undefined) =>
      this.#calls.stream(member, method, signal, timeout, header, replay(requests), contextValues);
    try {
      const res = await open(first, timeoutMs);
      if (!this.#failover.retriesStreams(method)) return res;
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
          const retry = received ? undefined : router.#retryTarget(e, attempt);
          if (retry === undefined) throw e;
          const second = await open(retry.member, retry.timeoutMs);
          yield* second.message;
          second.trailer.forEach((value, name) => res.trailer.set(name, value));
        }
      };
      return { ...res, message: retryBody(this) };
    } catch (e) {
      const retry = this.#retryTarget(e, attempt);
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

  /** Where to send a failed call again (see failover.ts), or undefined; never once closed. */
  #retryTarget(error: unknown, attempt: Attempt): RetryTarget | undefined {
    if (this.#closed || this.#membership.members.length === 0) return undefined;
    return this.#failover.target(error, attempt, (key) => this.#pick(key));
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
