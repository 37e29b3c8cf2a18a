/**
 * The Connect implementations of `dataservices.v1.MessagesService` and of the
 * original's `messages.MessagesService`. Reads go through the coalescer;
 * writes pass their channel's token bucket and the write limiter, then go
 * straight to the store. Every read and write is recorded in the hot-key
 * telemetry (O(1) per call).
 *
 * `dataservices.v1` requests arrive validated against their proto's rules
 * (ids > 0, limit 0..100, content 1..4,000 characters and not blank, after <
 * before; see `http/validation.ts`, enforced by `serve()` on both paths);
 * what is left here is what the rules cannot do (limit 0 means the default).
 * The original's `messages.MessagesService` has no rules in its proto (its
 * wire contract, kept byte for byte) and checks its own ids.
 *
 * @module
 */
import { create } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import {
  GetHotKeysResponseSchema,
  type GetMessageResponse,
  GetMessageResponseSchema,
  type GetMessagesResponse,
  GetMessagesResponseSchema,
  GetStatsResponseSchema,
  type Message,
  MessageSchema,
  MessagesService,
} from "../gen/dataservices/v1/messages_pb.ts";
import {
  type MessageReply,
  MessageReplySchema,
  MessagesService as CompatMessagesService,
  MetricsReplySchema,
} from "../gen/messages/messages_pb.ts";
import { RetryInfoSchema } from "../gen/google/rpc/error_details_pb.ts";
import type { Cancellation } from "../lib/cancellation.ts";
import type { HotKeys } from "./hotkeys/hot_keys.ts";
import { HOT_KEYS_LIMIT, hotKeysResponse, windowOf } from "./hotkeys/response.ts";
import type { WriteBuckets } from "./write_buckets.ts";
import { cancellationOf } from "../http/fast/context.ts";
import { CapacityError, type Limiter } from "./limiter.ts";
import type { QueryTracer } from "./tracing.ts";
import type { InFlight, ResettableWindow, ServiceMetrics } from "./metrics.ts";
import type { MessageStore, StoredMessage } from "./store.ts";
import { timestampOf } from "./snowflake.ts";
import { historyQuery, requirePositiveId } from "./validate.ts";

/**
 * Runs `fn` once for all concurrent callers of the same key (see coalescer.ts)
 * and gives each caller its outcome. `cancel` is the caller's own (its signal
 * or deadline): it ends this caller's wait only. Errors are ConnectErrors.
 * Every caller of one flight receives the very same value object.
 */
export type Coalesce = <T>(
  key: string,
  fn: (signal: AbortSignal) => Promise<T>,
  cancel: Cancellation | undefined,
) => Promise<T>;

/** Where new message ids come from (the worker lease, worker_lease.ts). */
export interface IdSource {
  /** A new unique id; throws a ConnectError (UNAVAILABLE) when none may be minted now. */
  next(): bigint;
}

/** What the service implementations need. */
export interface ServiceDeps {
  store: MessageStore;
  coalesce: Coalesce;
  metrics: ServiceMetrics;
  ids: IdSource;
  /** Reported by GetStats: worker id and address. */
  instance: string;
  startedAt: Date;
  inFlight: () => InFlight;
  /** The view getAndResetMetrics reads and restarts. */
  window: ResettableWindow;
  /** Bounds writes to Cassandra (past its queue: RESOURCE_EXHAUSTED); none when undefined. */
  writes?: Limiter;
  /** Wraps store operations in trace spans (only when tracing is on). */
  traceQuery?: QueryTracer;
  /** Per-channel token buckets of writes; none when undefined. */
  writeBuckets?: WriteBuckets;
  /** Hot-key telemetry; none when undefined (GetHotKeys then answers capacity 0). */
  hot?: HotKeys;
  /** The read query limiter and the coalescer's drop count, for GetStats. */
  admission?: () => AdmissionStats;
}

/** What GetStats reports of admission to Cassandra. */
export interface AdmissionStats {
  queryLimit: number;
  runningQueries: number;
  queuedQueries: number;
  shedQueries: number;
  droppedQueries: number;
}

/** Runs one store operation, counting it as a query, timing it, and tracing it when on. */
async function query<T>(deps: ServiceDeps, op: string, fn: () => Promise<T>): Promise<T> {
  deps.metrics.queries.inc({ op });
  const end = deps.metrics.querySeconds.startTimer({ op });
  try {
    return await (deps.traceQuery === undefined ? fn() : deps.traceQuery(op, fn));
  } finally {
    end();
  }
}

