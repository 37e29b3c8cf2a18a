/**
 * The coalescing dashboard: a browser page that calls the data-service fleet
 * over gRPC-web, either straight to the instances through the same routing
 * transport as Deno (`router/mod.ts`, jump hashing on the channel id) or
 * through the gateway.
 *
 * This file wires the panels; each holds its own state and gets what it
 * shares explicitly: `fleet.ts` (connections, mode, explanations),
 * `errors_panel.ts`, `history_panel.ts` (read, page, post), `storm_panel.ts`,
 * `live_panel.ts`, `hotkeys_panel.ts`. Their arithmetic is in `stats.ts` (tested in Deno).
 *
 * Build: `deno task web:build` (`web/build.ts`) -> `web/dist/app.js`.
 * The gateway serves `web/index.html` at `/`, this bundle at `/app.js` and the
 * instance list at `/config.json`; a page served elsewhere can pass
 * `?instances=host:port,host:port&gateway=http://host:port` instead.
 *
 * Browser only.
 *
 * @module
 */
import { $, show } from "./dom.ts";
import { ErrorPanel } from "./errors_panel.ts";
import { Fleet, type Mode } from "./fleet.ts";
import { HistoryPanel } from "./history_panel.ts";
import { HotKeysPanel } from "./hotkeys_panel.ts";
import { LivePanel } from "./live_panel.ts";
import { type PageConfig, resolveConfig } from "./page_config.ts";
import { StormPanel } from "./storm_panel.ts";

async function loadConfig(): Promise<PageConfig> {
  let file: { instances?: unknown; gateway?: unknown } | undefined;
  let fileError: string | undefined;
  try {
    const res = await fetch("config.json", { cache: "no-store" });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    file = await res.json();
  } catch (e) {
    fileError = e instanceof Error ? e.message : String(e);
  }
  return resolveConfig(file, location.search, fileError);
}

/** The header's direct/gateway switch. */
function bindMode(fleet: Fleet, config: PageConfig, onChange: () => void) {
  const setMode = (next: Mode) => {
    const mode = fleet.setMode(next);
    document.body.dataset.mode = mode;
    show(
      "#mode-note",
      mode === "gateway"
        ? `Calls go to the gateway ${config.gateway}, which routes them with the same jump hash.`
        : `Calls go straight to the instances; this page routes each channel with jump hashing.`,
    );
    onChange();
  };
  const viaGateway = $<HTMLInputElement>("#via-gateway");
  viaGateway.disabled = fleet.gateway === undefined;
  $("#via-gateway-label").title = fleet.gateway ? config.gateway! : "no gateway configured";
  for (const radio of document.querySelectorAll<HTMLInputElement>("input[name=via]")) {
    radio.addEventListener("change", () => radio.checked && setMode(radio.value as Mode));
  }
  if (new URLSearchParams(location.search).get("via") === "gateway" && fleet.gateway) {
    viaGateway.checked = true;
  }
  setMode(viaGateway.checked ? "gateway" : "direct");
}

async function main() {
  // The fleet explains errors; it exists once the configuration is read.
  const at: { fleet?: Fleet; history?: HistoryPanel } = {};
  const errors = new ErrorPanel((err) =>
    at.fleet ? at.fleet.explain(err) : Promise.resolve(String(err))
  );
  let config: PageConfig;
  try {
    config = await loadConfig();
  } catch (e) {
    errors.log(e instanceof Error ? e.message : String(e));
    document.body.dataset.ready = "error";
    return;
  }
  const fleet = at.fleet = new Fleet(config, (c) => {
    if (!c.up && c.error) errors.report(`Instance ${c.instance.id} marked down`, c.error);
    at.history?.updateRoute();
  });
  show("#config-source", `${config.instances.length} instances from ${config.source}`);
  const history = at.history = new HistoryPanel(fleet, errors);
  const storm = new StormPanel(fleet, errors, () => history.channelInput());
  const live = new LivePanel(fleet, errors, () => history.updateRoute());
  bindMode(fleet, config, () => history.updateRoute());

  let resizeTimer: ReturnType<typeof setTimeout> | undefined;
  globalThis.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      live.resize();
      storm.resize();
    }, 100);
  });

  live.start();
  new HotKeysPanel(fleet, errors).start();
  document.body.dataset.ready = "true";
  history.read(false);
}

main();
