/**
 * The Connect implementations of `dataservices.v1.MessagesService` and of the
 * original's `messages.MessagesService`. Reads go through the coalescer;
 * writes go straight to the store.
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
import type { InFlight, ResettableWindow, ServiceMetrics } from "./metrics.ts";
import type { MessageStore, StoredMessage } from "./store.ts";
import { timestampOf } from "./snowflake.ts";
import { historyQuery, requireContent, requirePositiveId } from "./validate.ts";

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
}

/** Runs one store operation, counting it as a query and timing it. */
async function query<T>(deps: ServiceDeps, op: string, fn: () => Promise<T>): Promise<T> {
  deps.metrics.queries.inc({ op });
  const end = deps.metrics.querySeconds.startTimer({ op });
  try {
    return await fn();
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

/** Reads one message through the coalescer; undefined when there is none. */
function readOne(
  deps: ServiceDeps,
  channelId: bigint,
  messageId: bigint,
  cancel: Cancellation | undefined,
): Promise<StoredMessage | undefined> {
  requirePositiveId("channel_id", channelId);
  requirePositiveId("message_id", messageId);
  return deps.coalesce(
    `msg:${channelId}:${messageId}`,
    () => query(deps, "get_message", () => deps.store.getMessage(channelId, messageId)),
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
      const rows = await deps.coalesce(
        `hist:${q.channelId}:${q.before}:${q.after}:${q.limit}`,
        () => query(deps, "get_messages", () => deps.store.getMessages(q)),
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

    async createMessage(req) {
      requirePositiveId("channel_id", req.channelId);
      requirePositiveId("author_id", req.authorId);
      const m: StoredMessage = {
        channelId: req.channelId,
        authorId: req.authorId,
        content: requireContent(req.content),
        messageId: deps.ids.next(),
      };
      await query(deps, "create_message", () => deps.store.createMessage(m));
      return { message: toProto(m) };
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
  CompatMessagesService.method.getAndResetMetrics.name,
]);