/**
 * One response message per stored value: callers of one flight share the
 * stored value, so they share the response too (and the fast path encodes it
 * once).
 */
function memo<K extends object, V>(make: (key: K) => V): (key: K) => V {
  const cache = new WeakMap<K, V>();
  return (key) => {
    let v = cache.get(key);
    if (v === undefined) cache.set(key, v = make(key));
    return v;
  };
}

const getMessageResponse = memo((m: StoredMessage): GetMessageResponse =>
  create(GetMessageResponseSchema, { message: toProto(m) })
);
const getMessagesResponse = memo((rows: StoredMessage[]): GetMessagesResponse =>
  create(GetMessagesResponseSchema, { messages: rows.map(toProto) })
);
const messageReply = memo((m: StoredMessage): MessageReply => create(MessageReplySchema, m));
/**
 * The original's answer for a missing row: an empty success. Shared by every
 * such call (handlers never change a returned message).
 */
const EMPTY_REPLY: MessageReply = create(MessageReplySchema);

/**
 * A write slot: at once if one is free, else after waiting in the bounded
 * queue; RESOURCE_EXHAUSTED when the queue is full (the driver's own limit of
 * 2048 requests per connection is never reached), the caller's own error when
 * it gives up first.
 */
async function admitWrite(
  writes: Limiter | undefined,
  cancel: Cancellation,
): Promise<() => void> {
  if (writes === undefined) return () => {};
  const release = writes.tryAcquire();
  if (release !== undefined) return release;
  try {
    return await writes.acquire(cancel);
  } catch (err) {
    if (err instanceof CapacityError) {
      throw new ConnectError(`server busy: ${err.message}`, Code.ResourceExhausted);
    }
    if (cancel.aborted && err === cancel.reason) throw ConnectError.from(err, Code.Canceled);
    throw err;
  }
}

/**
 * A read through the coalescer, recorded in the hot-key telemetry: the
 * request, its query (if it is the one that runs it) and its failure.
 */
async function coalescedRead<T>(
  deps: ServiceDeps,
  channelId: bigint,
  key: string,
  op: string,
  load: () => Promise<T>,
  cancel: Cancellation | undefined,
): Promise<T> {
  const hot = deps.hot;
  if (hot === undefined) return deps.coalesce(key, () => query(deps, op, load), cancel);
  hot.read(channelId, key);
  try {
    return await deps.coalesce(key, () => {
      hot.queried(channelId, key);
      return query(deps, op, load);
    }, cancel);
  } catch (err) {
    hot.failed(channelId, key);
    throw err;
  }
}

/** RESOURCE_EXHAUSTED for a write over its channel's rate, with a RetryInfo delay. */
function throttledError(channelId: bigint, retryMs: number, b: WriteBuckets): ConnectError {
  return new ConnectError(
    `channel ${channelId} is writing faster than ${b.ratePerSec}/s (burst ${b.burst}): ` +
      `retry in ${retryMs} ms`,
    Code.ResourceExhausted,
    { "retry-after": String(Math.ceil(retryMs / 1000)) },
    [{ desc: RetryInfoSchema, value: { retryDelay: durationFromMs(retryMs) } }],
  );
}

/** Reads one message through the coalescer; undefined when there is none. */
function readOne(
  deps: ServiceDeps,
  channelId: bigint,
  messageId: bigint,
  cancel: Cancellation | undefined,
): Promise<StoredMessage | undefined> {
  return coalescedRead(
    deps,
    channelId,
    `msg:${channelId}:${messageId}`,
    "get_message",
    () => deps.store.getMessage(channelId, messageId),
    cancel,
  );
}

function toProto(m: StoredMessage): Message {
  return create(MessageSchema, {
    ...m,
    createdAt: timestampFromMs(timestampOf(m.messageId)),
  });
}

