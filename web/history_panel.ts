/**
 * The channel panel: the channel input and its route line, a channel's
 * history 50 messages at a time (newest first, then older pages), and
 * posting a message.
 *
 * Browser only.
 *
 * @module
 */
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { Message } from "../gen/dataservices/v1/messages_pb.ts";
import { $, fmt, h, ms, show } from "./dom.ts";
import type { Problems } from "./errors_panel.ts";
import type { Fleet } from "./fleet.ts";
import { parseChannelId, routeLine } from "./stats.ts";

/** Messages per history page. */
const PAGE = 50;

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

/** The `#history` section. */
export class HistoryPanel {
  /** The channel shown (0n: none yet). */
  #channel = 0n;
  /** The smallest message id shown: the `before` of the next older page. */
  #oldest = 0n;
  /** Bumped by every read, so a slow answer never replaces a newer one. */
  #readSeq = 0;
  readonly #fleet: Fleet;
  readonly #problems: Problems;

  constructor(fleet: Fleet, problems: Problems) {
    this.#fleet = fleet;
    this.#problems = problems;
    const select = $<HTMLSelectElement>("#channel-select");
    const input = $<HTMLInputElement>("#channel-input");
    select.addEventListener("change", () => {
      if (select.value === "") return input.focus();
      input.value = select.value;
      this.read(false);
    });
    input.addEventListener("input", () => {
      select.value = [...select.options].some((o) => o.value === input.value.trim())
        ? input.value.trim()
        : "";
      this.updateRoute();
    });
    $("#channel-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      this.read(false);
    });
    $("#older").addEventListener("click", () => this.read(true));
    $("#post-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      this.post();
    });
  }

  /**
   * The channel id in the input.
   *
   * @throws {Error} with a readable message when it is not one.
   */
  channelInput(): bigint {
    return parseChannelId($<HTMLInputElement>("#channel-input").value);
  }

  /** Shows where a read of the channel in the input goes. */
  updateRoute(): void {
    const router = this.#fleet.router;
    if (router.instances.length === 0) return;
    let channel: bigint;
    try {
      channel = this.channelInput();
    } catch {
      show("#route", "");
      return;
    }
    const line = routeLine({
      channel,
      viaGateway: this.#fleet.mode === "gateway",
      owner: router.ownerOf(channel).id,
      target: router.instanceFor(channel).id,
      instances: router.instances.length,
    });
    show("#route", line.text, line.value);
  }

  /** Reads the newest page of the channel in the input, or the next older page of the shown one. */
  async read(older: boolean, highlight?: bigint): Promise<Message[] | undefined> {
    let id: bigint;
    try {
      id = older ? this.#channel : this.channelInput();
    } catch (e) {
      this.#problems.log(e instanceof Error ? e.message : String(e));
      return;
    }
    const status = $("#history-status");
    status.dataset.state = "loading";
    status.textContent = older ? "loading older messages…" : `reading channel ${id}…`;
    const started = performance.now();
    const seq = ++this.#readSeq;
    try {
      const res = await this.#fleet.api().getMessages(
        { channelId: id, before: older ? this.#oldest : 0n, limit: PAGE },
        { timeoutMs: 10_000 },
      );
      if (seq !== this.#readSeq) return; // A newer read replaced this one.
      const took = performance.now() - started;
      const list = $("#messages");
      if (!older) {
        list.replaceChildren();
        this.#channel = id;
        show("#history-channel", String(id), String(id));
      }
      for (const m of res.messages) list.append(messageItem(m, m.messageId === highlight));
      if (res.messages.length > 0) this.#oldest = res.messages[res.messages.length - 1].messageId;
      $<HTMLButtonElement>("#older").disabled = res.messages.length < PAGE;
      const n = list.children.length;
      status.dataset.state = "done";
      status.textContent = `${fmt(n)} message${n === 1 ? "" : "s"} shown, newest first${
        res.messages.length < PAGE ? " (start of history)" : ""
      } · ${ms(took)}`;
      if (n === 0) list.append(h("li", { class: "empty" }, "No messages yet."));
      this.updateRoute();
      return res.messages;
    } catch (e) {
      if (seq !== this.#readSeq) return;
      status.dataset.state = "error";
      status.textContent = "read failed (see errors above)";
      this.#problems.report(`Reading channel ${id}`, e);
    }
  }

  /** Posts the form's message to the channel in the input, then reads the channel back. */
  async post(): Promise<void> {
    const status = $("#post-status");
    const content = $<HTMLTextAreaElement>("#content").value;
    const authorText = $<HTMLInputElement>("#author").value.trim();
    let channelId: bigint;
    try {
      channelId = this.channelInput();
    } catch (e) {
      this.#problems.log(`Posting: ${e instanceof Error ? e.message : String(e)}`);
      return;
    }
    if (!/^[1-9][0-9]{0,18}$/.test(authorText)) {
      this.#problems.log(`Posting: author id must be a whole number > 0, got "${authorText}"`);
      return;
    }
    const authorId = BigInt(authorText);
    const button = $<HTMLButtonElement>("#post");
    button.disabled = true;
    status.dataset.state = "posting";
    status.textContent = "posting…";
    try {
      const { message } = await this.#fleet.api().createMessage(
        { channelId, authorId, content },
        { timeoutMs: 10_000 },
      );
      if (!message) throw new Error("the server returned no message");
      $<HTMLTextAreaElement>("#content").value = "";
      // Read the channel back: the new message comes from Cassandra, at the top.
      const page = await this.read(false, message.messageId);
      if (!page?.some((m) => m.messageId === message.messageId)) {
        $("#messages").prepend(messageItem(message, true));
      }
      status.dataset.state = "done";
      status.dataset.messageId = String(message.messageId);
      status.textContent = `posted #${message.messageId} to channel ${channelId}`;
    } catch (e) {
      status.dataset.state = "error";
      status.textContent = "post failed (see errors above)";
      this.#problems.report(`Posting to channel ${channelId}`, e);
    } finally {
      button.disabled = false;
    }
  }
}
