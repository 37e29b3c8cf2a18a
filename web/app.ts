/**
 * The coalescing dashboard: a browser page that calls the data-service fleet
 * over gRPC-web, either straight to the instances through the same routing
 * transport as Deno (`router/mod.ts`, jump hashing on the channel id) or
 * through the gateway.
 *
 * Build: `deno bundle --platform=browser -o web/dist/app.js web/app.ts`.
 * The gateway serves `web/index.html` at `/`, this bundle at `/app.js` and the
 * instance list at `/config.json`; a page served elsewhere can pass
 * `?instances=host:port,host:port&gateway=http://host:port` instead.
 *
 * @module
 */

import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { timestampDate, timestampMs } from "@bufbuild/protobuf/wkt";
import uPlot from "uplot";
import { type Message, MessagesService } from "../gen/dataservices/v1/messages_pb.ts";
import {
  createRoutingTransport,
  probeHealth,
  type ProbeOptions,
  type ProbeResult,
  type RoutingTransport,
} from "../router/mod.ts";
import {
  type Counters,
  fleetDelta,
  histogram,
  type PageConfig,
  rates,
  resolveConfig,
  type Snapshot,
  subtract,
  summarize,
  toCounters,
} from "./stats.ts";

/** Messages per history page. */
const PAGE = 50;
/** Points kept in the live charts (one per second). */
const LIVE_POINTS = 90;
/** Font of the charts' axes. */
const FONT = "11px system-ui, sans-serif";
/** Colors of the instances in the charts and the table, in list order. */
const COLORS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04"];

// ---------------------------------------------------------------------------
// Small DOM helpers

function $<T extends HTMLElement = HTMLElement>(selector: string): T {
  const el = document.querySelector<T>(selector);
  if (el === null) throw new Error(`Page is missing ${selector}`);
  return el;
}

function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Record<string, string> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "class") el.className = v;
    else el.setAttribute(k, v);
  }
  el.append(...children);
  return el;
}

const nf = new Intl.NumberFormat("en-US");
const fmt = (n: number) => Number.isFinite(n) ? nf.format(Math.round(n)) : "–";
const ms = (n: number) => Number.isFinite(n) ? `${n < 10 ? n.toFixed(1) : Math.round(n)} ms` : "–";
const pct = (x: number | null) => x === null ? "–" : `${(x * 100).toFixed(x >= 0.995 ? 1 : 0)}%`;

/** Sets an element's text and its raw value in `data-value` (what tests read). */
function show(selector: string, text: string, value?: number | string) {
  const el = $(selector);
  el.textContent = text;
  if (value !== undefined) el.dataset.value = String(value);
  else delete el.dataset.value;
}

// ---------------------------------------------------------------------------
// Transports and readable errors

/** The cause attached to a call that never reached its server (fetch rejected). */
class Unreachable extends Error {
  constructor(readonly baseUrl: string, cause: unknown) {
    const why = cause instanceof Error ? cause.message : String(cause);
    super(`cannot reach ${baseUrl}: ${why}`, { cause });
    this.name = "Unreachable";
  }
}

/**
 * A gRPC-web transport whose network failures are UNAVAILABLE, as with
 * connect-node, instead of connect-web's UNKNOWN "Failed to fetch": the router
 * then marks the instance down and retries idempotent reads on its fallback.
 */
function grpcWeb(baseUrl: string): Transport {
  const transport = createGrpcWebTransport({
    baseUrl,
    fetch: async (input, init) => {
      try {
        const res = await globalThis.fetch(input, init);
        lastAnswer.set(baseUrl, Date.now());
        return res;
      } catch (e) {
        if (init?.signal?.aborted || (e instanceof Error && e.name === "AbortError")) throw e;
        const cause = new Unreachable(baseUrl, e);
        throw new ConnectError(cause.message, Code.Unavailable, undefined, undefined, cause);
      }
    },
  });
  baseUrls.set(transport, baseUrl);
  return transport;
}

