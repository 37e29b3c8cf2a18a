/**
 * # router: send every request for a channel to the same data-service instance
 *
 * Request coalescing only works if identical reads meet on one instance. This
 * module is a Connect `Transport` that picks the instance per call from the
 * request's routing key (the `channelId` field by default), so
 * `createClient(MessagesService, router)` works unchanged, in Deno, Node and
 * browsers (this module imports nothing from `node:`; Deno/Node helpers such
 * as the `DATA_SERVICES` variable, a watched membership file and connect-node
 * HTTP/2 transports live in `router/node.ts`).
 *
 * ```ts
 * import { createClient } from "@connectrpc/connect";
 * import { createConnectTransport } from "@connectrpc/connect-web";
 * import { createRoutingTransport } from "./router/mod.ts";
 * import { MessagesService } from "./gen/dataservices/v1/messages_pb.ts";
 *
 * const router = createRoutingTransport({
 *   instances: ["ds-0:50051", "ds-1:50051", "ds-2:50051"], // same order everywhere
 *   createTransport: (i) => createConnectTransport({ baseUrl: i.baseUrl }),
 *   probeIntervalMs: 1000,
 * });
 * const client = createClient(MessagesService, router);
 * await client.getMessages({ channelId: 42n }); // owner of channel 42
 * await client.getStats({}); // keyless: the first live instance
 * for (const i of router.instances) { // one call per instance
 *   console.log(i.id, i.up, await createClient(MessagesService, router.transportFor(i.id)).getStats({}));
 * }
 * await router.close(); // stops the probe timer, closes transports
 * ```
 *
 * ## Routing and failover rule
 *
 * - **Owner.** Instances form an ordered list of n. The owner of key k is
 *   `jumpHash(mix64(k), n)` (Lamping & Veach jump hash after a splitmix64
 *   finalizer, so Snowflake-like ids spread evenly) over the FULL list,
 *   whatever is up. Appending an instance moves about 1/(n+1) of the keys, all
 *   to the new instance; every router must use the same list in the same order.
 * - **Fallback.** If the owner is down, the key goes to the first live
 *   instance among `jumpHash(mix64(k ^ salt_i), n)` for i = 1..16
 *   (salt_i = i * 0x9e3779b97f4a7c15 mod 2^64), then, in the rare case all of
 *   those are down, to `live[jumpHash(mix64(k ^ salt_17), live.length)]`.
 *   Keys owned by live instances never move; only a dead instance's keys move,
 *   each to a fallback fixed by the key and the set of dead instances, spread
 *   evenly over the live ones; they return when the owner is up again.
 * - **Nothing live.** The owner is tried anyway (it may have recovered) and
 *   its error surfaces.
 * - **Keyless calls** (GetStats, getAndResetMetrics, Health) go to the first
 *   live instance in list order; `transportFor(id)` addresses one instance.
 * - **Health.** Each instance gets `grpc.health.v1.Health/Check` every
 *   `probeIntervalMs` (default 1 s, timeout 500 ms); SERVING (or
 *   UNIMPLEMENTED: reachable, no health service) means up. A call failing
 *   with UNAVAILABLE marks its instance down at once; a probe brings it back.
 * - **Retry.** A call of an idempotent method (`NO_SIDE_EFFECTS` or
 *   `IDEMPOTENT` in the proto: GetMessages, GetMessage, GetStats; plus the
 *   configured `messages.MessagesService/getMessage`) failing with UNAVAILABLE
 *   is retried once on the instance the rule now picks, within the original
 *   deadline. Writes (CreateMessage) and other codes are never retried.
 *
 * ## Cost
 *
 * While an instance is down its channels are served by their fallbacks,
 * which coalesce them fine. But routers notice failures and recoveries at
 * different moments (up to one probe interval plus the probe timeout apart),
 * and during that window one channel's reads can be split over the owner and
 * its fallback, each coalescing separately: up to twice the queries for the
 * moved channels only. Flapping instances repeat that cost; keys of live
 * owners never pay it. A router with a different list order splits every
 * moved key permanently, so generate the list from one source.
 *
 * @module
 */

export {
  DEFAULT_FAILOVER_ATTEMPTS,
  jumpHash,
  MAX_BUCKETS,
  mix64,
  route,
  routeLive,
} from "./jump.ts";
export {
  type ClosableTransport,
  type Instance,
  type InstanceInit,
  type MembershipChange,
  parseInstanceList,
  toInstance,
  type TransportFactory,
} from "./membership.ts";
export {
  DEFAULT_PROBE_INTERVAL_MS,
  DEFAULT_PROBE_TIMEOUT_MS,
  probeHealth,
  type ProbeOptions,
  type ProbeResult,
} from "./health.ts";
export {
  createRoutingTransport,
  DEFAULT_IDEMPOTENT_METHODS,
  defaultKeyOf,
  type HealthChange,
  type InstanceStatus,
  keyFromField,
  type KeyOf,
  methodName,
  type RoutingTransport,
  type RoutingTransportOptions,
} from "./transport.ts";
export {
  createLeanConnectTransport,
  type LeanTransportOptions,
  TransportFailure,
} from "./lean_transport.ts";
export {
  discoverFastUrl,
  type DiscoveryOptions,
  isTransportFailure,
  withFastListener,
} from "./discovery.ts";
export {
  type BreakerOptions,
  type BreakerState,
  isInstanceFailure,
  wasRefused,
} from "./breaker.ts";
export { type RetryBudgetOptions } from "./retry_budget.ts";
export { mergeHotKeys } from "./hot_keys.ts";