/** dataservices.v1.MessagesService. */
export function messagesService(deps: ServiceDeps): ServiceImpl<typeof MessagesService> {
  return {
    async getMessages(req, ctx) {
      const q = historyQuery(req);
      const rows = await coalescedRead(
        deps,
        q.channelId,
        `hist:${q.channelId}:${q.before}:${q.after}:${q.limit}`,
        "get_messages",
        () => deps.store.getMessages(q),
        cancellationOf(ctx),
      );
      return getMessagesResponse(rows);
    },

    async getMessage(req, ctx) {
      const m = await readOne(deps, req.channelId, req.messageId, cancellationOf(ctx));
      if (!m) {
        throw new ConnectError(
          `message ${req.messageId} not found in channel ${req.channelId}`,
          Code.NotFound,
        );
      }
      return getMessageResponse(m);
    },

    async createMessage(req, ctx) {
      // ids and content are checked by the proto's rules (http/validation.ts) before this runs.
      const { channelId } = req;
      const { hot, writeBuckets } = deps;
      hot?.write(channelId);
      const retryMs = writeBuckets?.take(channelId) ?? 0;
      if (retryMs > 0) {
        hot?.failed(channelId);
        deps.metrics.throttled.inc();
        throw throttledError(channelId, retryMs, writeBuckets!);
      }
      let release: () => void = () => {};
      try {
        release = await admitWrite(deps.writes, cancellationOf(ctx));
        const m: StoredMessage = {
          channelId,
          authorId: req.authorId,
          content: req.content,
          messageId: deps.ids.next(),
        };
        hot?.queried(channelId);
        await query(deps, "create_message", () => deps.store.createMessage(m));
        return { message: toProto(m) };
      } catch (err) {
        hot?.failed(channelId);
        throw err;
      } finally {
        release();
      }
    },

    async getStats() {
      const t = await deps.metrics.totals();
      const f = deps.inFlight();
      const a = deps.admission?.();
      return create(GetStatsResponseSchema, {
        instance: deps.instance,
        startedAt: timestampFromMs(deps.startedAt.getTime()),
        requests: BigInt(t.requests),
        queries: BigInt(t.queries),
        coalesced: BigInt(t.coalesced),
        errors: BigInt(t.errors),
        rejected: BigInt(t.rejected),
        inFlightQueries: BigInt(f.flights),
        inFlightWaiters: BigInt(f.waiters),
        ...(a && {
          queryLimit: a.queryLimit,
          runningQueries: BigInt(a.runningQueries),
          queuedQueries: BigInt(a.queuedQueries),
          shedQueries: BigInt(a.shedQueries),
          droppedQueries: BigInt(a.droppedQueries),
        }),
        throttledWrites: BigInt(deps.writeBuckets?.throttled ?? 0),
      });
    },

    getHotKeys(req) {
      // window and limit (0..64) are checked by the proto's rules before this runs.
      const limit = req.limit === 0 ? HOT_KEYS_LIMIT.default : req.limit;
      const window = windowOf(req.window);
      const hot = deps.hot;
      if (hot === undefined) {
        return create(GetHotKeysResponseSchema, { instance: deps.instance, window: req.window });
      }
      return hotKeysResponse(hot.view(window, limit), {
        instance: deps.instance,
        capacity: hot.channels.capacity,
      });
    },
  };
}

/**
 * The original's messages.MessagesService, on the same coalescer and counters.
 * Keeps the original's contract for a missing row: an empty `MessageReply`
 * (success), not NOT_FOUND, so its clients see what they always saw. Every
 * other failure (bad input, Cassandra down, a deadline) is still an error.
 */
export function compatMessagesService(
  deps: ServiceDeps,
): ServiceImpl<typeof CompatMessagesService> {
  return {
    async getMessage(req, ctx) {
      requirePositiveId("channel_id", req.channelId);
      requirePositiveId("message_id", req.messageId);
      const m = await readOne(deps, req.channelId, req.messageId, cancellationOf(ctx));
      return m ? messageReply(m) : EMPTY_REPLY;
    },
    async getAndResetMetrics() {
      const w = deps.window.take(await deps.metrics.totals());
      return create(MetricsReplySchema, {
        totalRequests: BigInt(w.requests),
        queriesExecuted: BigInt(w.queries),
      });
    },
  };
}

/** Methods whose calls are not counted as data requests (they read the counters). */
export const UNCOUNTED_METHODS: ReadonlySet<string> = new Set([
  MessagesService.method.getStats.name,
  MessagesService.method.getHotKeys.name,
  CompatMessagesService.method.getAndResetMetrics.name,
]);