/** When each server last answered a call of this page (any call, any status). */
const lastAnswer = new Map<string, number>();
const baseUrls = new WeakMap<Transport, string>();

/**
 * The router's health check, adapted to a browser: over HTTP/1.1 a browser
 * opens at most 6 connections per server, so during a storm the probe waits
 * behind hundreds of reads and times out although the instance answers them
 * all. A probe that times out while calls to its instance keep succeeding is
 * inconclusive: the instance stays up. Refused connections, CORS refusals and
 * NOT_SERVING still mark it down at once.
 */
async function browserProbe(transport: Transport, options: ProbeOptions): Promise<ProbeResult> {
  const result = await probeHealth(transport, options);
  if (result.up || result.error?.code !== Code.DeadlineExceeded) return result;
  const baseUrl = baseUrls.get(transport);
  const answered = baseUrl === undefined ? undefined : lastAnswer.get(baseUrl);
  return answered !== undefined && Date.now() - answered < 1500 ? { up: true } : result;
}

const diagnoses = new Map<string, { at: number; result: Promise<"down" | "cors"> }>();

/**
 * Why a fetch to `baseUrl` failed. A browser hides the difference between a
 * dead server and a CORS refusal; a `no-cors` request tells them apart: it
 * succeeds (opaquely) whenever the server answers at all.
 */
function diagnose(baseUrl: string): Promise<"down" | "cors"> {
  const cached = diagnoses.get(baseUrl);
  if (cached && Date.now() - cached.at < 2000) return cached.result;
  const result = fetch(`${baseUrl}/healthz`, {
    mode: "no-cors",
    cache: "no-store",
    signal: AbortSignal.timeout(2000),
  }).then(() => "cors" as const, () => "down" as const);
  diagnoses.set(baseUrl, { at: Date.now(), result });
  return result;
}

function idOf(baseUrl: string): string {
  return router?.instances.find((i) => i.baseUrl === baseUrl)?.id ?? baseUrl;
}

/** One readable sentence for an error of a call. */
async function explain(err: unknown): Promise<string> {
  const e = ConnectError.from(err);
  if (e.cause instanceof Unreachable) {
    const { baseUrl } = e.cause;
    const what = baseUrl === gatewayUrl ? `the gateway ${baseUrl}` : `instance ${idOf(baseUrl)}`;
    return (await diagnose(baseUrl)) === "cors"
      ? `${what} is up but refuses calls from this page's origin ${location.origin} (CORS): ` +
        `add the origin to its --cors-origins`
      : `cannot reach ${what}: it is down or not listening`;
  }
  const raw = e.rawMessage;
  switch (e.code) {
    case Code.Unavailable:
      return /cassandra|store|host/i.test(raw)
        ? `Cassandra unavailable: ${raw}`
        : `service unavailable: ${raw}`;
    case Code.ResourceExhausted:
      return `server busy (a coalescing or query cap was reached): ${raw}`;
    case Code.DeadlineExceeded:
      return `timed out: ${raw}`;
    case Code.InvalidArgument:
      return `invalid request: ${raw}`;
    default:
      return `${Code[e.code] ?? "error"}: ${raw}`;
  }
}

const errorLog = new Map<string, { count: number; li: HTMLLIElement; at: Date }>();

/** Shows an error in the page's error list; identical messages are counted, not repeated. */
function report(context: string, err: unknown) {
  explain(err).then((text) => logError(`${context}: ${text}`), () => {});
}

function logError(text: string) {
  const list = $("#errors");
  let entry = errorLog.get(text);
  if (entry === undefined) {
    const li = h("li", { "data-testid": "error" });
    entry = { count: 0, li, at: new Date() };
    errorLog.set(text, entry);
  }
  entry.count++;
  entry.at = new Date();
  entry.li.replaceChildren(
    h("time", {}, entry.at.toLocaleTimeString()),
    " ",
    text,
    entry.count > 1 ? h("span", { class: "count" }, ` ×${fmt(entry.count)}`) : "",
  );
  list.prepend(entry.li);
  while (list.children.length > 8) {
    const last = list.lastElementChild as HTMLLIElement;
    for (const [k, v] of errorLog) if (v.li === last) errorLog.delete(k);
    last.remove();
  }
  $("#error-panel").hidden = false;
}

