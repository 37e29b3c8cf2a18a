/**
 * Small DOM helpers of the dashboard: find an element, build one, show a
 * figure with its raw value in `data-value` (what tests read), and number
 * formats.
 *
 * Browser only (uses `document`).
 *
 * @module
 */

/** Font of the charts' axes. */
export const FONT = "11px system-ui, sans-serif";
/** Colors of the instances in the charts and the table, in list order. */
export const COLORS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04"];

/** The element `selector` matches; throws when the page lacks it. */
export function $<T extends HTMLElement = HTMLElement>(selector: string): T {
  const el = document.querySelector<T>(selector);
  if (el === null) throw new Error(`Page is missing ${selector}`);
  return el;
}

/** A new element with attributes (`class` sets the class name) and children. */
export function h<K extends keyof HTMLElementTagNameMap>(
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
/** A whole number with thousands separators; "–" when not finite or absent. */
export const fmt = (n: number | undefined) =>
  n !== undefined && Number.isFinite(n) ? nf.format(Math.round(n)) : "–";
/** Milliseconds: one decimal below 10 ms. */
export const ms = (n: number | undefined) =>
  n !== undefined && Number.isFinite(n) ? `${n < 10 ? n.toFixed(1) : Math.round(n)} ms` : "–";
/** A share 0..1 in percent. */
export const pct = (x: number | null) =>
  x === null ? "–" : `${(x * 100).toFixed(x >= 0.995 ? 1 : 0)}%`;

/** Sets an element's text and its raw value in `data-value` (what tests read). */
export function show(selector: string, text: string, value?: number | string) {
  const el = $(selector);
  el.textContent = text;
  if (value !== undefined) el.dataset.value = String(value);
  else delete el.dataset.value;
}
