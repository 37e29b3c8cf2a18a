/**
 * The hot-keys panel: the fleet's hottest channels over the last ~10 s, with
 * their share of the traffic and how much of their reads coalescing saved —
 * `GetHotKeys` of every instance once a second, merged
 * (`router/hot_keys.ts`).
 *
 * Browser only.
 *
 * @module
 */
import { createClient } from "@connectrpc/connect";
import {
  type GetHotKeysResponse,
  HotKeysWindow,
  MessagesService,
} from "../gen/dataservices/v1/messages_pb.ts";
import { mergeHotKeys } from "../router/hot_keys.ts";
import { $, fmt, h, pct, show } from "./dom.ts";
import type { Problems } from "./errors_panel.ts";
import type { Fleet } from "./fleet.ts";

/** Channels listed. */
const ROWS = 10;
/** Time between polls. */
const POLL_MS = 1000;

/** The `#hotkeys` section. */
export class HotKeysPanel {
  readonly #fleet: Fleet;
  readonly #problems: Problems;

  constructor(fleet: Fleet, problems: Problems) {
    this.#fleet = fleet;
    this.#problems = problems;
  }

  /** Polls once a second, for as long as the page lives. */
  start(): void {
    const tick = async () => {
      const started = Date.now();
      try {
        await this.poll();
      } catch (e) {
        this.#problems.report("Hot keys", e);
      }
      setTimeout(tick, Math.max(0, POLL_MS - (Date.now() - started)));
    };
    tick();
  }

  /** Reads every instance's hot keys once and shows the merged view. */
  async poll(): Promise<void> {
    const router = this.#fleet.router;
    const answers = await Promise.all(router.instances.map(async (i) => {
      try {
        const client = createClient(MessagesService, router.transportFor(i.id));
        return await client.getHotKeys(
          { window: HotKeysWindow.SHORT, limit: ROWS },
          { timeoutMs: 2000 },
        );
      } catch {
        return undefined; // down or unreachable: the live panel says why
      }
    }));
    const read = answers.filter((a): a is GetHotKeysResponse => a !== undefined);
    const merged = mergeHotKeys(read, ROWS);
    const total = Number(merged.totals?.requests ?? 0n);
    $("#hotkeys tbody").replaceChildren(
      ...merged.channels.map((c, i) => {
        const s = c.stats!;
        const requests = Number(s.requests);
        const share = total > 0 ? requests / total : null;
        const cell = (field: string, text: string, value?: number | string) =>
          h("td", {
            "data-field": field,
            ...(value === undefined ? {} : { "data-value": String(value) }),
          }, text);
        return h(
          "tr",
          { "data-channel": String(c.channelId), "data-rank": String(i + 1) },
          cell("rank", String(i + 1)),
          cell("channel", String(c.channelId), String(c.channelId)),
          cell("requests", s.requestsError > 0n ? `≤ ${fmt(requests)}` : fmt(requests), requests),
          cell("share", pct(share), share ?? undefined),
          cell("saved", pct(s.savedRatio), s.savedRatio),
          cell("queries", fmt(Number(s.queries)), Number(s.queries)),
          cell("errors", fmt(Number(s.errors)), Number(s.errors)),
          cell("instance", c.instance),
        );
      }),
    );
    const span = Number(merged.spanMs) / 1000;
    show(
      "#hotkeys-summary",
      read.length === 0
        ? "no instance answered"
        : `${fmt(total)} requests in the last ${
          span.toFixed(0)
        } s on ${read.length} of ${router.instances.length} instances · ${
          pct(merged.totals?.savedRatio ?? null)
        } of reads saved`,
      merged.channels[0] ? String(merged.channels[0].channelId) : "",
    );
    const summary = $("#hotkeys-summary");
    summary.dataset.polls = String(Number(summary.dataset.polls ?? 0) + 1);
  }
}