// ---------------------------------------------------------------------------
// Configuration, router and mode

let config: PageConfig | undefined;
let router: RoutingTransport;
let gateway: Transport | undefined;
let gatewayUrl: string | undefined;
let mode: "direct" | "gateway" = "direct";

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

function api() {
  return createClient(MessagesService, mode === "gateway" && gateway ? gateway : router);
}

function setMode(next: "direct" | "gateway") {
  mode = next === "gateway" && gateway ? "gateway" : "direct";
  document.body.dataset.mode = mode;
  show(
    "#mode-note",
    mode === "gateway"
      ? `Calls go to the gateway ${config?.gateway}, which routes them with the same jump hash.`
      : `Calls go straight to the instances; this page routes each channel with jump hashing.`,
  );
  updateRoute();
}

// ---------------------------------------------------------------------------
// Channel history and posting

/** The channel shown, and the smallest message id shown (the `before` of "older"). */
let channel = 0n;
let oldest = 0n;
/** Bumped by every read, so a slow answer never replaces a newer one. */
let readSeq = 0;

function channelInput(): bigint {
  const text = $<HTMLInputElement>("#channel-input").value.trim();
  let id: bigint;
  try {
    id = BigInt(text);
  } catch {
    throw new Error(`"${text}" is not a channel id: type a whole number > 0`);
  }
  if (id <= 0n || id >= 2n ** 63n) {
    throw new Error(`Channel id must be 1..2^63-1, got ${text}`);
  }
  return id;
}

function updateRoute() {
  if (!router || router.instances.length === 0) return;
  let id: bigint;
  try {
    id = channelInput();
  } catch {
    show("#route", "");
    return;
  }
  const owner = router.ownerOf(id);
  const target = router.instanceFor(id);
  const n = router.instances.length;
  const hash = `jump hash over ${n} instance${n === 1 ? "" : "s"}`;
  const text = mode === "gateway"
    ? `channel ${id} → gateway → ${owner.id} (owner by ${hash})`
    : target.id === owner.id
    ? `channel ${id} → ${owner.id} (owner by ${hash})`
    : `channel ${id} → ${target.id} (fallback: owner ${owner.id} is down)`;
  show("#route", text, mode === "gateway" ? "gateway" : target.id);
}

function messageItem(m: Message, fresh = false): HTMLLIElement {
  const at = m.createdAt ? timestampDate(m.createdAt) : undefined;
  return h(
    "li",
    { "data-message-id": String(m.messageId), class: fresh ? "fresh" : "" },
    h(
      "div",
      { class: "meta" },
      h("span", { class: "author" }, `author ${m.authorId}`),
      h("time", { title: at?.toISOString() ?? "" }, at ? at.toLocaleString() : ""),
      h("span", { class: "mid" }, `#${m.messageId}`),
    ),
    h("p", { class: "content" }, m.content),
  );
}

