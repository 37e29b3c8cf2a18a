/**
 * The Connect implementations of `dataservices.v1.MessagesService` and of the
 * original's `messages.MessagesService`. Reads go through the coalescer;
 * writes go straight to the store.
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
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import {
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
import type { Cancellation } from "../lib/cancellation.ts";
import { cancellationOf } from "../http/fast/context.ts";
import { CapacityError, type Limiter } from "./limiter.ts";
import type { QueryTracer } from "./tracing.ts";
import type { InFlight, ResettableWindow, ServiceMetrics } from "./metrics.ts";
import type { MessageStore, StoredMessage } from "./store.ts";
import { type SnowflakeGenerator, timestampOf } from "./snowflake.ts";
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

/** What the service implementations need. */
export interface ServiceDeps {
  store: MessageStore;
  coalesce: Coalesce;
  metrics: ServiceMetrics;
  ids: SnowflakeGenerator;
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

/** Reads one message through the coalescer; NOT_FOUND when absent. */
async function readOne(
  deps: ServiceDeps,
  channelId: bigint,
  messageId: bigint,
  cancel: Cancellation | undefined,
): Promise<StoredMessage> {
  const value = await deps.coalesce(
    `msg:${channelId}:${messageId}`,
    () => query(deps, "get_message", () => deps.store.getMessage(channelId, messageId)),
    cancel,
  );
  if (!value) {
    throw new ConnectError(
      `message ${messageId} not found in channel ${channelId}`,
      Code.NotFound,
    );
  }
  return value;
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
      const rows = await deps.coalesce(
        `hist:${q.channelId}:${q.before}:${q.after}:${q.limit}`,
        () => query(deps, "get_messages", () => deps.store.getMessages(q)),
        cancellationOf(ctx),
      );
      return getMessagesResponse(rows);
    },

    async getMessage(req, ctx) {
      return getMessageResponse(
        await readOne(deps, req.channelId, req.messageId, cancellationOf(ctx)),
      );
    },

    async createMessage(req, ctx) {
      // ids and content are checked by the proto's rules (http/validation.ts) before this runs.
      const release = await admitWrite(deps.writes, cancellationOf(ctx));
      try {
        const m: StoredMessage = {
          channelId: req.channelId,
          authorId: req.authorId,
          content: req.content,
          messageId: deps.ids.next(),
        };
        await query(deps, "create_message", () => deps.store.createMessage(m));
        return { message: toProto(m) };
      } finally {
        release();
      }
    },

    async getStats() {
      const t = await deps.metrics.totals();
      const f = deps.inFlight();
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
      });
    },
  };
}

/** The original's messages.MessagesService, on the same coalescer and counters. */
export function compatMessagesService(
  deps: ServiceDeps,
): ServiceImpl<typeof CompatMessagesService> {
  return {
    async getMessage(req, ctx) {
      requirePositiveId("channel_id", req.channelId);
      requirePositiveId("message_id", req.messageId);
      return messageReply(await readOne(deps, req.channelId, req.messageId, cancellationOf(ctx)));
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
  CompatMessagesService.method.getAndResetMetrics.name,
]);
