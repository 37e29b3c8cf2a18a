/**
 * The error panel: readable problems, newest first; identical messages are
 * counted, not repeated; at most 8 kept.
 *
 * Browser only.
 *
 * @module
 */
import { $, fmt, h } from "./dom.ts";

/** Most distinct messages shown. */
const KEPT = 8;

/** Where panels send problems: a sentence, or an error of a call to explain. */
export interface Problems {
  /** Shows `text`. */
  log(text: string): void;
  /** Shows `<context>: <what went wrong>` once `explain` has worded `err`. */
  report(context: string, err: unknown): void;
}

/** The `#error-panel` of the page. */
export class ErrorPanel implements Problems {
  /** Shown messages and their list items. */
  readonly #entries = new Map<string, { count: number; li: HTMLLIElement; at: Date }>();
  readonly #explain: (err: unknown) => Promise<string>;

  /** @param explain words an error of a call (see `Fleet.explain`). */
  constructor(explain: (err: unknown) => Promise<string>) {
    this.#explain = explain;
    $("#errors-clear").addEventListener("click", () => this.clear());
  }

  report(context: string, err: unknown): void {
    this.#explain(err).then((text) => this.log(`${context}: ${text}`), () => {});
  }

  log(text: string): void {
    const list = $("#errors");
    let entry = this.#entries.get(text);
    if (entry === undefined) {
      entry = { count: 0, li: h("li", { "data-testid": "error" }), at: new Date() };
      this.#entries.set(text, entry);
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
    while (list.children.length > KEPT) {
      const last = list.lastElementChild as HTMLLIElement;
      for (const [k, v] of this.#entries) if (v.li === last) this.#entries.delete(k);
      last.remove();
    }
    $("#error-panel").hidden = false;
  }

  /** Empties the list and hides the panel. */
  clear(): void {
    this.#entries.clear();
    $("#errors").replaceChildren();
    $("#error-panel").hidden = true;
  }
}