/** Reads the newest page of the channel in the input, or the next older page of the shown one. */
async function readHistory(older: boolean, highlight?: bigint): Promise<Message[] | undefined> {
  let id: bigint;
  try {
    id = older ? channel : channelInput();
  } catch (e) {
    logError(e instanceof Error ? e.message : String(e));
    return;
  }
  const status = $("#history-status");
  status.dataset.state = "loading";
  status.textContent = older ? "loading older messages…" : `reading channel ${id}…`;
  const started = performance.now();
  const seq = ++readSeq;
  try {
    const res = await api().getMessages(
      { channelId: id, before: older ? oldest : 0n, limit: PAGE },
      { timeoutMs: 10_000 },
    );
    if (seq !== readSeq) return; // A newer read replaced this one.
    const took = performance.now() - started;
    const list = $("#messages");
    if (!older) {
      list.replaceChildren();
      channel = id;
      show("#history-channel", String(id), String(id));
    }
    for (const m of res.messages) list.append(messageItem(m, m.messageId === highlight));
    if (res.messages.length > 0) oldest = res.messages[res.messages.length - 1].messageId;
    $<HTMLButtonElement>("#older").disabled = res.messages.length < PAGE;
    status.dataset.state = "done";
    status.textContent = `${fmt(list.children.length)} message${
      list.children.length === 1 ? "" : "s"
    } shown, newest first${res.messages.length < PAGE ? " (start of history)" : ""} · ${ms(took)}`;
    if (list.children.length === 0) list.append(h("li", { class: "empty" }, "No messages yet."));
    updateRoute();
    return res.messages;
  } catch (e) {
    if (seq !== readSeq) return;
    status.dataset.state = "error";
    status.textContent = "read failed (see errors above)";
    report(`Reading channel ${id}`, e);
  }
}

async function postMessage(ev: Event) {
  ev.preventDefault();
  const status = $("#post-status");
  let channelId: bigint;
  const content = $<HTMLTextAreaElement>("#content").value;
  const authorText = $<HTMLInputElement>("#author").value.trim();
  try {
    channelId = channelInput();
  } catch (e) {
    logError(`Posting: ${e instanceof Error ? e.message : String(e)}`);
    return;
  }
  if (!/^[1-9][0-9]{0,18}$/.test(authorText)) {
    logError(`Posting: author id must be a whole number > 0, got "${authorText}"`);
    return;
  }
  const authorId = BigInt(authorText);
  const button = $<HTMLButtonElement>("#post");
  button.disabled = true;
  status.dataset.state = "posting";
  status.textContent = "posting…";
  try {
    const { message } = await api().createMessage(
      { channelId, authorId, content },
      { timeoutMs: 10_000 },
    );
    if (!message) throw new Error("the server returned no message");
    $<HTMLTextAreaElement>("#content").value = "";
    // Read the channel back: the new message comes from Cassandra, at the top.
    const page = await readHistory(false, message.messageId);
    if (!page?.some((m) => m.messageId === message.messageId)) {
      $("#messages").prepend(messageItem(message, true));
    }
    status.dataset.state = "done";
    status.dataset.messageId = String(message.messageId);
    status.textContent = `posted #${message.messageId} to channel ${channelId}`;
  } catch (e) {
    status.dataset.state = "error";
    status.textContent = "post failed (see errors above)";
    report(`Posting to channel ${channelId}`, e);
  } finally {
    button.disabled = false;
  }
}

// ---------------------------------------------------------------------------
// GetStats of every instance

/** GetStats of every instance in the list, each straight to its instance. */
function readAllStats(timeoutMs = 2000): Promise<(Snapshot & { raw?: RawStats; code?: Code })[]> {
  return Promise.all(router.instances.map(async (i) => {
    try {
      const client = createClient(MessagesService, router.transportFor(i.id));
      const s = await client.getStats({}, { timeoutMs });
      return {
        id: i.id,
        counters: toCounters(s),
        startedAtMs: s.startedAt ? timestampMs(s.startedAt) : undefined,
        raw: { instance: s.instance, inFlightQueries: Number(s.inFlightQueries) },
      };
    } catch (e) {
      return { id: i.id, error: await explain(e), code: ConnectError.from(e).code };
    }
  }));
}

interface RawStats {
  instance: string;
  inFlightQueries: number;
}

// ---------------------------------------------------------------------------
// The announcement storm

let histChart: uPlot | undefined;

