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
  GetStatsResponseSchema,
  type Message,
  MessageSchema,
  MessagesService,
} from "../gen/dataservices/v1/messages_pb.ts";
import {
  MessageReplySchema,
  MessagesService as CompatMessagesService,
  MetricsReplySchema,
} from "../gen/messages/messages_pb.ts";
import type { InFlight, ResettableWindow, ServiceMetrics } from "./metrics.ts";
import type { MessageStore, StoredMessage } from "./store.ts";
import { type SnowflakeGenerator, timestampOf } from "./snowflake.ts";
import { historyQuery, requireContent, requirePositiveId } from "./validate.ts";

/**
 * Runs `fn` once for all concurrent callers of the same key (see coalescer.ts)
 * and gives each caller its outcome. `signal` is the caller's own: it ends
 * this caller's wait only. Errors are ConnectErrors.
 */
export type Coalesce = <T>(
  key: string,
  fn: (signal: AbortSignal) => Promise<T>,
  signal: AbortSignal,
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

/** Reads one message through the coalescer; NOT_FOUND when absent. */
async function readOne(
  deps: ServiceDeps,
  channelId: bigint,
  messageId: bigint,
  signal: AbortSignal,
): Promise<StoredMessage> {
  requirePositiveId("channel_id", channelId);
  requirePositiveId("message_id", messageId);
  const value = await deps.coalesce(
    `msg:${channelId}:${messageId}`,
    () => query(deps, "get_message", () => deps.store.getMessage(channelId, messageId)),
    signal,
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
        ctx.signal,
      );
      return { messages: rows.map(toProto) };
    },

    async getMessage(req, ctx) {
      return { message: toProto(await readOne(deps, req.channelId, req.messageId, ctx.signal)) };
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

/** The original's messages.MessagesService, on the same coalescer and counters. */
export function compatMessagesService(
  deps: ServiceDeps,
): ServiceImpl<typeof CompatMessagesService> {
  return {
    async getMessage(req, ctx) {
      const m = await readOne(deps, req.channelId, req.messageId, ctx.signal);
      return create(MessageReplySchema, m);
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
