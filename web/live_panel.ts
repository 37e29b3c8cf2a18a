/**
 * The live panel: `GetStats` of every instance once a second, as a table
 * (state, counters, rates) and three charts (requests/s, queries/s, share
 * of reads saved by coalescing).
 *
 * Browser only.
 *
 * @module
 */
import uPlot from "uplot";
import { $, COLORS, fmt, FONT, h, pct, show } from "./dom.ts";
import type { Problems } from "./errors_panel.ts";
import type { Fleet, StatsRead } from "./fleet.ts";
import { instanceState, LiveSeries, rateBetween, type Snapshot } from "./stats.ts";

/** Points kept in the live charts (one per second). */
const LIVE_POINTS = 90;
/** Time between polls. */
const POLL_MS = 1000;

interface LiveChart {
  plot: uPlot;
  el: HTMLElement;
}

/** The `#live` section. */
export class LivePanel {
  readonly #fleet: Fleet;
  readonly #problems: Problems;
  /** Called after every poll (the route line follows health). */
  readonly #afterPoll: () => void;
  readonly #series: LiveSeries;
  readonly #charts: LiveChart[];
  /** The previous reading of each instance, for rates. */
  readonly #prev = new Map<string, { snapshot: Snapshot; at: number }>();
  /** Why an instance is not ready, from its /readyz (cached 3 s). */
  readonly #readyReasons = new Map<string, { at: number; reason: string }>();