async function runStorm() {
  const button = $<HTMLButtonElement>("#storm-run");
  const status = $("#storm-status");
  let channelId: bigint;
  try {
    channelId = channelInput();
  } catch (e) {
    logError(e instanceof Error ? e.message : String(e));
    return;
  }
  const n = Number($<HTMLInputElement>("#storm-n").value);
  if (!Number.isInteger(n) || n < 1 || n > 20_000) {
    logError(
      `Storm size must be a whole number 1..20000, got ${$<HTMLInputElement>("#storm-n").value}`,
    );
    return;
  }
  button.disabled = true;
  status.dataset.state = "running";
  status.textContent = `reading GetStats of every instance…`;
  try {
    const before = await readAllStats();
    status.textContent = `firing ${fmt(n)} concurrent reads of channel ${channelId} ${
      mode === "gateway" ? "through the gateway" : "straight to its instance"
    }…`;
    const client = api();
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
    const wall = performance.now() - started;
    const after = await readAllStats();
    const delta = fleetDelta(before, after);
    const lat = summarize(latencies);

    show("#storm-sent", fmt(n), n);
    show("#storm-ok", fmt(ok), ok);
    show("#storm-failed", fmt(n - ok), n - ok);
    show("#storm-requests", fmt(delta.total.requests), delta.total.requests);
    show("#storm-queries", fmt(delta.total.queries), delta.total.queries);
    const saved = delta.total.requests - delta.total.queries;
    show("#storm-saved", fmt(saved), saved);
    show("#storm-coalesced", fmt(delta.total.coalesced), delta.total.coalesced);
    show(
      "#storm-ratio",
      delta.total.requests > 0
        ? `${(delta.total.queries / delta.total.requests).toFixed(4)} queries per request`
        : "–",
    );
    show("#storm-wall", ms(wall), wall.toFixed(1));
    show("#storm-rps", `${fmt(n / (wall / 1000))} req/s`);
    show("#storm-p50", ms(lat.p50), lat.p50.toFixed(2));
    show("#storm-p90", ms(lat.p90), lat.p90.toFixed(2));
    show("#storm-p99", ms(lat.p99), lat.p99.toFixed(2));
    show("#storm-max", ms(lat.max), lat.max.toFixed(2));
    const where = [...delta.perInstance].filter(([, d]) => d.requests > 0)
      .map(([id, d]) => `${id}: ${fmt(d.requests)} requests, ${fmt(d.queries)} queries`);
    const notes = [
      ...where,
      ...delta.skipped.map((s) => `${s.id} not counted (${s.reason})`),
      ...[...failures].map(([code, c]) => `${fmt(c)} failed with ${code}`),
    ];
    $("#storm-notes").replaceChildren(...notes.map((t) => h("li", {}, t)));
    drawHistogram(latencies);
    if (firstError !== undefined) {
      report(`Storm on channel ${channelId}`, firstError);
    }
    if (delta.skipped.length > 0) {
      logError(
        `Storm: ${delta.skipped.map((s) => s.id).join(", ")} could not be counted (${
          delta.skipped[0].reason
        })`,
      );
    }
    status.dataset.state = "done";
    status.textContent = `${fmt(n)} reads of channel ${channelId} in ${ms(wall)} (${
      mode === "gateway" ? "via gateway" : "direct"
    })`;
  } catch (e) {
    status.dataset.state = "error";
    status.textContent = "storm failed (see errors above)";
    report("Storm", e);
  } finally {
    button.disabled = false;
  }
}

