/**
 * A {@linkcode HotKeysView} as the `GetHotKeys` answer (and, through its
 * JSON form, the `/debug/hotkeys` page).
 *
 * @module
 */
import { create } from "@bufbuild/protobuf";
import {
  type GetHotKeysResponse,
  GetHotKeysResponseSchema,
  type HotKeyStats,
  HotKeyStatsSchema,
  HotKeysWindow,
} from "../../gen/dataservices/v1/messages_pb.ts";
import type { Totals } from "./sliding_top_k.ts";
import type { Tally } from "./space_saving.ts";
import type { HotKeysView, WindowName } from "./hot_keys.ts";

/** Default and largest `limit` of GetHotKeys. */
export const HOT_KEYS_LIMIT = { default: 10, max: 64 } as const;

/** The window a request names (unspecified: short). */
export function windowOf(w: HotKeysWindow): WindowName {
  return w === HotKeysWindow.LONG ? "long" : "short";
}

/** coalesced / (coalesced + read queries); 0 without reads. */
export function savedRatio(coalesced: number, queries: number, writes: number): number {
  const reads = coalesced + Math.max(0, queries - writes);
  return reads > 0 ? coalesced / reads : 0;
}

function stats(t: Tally<unknown> | Totals): HotKeyStats {
  const requests = "events" in t ? t.events : t.count;
  return create(HotKeyStatsSchema, {
    requests: BigInt(requests),
    requestsError: BigInt("error" in t ? t.error : 0),
    queries: BigInt(t.queries),
    coalesced: BigInt(t.coalesced),
    errors: BigInt(t.errors),
    writes: BigInt(t.writes),
    savedRatio: savedRatio(t.coalesced, t.queries, t.writes),
  });
}

/** The GetHotKeys answer for a view. */
export function hotKeysResponse(
  view: HotKeysView,
  o: { instance: string; capacity: number },
): GetHotKeysResponse {
  const { channels, keys } = view;
  return create(GetHotKeysResponseSchema, {
    instance: o.instance,
    window: view.window === "long" ? HotKeysWindow.LONG : HotKeysWindow.SHORT,
    spanMs: BigInt(Math.round(channels.spanMs)),
    capacity: o.capacity,
    totals: stats(channels.totals),
    channels: channels.top.map((t) => ({ channelId: t.key, stats: stats(t) })),
    channelsMaxError: BigInt(channels.maxError),
    keys: keys.top.map((t) => ({
      key: t.key,
      channelId: (t.tag as bigint | undefined) ?? 0n,
      stats: stats(t),
    })),
    keysMaxError: BigInt(keys.maxError),
    keyRequests: BigInt(keys.totals.events),
  });
}