  constructor(fleet: Fleet, problems: Problems, afterPoll: () => void) {
    this.#fleet = fleet;
    this.#problems = problems;
    this.#afterPoll = afterPoll;
    const instances = fleet.router.instances;
    this.#series = new LiveSeries(instances.length, LIVE_POINTS);
    $("#instances tbody").replaceChildren(...instances.map((i) => instanceRow(i.id, i.index)));
    this.#charts = [
      this.#chart("#chart-requests", "Requests / s", "rate"),
      this.#chart("#chart-queries", "Cassandra queries / s", "rate"),
      this.#chart("#chart-saved", "Reads saved by coalescing", "share"),
    ];
  }

  /** Polls once a second, for as long as the page lives. */
  start(): void {
    const tick = async () => {
      const started = Date.now();
      try {
        await this.poll();
      } catch (e) {
        this.#problems.report("Live panel", e);
      }
      setTimeout(tick, Math.max(0, POLL_MS - (Date.now() - started)));
    };
    tick();
  }

  /** Fits the charts to their boxes. */
  resize(): void {
    for (const c of this.#charts) c.plot.setSize({ width: c.el.clientWidth, height: 170 });
  }

  /** Reads every instance once and updates the table and the charts. */
  async poll(): Promise<void> {
    const snaps = await this.#fleet.readAllStats(3000);
    const now = Date.now();
    const statuses = new Map(this.#fleet.router.instances.map((i) => [i.id, i]));
    const rates = snaps.map((snap) => {
      const r = rateBetween(this.#prev.get(snap.id), snap, now);
      if (snap.counters) this.#prev.set(snap.id, { snapshot: snap, at: now });
      else this.#prev.delete(snap.id);
      return r;
    });
    this.#series.push(now / 1000, rates);
    let up = 0;
    for (const [index, snap] of snaps.entries()) {
      const status = statuses.get(snap.id);
      const { state, note } = instanceState(
        snap,
        status?.up ?? false,
        this.#fleet.answeredRecently(status?.baseUrl),
      );
      if (state === "up") up++;
      const why = state === "not-serving"
        ? await this.#readyReason(status!.baseUrl, snap.id)
        : note;
      this.#row(snap, state, why, rates[index]);
    }
    const [rq, qq, sv] = this.#charts;
    const s = this.#series;
    rq.plot.setData([s.xs, ...s.requests] as uPlot.AlignedData);
    qq.plot.setData([s.xs, ...s.queries] as uPlot.AlignedData);
    sv.plot.setData([s.xs, ...s.saved] as uPlot.AlignedData);
    const n = snaps.length;
    show(
      "#live-summary",
      `${up} of ${n} instance${n === 1 ? "" : "s"} up · updated ${
        new Date(now).toLocaleTimeString()
      }`,
      up,
    );
    const summary = $("#live-summary");
    summary.dataset.polls = String(Number(summary.dataset.polls ?? 0) + 1);
    this.#afterPoll();
  }

  #row(
    snap: StatsRead,
    state: ReturnType<typeof instanceState>["state"],
    note: string,
    r: ReturnType<typeof rateBetween>,
  ): void {
    const row = document.querySelector<HTMLTableRowElement>(
      `#instances tr[data-instance="${CSS.escape(snap.id)}"]`,
    );
    if (!row) return;
    const field = (name: string, text: string, value?: number) => {
      const td = row.querySelector<HTMLElement>(`[data-field="${name}"]`)!;
      td.textContent = text;
      if (value !== undefined) td.dataset.value = String(value);
    };
    row.dataset.up = String(state === "up");
    row.dataset.state = state;
    const badge = row.querySelector<HTMLElement>(".badge")!;
    badge.textContent = state === "up" ? "up" : state === "down" ? "down" : "not serving";
    badge.title = note;
    row.querySelector(".server")!.textContent = snap.raw ? ` ${snap.raw.instance}` : "";
    let noteRow = row.nextElementSibling as HTMLTableRowElement | null;
    if (!noteRow?.classList.contains("note")) {
      noteRow = h("tr", { class: "note" }, h("td", { colspan: "10" }));
      row.after(noteRow);
    }
    noteRow.hidden = note === "";
    noteRow.firstElementChild!.textContent = note;
    const c = snap.counters;
    field("requests", c ? fmt(c.requests) : "–", c?.requests);
    field("queries", c ? fmt(c.queries) : "–", c?.queries);
    field("coalesced", c ? fmt(c.coalesced) : "–", c?.coalesced);
    field(
      "errors",
      c ? `${fmt(c.errors)}${c.rejected ? ` (${fmt(c.rejected)} rejected)` : ""}` : "–",
    );
    field("inflight", snap.raw ? fmt(snap.raw.inFlightQueries) : "–");
    field("rps", r ? fmt(r.requests) : "–", r?.requests);
    field("qps", r ? fmt(r.queries) : "–", r?.queries);
    field("saved", r ? pct(r.saved) : "–", r?.saved ?? undefined);
  }

  async #readyReason(baseUrl: string, id: string): Promise<string> {
    const cached = this.#readyReasons.get(id);
    if (cached && Date.now() - cached.at < 3000) return cached.reason;
    let reason = "not serving";
    try {
      const res = await fetch(`${baseUrl}/readyz`, {
        cache: "no-store",
        signal: AbortSignal.timeout(1000),
      });
      const body = await res.json() as { status?: string; reason?: string };
      reason = res.ok
        ? "ready again: the next health probe sends it traffic"
        : `not ready: ${body.reason ?? body.status ?? res.status}`;
    } catch {
      // Keep the generic reason.
    }
    this.#readyReasons.set(id, { at: Date.now(), reason });
    return reason;
  }

  #chart(selector: string, title: string, unit: "rate" | "share"): LiveChart {
    const el = $(selector);
    const ids = this.#fleet.router.instances.map((i) => i.id);
    const opts: uPlot.Options = {
      title,
      width: el.clientWidth || 360,
      height: 170,
      legend: { show: true, live: false },
      cursor: { drag: { x: false, y: false } },
      scales: {
        // At least a 30 s window, so the first seconds do not stretch over the whole chart.
        x: { range: (_u, min, max) => [Math.min(min, max - 30), max] },
        y: unit === "share" ? { range: [0, 100] } : { range: [0, null] },
      },
      axes: [
        { size: 28, font: FONT, space: 60 },
        {
          size: 44,
          font: FONT,
          values: (_u, vals) => vals.map((v) => unit === "share" ? `${v}%` : fmt(v)),
        },
      ],
      series: [
        {},
        ...ids.map((id, i) => ({
          label: id,
          stroke: COLORS[i % COLORS.length],
          width: 2,
          spanGaps: false,
          points: { show: false },
        })),
      ],
    };
    const data = [this.#series.xs, ...ids.map(() => [])] as uPlot.AlignedData;
    return { plot: new uPlot(opts, data, el), el };
  }
}

function instanceRow(id: string, index: number): HTMLTableRowElement {
  const cell = (name: string) => h("td", { "data-field": name });
  return h(
    "tr",
    { "data-instance": id },
    h(
      "td",
      { class: "name" },
      h("span", { class: "swatch", style: `background:${COLORS[index % COLORS.length]}` }),
      h("span", { class: "id" }, id),
      h("small", { class: "server" }),
    ),
    h("td", { "data-field": "state" }, h("span", { class: "badge" }, "…")),
    cell("requests"),
    cell("queries"),
    cell("coalesced"),
    cell("rps"),
    cell("qps"),
    cell("saved"),
    cell("errors"),
    cell("inflight"),
  );
}
