/**
 * The announcement storm: N concurrent reads of one channel from the page,
 * with the servers' GetStats deltas (requests, queries, coalesced) beside the
 * client's view (successes, latency percentiles and a histogram).
 *
 * Browser only.
 *
 * @module
 */
import { Code, ConnectError } from "@connectrpc/connect";
import uPlot from "uplot";
import { histogram } from "../lib/stats.ts";
import { $, fmt, FONT, h, ms, show } from "./dom.ts";
import type { Problems } from "./errors_panel.ts";
import type { Fleet } from "./fleet.ts";
import { fleetDelta, stormFigures } from "./stats.ts";

/** Largest storm the page fires. */
const MAX_STORM = 20_000;
/** Messages each read asks for. */
const PAGE = 50;

/** The `#storm` section. */
export class StormPanel {
  #chart?: uPlot;
  readonly #fleet: Fleet;
  readonly #problems: Problems;
  readonly #channel: () => bigint;

  /** @param channel the channel to storm (throws a readable Error when there is none). */
  constructor(fleet: Fleet, problems: Problems, channel: () => bigint) {
    this.#fleet = fleet;
    this.#problems = problems;
    this.#channel = channel;
    $("#storm-run").addEventListener("click", () => this.run());
  }

  /** Fires the storm and shows what it did. */
  async run(): Promise<void> {
    const button = $<HTMLButtonElement>("#storm-run");
    const status = $("#storm-status");
    let channelId: bigint;
    try {
      channelId = this.#channel();
    } catch (e) {
      this.#problems.log(e instanceof Error ? e.message : String(e));
      return;
    }
    const text = $<HTMLInputElement>("#storm-n").value;
    const n = Number(text);
    if (!Number.isInteger(n) || n < 1 || n > MAX_STORM) {
      this.#problems.log(`Storm size must be a whole number 1..${MAX_STORM}, got ${text}`);
      return;
    }
    const viaGateway = this.#fleet.mode === "gateway";
    button.disabled = true;
    status.dataset.state = "running";
    status.textContent = `reading GetStats of every instance…`;
    try {
      const before = await this.#fleet.readAllStats();
      status.textContent = `firing ${fmt(n)} concurrent reads of channel ${channelId} ${
        viaGateway ? "through the gateway" : "straight to its instance"
      }…`;
      const client = this.#fleet.api();
      const latencies = new Float64Array(n);
      const failures = new Map<string, number>();
      let ok = 0;
      let firstError: unknown;
      const started = performance.now();
      await Promise.all(Array.from({ length: n }, async (_, k) => {
        const t0 = performance.now();
        try {
          await client.getMessages({ channelId, limit: PAGE }, { timeoutMs: 30_000 });
          ok++;
        } catch (e) {
          const code = Code[ConnectError.from(e).code] ?? "Unknown";
          failures.set(code, (failures.get(code) ?? 0) + 1);
          firstError ??= e;
        }
        latencies[k] = performance.now() - t0;
      }));
      const wallMs = performance.now() - started;
      const delta = fleetDelta(before, await this.#fleet.readAllStats());
      const f = stormFigures({ sent: n, ok, wallMs, latencies, delta, failures, format: fmt });
      this.#show(f);
      this.#draw(latencies);
      if (firstError !== undefined) {
        this.#problems.report(`Storm on channel ${channelId}`, firstError);
      }
      if (delta.skipped.length > 0) {
        this.#problems.log(
          `Storm: ${delta.skipped.map((s) => s.id).join(", ")} could not be counted (${
            delta.skipped[0].reason
          })`,
        );
      }
      status.dataset.state = "done";
      status.textContent = `${fmt(n)} reads of channel ${channelId} in ${ms(wallMs)} (${
        viaGateway ? "via gateway" : "direct"
      })`;
    } catch (e) {
      status.dataset.state = "error";
      status.textContent = "storm failed (see errors above)";
      this.#problems.report("Storm", e);
    } finally {
      button.disabled = false;
    }
  }

  /** Fits the histogram to its box. */
  resize(): void {
    this.#chart?.setSize({ width: $("#storm-hist").clientWidth, height: 150 });
  }

  #show(f: ReturnType<typeof stormFigures>): void {
    show("#storm-sent", fmt(f.sent), f.sent);
    show("#storm-ok", fmt(f.ok), f.ok);
    show("#storm-failed", fmt(f.failed), f.failed);
    show("#storm-requests", fmt(f.requests), f.requests);
    show("#storm-queries", fmt(f.queries), f.queries);
    show("#storm-saved", fmt(f.saved), f.saved);
    show("#storm-coalesced", fmt(f.coalesced), f.coalesced);
    show(
      "#storm-ratio",
      f.queriesPerRequest === undefined
        ? "–"
        : `${f.queriesPerRequest.toFixed(4)} queries per request`,
    );
    show("#storm-wall", ms(f.wallMs), f.wallMs.toFixed(1));
    show("#storm-rps", `${fmt(f.requestsPerSecond)} req/s`);
    const l = f.latency;
    show("#storm-p50", ms(l?.p50), l?.p50.toFixed(2));
    show("#storm-p90", ms(l?.p90), l?.p90.toFixed(2));
    show("#storm-p99", ms(l?.p99), l?.p99.toFixed(2));
    show("#storm-max", ms(l?.max), l?.max.toFixed(2));
    $("#storm-notes").replaceChildren(...f.notes.map((t) => h("li", {}, t)));
  }

  #draw(latencies: Float64Array): void {
    const bars = histogram(latencies, 24);
    if (bars.length === 0) return;
    const xs = bars.map((b) => (b.fromMs + b.toMs) / 2);
    const from = bars[0].fromMs;
    const to = Math.max(bars.at(-1)!.toMs, from + 1);
    const el = $("#storm-hist");
    const opts: uPlot.Options = {
      width: el.clientWidth || 420,
      height: 150,
      legend: { show: false },
      cursor: { show: false },
      scales: {
        x: { time: false, range: [from, to] },
        y: { range: [0, null] },
      },
      axes: [
        { label: "latency (ms)", size: 30, labelSize: 16, font: FONT, labelFont: FONT },
        { size: 40, font: FONT },
      ],
      series: [
        {},
        {
          label: "requests",
          fill: "rgba(37, 99, 235, 0.55)",
          stroke: "#2563eb",
          width: 1,
          paths: uPlot.paths.bars!({ size: [0.92, Infinity] }),
          points: { show: false },
        },
      ],
    };
    this.#chart?.destroy();
    el.replaceChildren();
    this.#chart = new uPlot(opts, [xs, bars.map((b) => b.count)], el);
  }
}