function drawHistogram(latencies: Float64Array) {
  const { edges, counts } = histogram(latencies, 24);
  const width = edges[1] - edges[0];
  const xs = counts.map((_, i) => edges[i] + width / 2);
  const el = $("#storm-hist");
  const opts: uPlot.Options = {
    width: el.clientWidth || 420,
    height: 150,
    legend: { show: false },
    cursor: { show: false },
    scales: {
      x: { time: false, range: [0, edges[edges.length - 1]] },
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
  histChart?.destroy();
  el.replaceChildren();
  histChart = new uPlot(opts, [xs, counts], el);
}

// ---------------------------------------------------------------------------
// Live panel: GetStats of every instance once a second

interface LiveChart {
  plot: uPlot;
  el: HTMLElement;
}

const live = {
  xs: [] as number[],
  requests: [] as (number | null)[][],
  queries: [] as (number | null)[][],
  saved: [] as (number | null)[][],
  charts: [] as LiveChart[],
  prev: new Map<string, { counters: Counters; at: number; startedAtMs?: number }>(),
  readyReasons: new Map<string, { at: number; reason: string }>(),
};

function makeLiveChart(selector: string, title: string, unit: "rate" | "share"): LiveChart {
  const el = $(selector);
  const ids = router.instances.map((i) => i.id);
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
  const data = [live.xs, ...ids.map(() => [])] as uPlot.AlignedData;
  return { plot: new uPlot(opts, data, el), el };
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

async function readyReason(baseUrl: string, id: string): Promise<string> {
  const cached = live.readyReasons.get(id);
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
  live.readyReasons.set(id, { at: Date.now(), reason });
  return reason;
}

/** Whether calls to the instance of `status` succeeded in the last 1.5 s. */
function busy(status: { baseUrl: string } | undefined): boolean {
  const at = status && lastAnswer.get(status.baseUrl);
  return at !== undefined && Date.now() - at < 1500;
}

async function pollOnce() {
  const snaps = await readAllStats(3000);
  const now = Date.now();
  const statuses = new Map(router.instances.map((i) => [i.id, i]));
  live.xs.push(now / 1000);
  const rowsUp: string[] = [];
  for (const [index, snap] of snaps.entries()) {
    const row = document.querySelector<HTMLTableRowElement>(
      `#instances tr[data-instance="${CSS.escape(snap.id)}"]`,
    );
    const status = statuses.get(snap.id);
    const prev = live.prev.get(snap.id);
    let r: ReturnType<typeof rates> | undefined;
    if (snap.counters) {
      if (prev && prev.startedAtMs === snap.startedAtMs) {
        r = rates(subtract(snap.counters, prev.counters), now - prev.at);
      }
      live.prev.set(snap.id, { counters: snap.counters, at: now, startedAtMs: snap.startedAtMs });
    } else {
      live.prev.delete(snap.id);
    }
    live.requests[index] ??= [];
    live.queries[index] ??= [];
    live.saved[index] ??= [];
    live.requests[index].push(r ? r.requests : null);
    live.queries[index].push(r ? r.queries : null);
    live.saved[index].push(r && r.saved !== null ? r.saved * 100 : null);
    if (!row) continue;
    const field = (name: string, text: string, value?: number) => {
      const td = row.querySelector<HTMLElement>(`[data-field="${name}"]`)!;
      td.textContent = text;
      if (value !== undefined) td.dataset.value = String(value);
    };
    const routed = status?.up ?? false;
    let state: "up" | "not-serving" | "down";
    let note = "";
    if (snap.counters === undefined && snap.code === Code.DeadlineExceeded && busy(status)) {
      state = "up";
      note = "stats delayed: this page's connections to the instance are busy (a storm?)";
      rowsUp.push(snap.id);
    } else if (snap.counters === undefined) {
      state = "down";
      note = snap.error ?? "unreachable";
    } else if (!routed) {
      state = "not-serving";
      note = await readyReason(status!.baseUrl, snap.id);
    } else {
      state = "up";
      rowsUp.push(snap.id);
    }
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
  while (live.xs.length > LIVE_POINTS) {
    live.xs.shift();
    for (const s of [...live.requests, ...live.queries, ...live.saved]) s.shift();
  }
  const [rq, qq, sv] = live.charts;
  rq?.plot.setData([live.xs, ...live.requests] as uPlot.AlignedData);
  qq?.plot.setData([live.xs, ...live.queries] as uPlot.AlignedData);
  sv?.plot.setData([live.xs, ...live.saved] as uPlot.AlignedData);
  const n = snaps.length;
  show(
    "#live-summary",
    `${rowsUp.length} of ${n} instance${n === 1 ? "" : "s"} up · updated ${
      new Date(now).toLocaleTimeString()
    }`,
    rowsUp.length,
  );
  const summary = $("#live-summary");
  summary.dataset.polls = String(Number(summary.dataset.polls ?? 0) + 1);
  updateRoute();
}

function startPolling() {
  const tick = async () => {
    const started = Date.now();
    try {
      await pollOnce();
    } catch (e) {
      report("Live panel", e);
    }
    setTimeout(tick, Math.max(0, 1000 - (Date.now() - started)));
  };
  tick();
}

function resizeCharts() {
  for (const c of live.charts) c.plot.setSize({ width: c.el.clientWidth, height: 170 });
  if (histChart) {
    const el = $("#storm-hist");
    histChart.setSize({ width: el.clientWidth, height: 150 });
  }
}

// ---------------------------------------------------------------------------
// Start

async function main() {
  try {
    config = await loadConfig();
  } catch (e) {
    logError(e instanceof Error ? e.message : String(e));
    document.body.dataset.ready = "error";
    return;
  }
  router = createRoutingTransport({
    instances: config.instances,
    createTransport: (i) => grpcWeb(i.baseUrl),
    probeIntervalMs: 1000,
    probeTimeoutMs: 1000,
    probe: browserProbe,
    onHealthChange: (c) => {
      if (!c.up && c.error) report(`Instance ${c.instance.id} marked down`, c.error);
      updateRoute();
    },
  });
  if (config.gateway) {
    gatewayUrl = config.gateway.replace(/\/+$/, "");
    gateway = grpcWeb(gatewayUrl);
  }

  show("#config-source", `${config.instances.length} instances from ${config.source}`);
  $("#instances tbody").replaceChildren(...router.instances.map((i) => instanceRow(i.id, i.index)));

  const viaGateway = $<HTMLInputElement>("#via-gateway");
  viaGateway.disabled = gateway === undefined;
  $("#via-gateway-label").title = gateway ? config.gateway! : "no gateway configured";
  for (const radio of document.querySelectorAll<HTMLInputElement>("input[name=via]")) {
    radio.addEventListener("change", () => radio.checked && setMode(radio.value as "direct"));
  }
  const wanted = new URLSearchParams(location.search).get("via");
  if (wanted === "gateway" && gateway) viaGateway.checked = true;
  setMode(viaGateway.checked ? "gateway" : "direct");

  const select = $<HTMLSelectElement>("#channel-select");
  const input = $<HTMLInputElement>("#channel-input");
  select.addEventListener("change", () => {
    if (select.value === "") return input.focus();
    input.value = select.value;
    readHistory(false);
  });
  input.addEventListener("input", () => {
    select.value = [...select.options].some((o) => o.value === input.value.trim())
      ? input.value.trim()
      : "";
    updateRoute();
  });
  $("#channel-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    readHistory(false);
  });
  $("#older").addEventListener("click", () => readHistory(true));
  $("#post-form").addEventListener("submit", postMessage);
  $("#storm-run").addEventListener("click", runStorm);
  $("#errors-clear").addEventListener("click", () => {
    errorLog.clear();
    $("#errors").replaceChildren();
    $("#error-panel").hidden = true;
  });

  live.charts = [
    makeLiveChart("#chart-requests", "Requests / s", "rate"),
    makeLiveChart("#chart-queries", "Cassandra queries / s", "rate"),
    makeLiveChart("#chart-saved", "Reads saved by coalescing", "share"),
  ];
  let resizeTimer: ReturnType<typeof setTimeout> | undefined;
  globalThis.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(resizeCharts, 100);
  });

  startPolling();
  document.body.dataset.ready = "true";
  readHistory(false);
}

main();
