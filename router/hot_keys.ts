/**
 * A fleet's hot-key view: the `GetHotKeys` answers of several instances
 * merged into one (what a gateway or the dashboard shows). Pure and
 * browser-safe.
 *
 * Through the router's affinity each channel is served by one instance, so a
 * channel appears in one answer and merging is mostly concatenation; during
 * a failover a channel's traffic is split over its owner and its fallback,
 * and its figures are summed (its `instance` then names both). A channel that
 * an instance did not list may still have had up to that instance's
 * `channels_max_error` requests there: the merged bound is the sum.
 *
 * @module
 */
import { create } from "@bufbuild/protobuf";
import {
  type GetHotKeysResponse,
  GetHotKeysResponseSchema,
  type HotKeyStats,
  HotKeyStatsSchema,
} from "../gen/dataservices/v1/messages_pb.ts";

/** Share of reads answered without a query of their own (as the server computes it). */
function savedRatio(s: HotKeyStats): number {
  const reads = s.coalesced + (s.queries > s.writes ? s.queries - s.writes : 0n);
  return reads > 0n ? Number(s.coalesced) / Number(reads) : 0;
}

function add(into: HotKeyStats, s: HotKeyStats | undefined): void {
  if (s === undefined) return;
  into.requests += s.requests;
  into.requestsError += s.requestsError;
  into.queries += s.queries;
  into.coalesced += s.coalesced;
  into.errors += s.errors;
  into.writes += s.writes;
}

interface Entry {
  stats: HotKeyStats;
  instances: string[];
  channelId: bigint;
}

/** Groups entries by `id`, summing their stats and naming every instance. */
function group<T extends { stats?: HotKeyStats; channelId: bigint }>(
  answers: readonly GetHotKeysResponse[],
  list: (a: GetHotKeysResponse) => readonly T[],
  id: (t: T) => string | bigint,
): Map<string | bigint, Entry> {
  const out = new Map<string | bigint, Entry>();
  for (const a of answers) {
    for (const t of list(a)) {
      let e = out.get(id(t));
      if (e === undefined) {
        e = { stats: create(HotKeyStatsSchema), instances: [], channelId: t.channelId };
        out.set(id(t), e);
      }
      add(e.stats, t.stats);
      const from = (t as { instance?: string }).instance || a.instance;
      if (!e.instances.includes(from)) e.instances.push(from);
    }
  }
  for (const e of out.values()) e.stats.savedRatio = savedRatio(e.stats);
  return out;
}

const byRequests = (a: [unknown, Entry], b: [unknown, Entry]) =>
  a[1].stats.requests === b[1].stats.requests
    ? 0
    : a[1].stats.requests > b[1].stats.requests
    ? -1
    : 1;

/**
 * Merges GetHotKeys answers (of one window) from several instances: channels
 * and keys with their figures summed, the `limit` largest by requests, each
 * naming the instance(s) it came from; exact totals summed; error bounds
 * summed.
 *
 * @example
 * ```ts
 * const answers = await Promise.all(router.instances.map((i) =>
 *   createClient(MessagesService, router.transportFor(i.id)).getHotKeys({})
 * ));
 * const fleet = mergeHotKeys(answers); // fleet.channels[0]: the fleet's hottest channel
 * ```
 */
export function mergeHotKeys(
  answers: readonly GetHotKeysResponse[],
  limit = 10,
): GetHotKeysResponse {
  const totals = create(HotKeyStatsSchema);
  for (const a of answers) add(totals, a.totals);
  totals.savedRatio = savedRatio(totals);
  const channels = [...group(answers, (a) => a.channels, (c) => c.channelId)]
    .sort(byRequests)
    .slice(0, limit)
    .map(([, e]) => ({ channelId: e.channelId, stats: e.stats, instance: e.instances.join(", ") }));
  const keys = [...group(answers, (a) => a.keys, (k) => k.key)]
    .sort(byRequests)
    .slice(0, limit)
    .map(([key, e]) => ({
      key: key as string,
      channelId: e.channelId,
      stats: e.stats,
      instance: e.instances.join(", "),
    }));
  const sum = (f: (a: GetHotKeysResponse) => bigint) => answers.reduce((n, a) => n + f(a), 0n);
  return create(GetHotKeysResponseSchema, {
    instance: answers.length === 1 ? answers[0].instance : `merged: ${answers.length} instances`,
    window: answers[0]?.window,
    spanMs: answers.reduce((m, a) => (a.spanMs > m ? a.spanMs : m), 0n),
    capacity: answers.reduce((m, a) => Math.max(m, a.capacity), 0),
    totals,
    channels,
    channelsMaxError: sum((a) => a.channelsMaxError),
    keys,
    keysMaxError: sum((a) => a.keysMaxError),
    keyRequests: sum((a) => a.keyRequests),
  });
}
