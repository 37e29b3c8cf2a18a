/**
 * A Connect `Transport` that sends every request for a routing key (the
 * channel id) to the same data-service instance, so that instance's request
 * coalescing sees all of them, and fails over around dead instances.
 *
 * Imports nothing from `node:`: works in browsers with connect-web transports.
 *
 * @module
 */

import type { ConnectError, Transport } from "@connectrpc/connect";
import type { BreakerOptions } from "./breaker.ts";
import type { ProbeOptions, ProbeResult } from "./health.ts";
import type { KeyOf } from "./keys.ts";
import type { Instance, InstanceInit, MembershipChange, TransportFactory } from "./membership.ts";
import type { RetryBudgetOptions } from "./retry_budget.ts";
import { Router } from "./router_impl.ts";

export {
  DEFAULT_IDEMPOTENT_METHODS,
  defaultKeyOf,
  keyFromField,
  type KeyOf,
  methodName,
} from "./keys.ts";

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
