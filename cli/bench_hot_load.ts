/**
 * The load of one configuration of `deno task bench:hot`, against a client of
 * its instances: an open-loop Zipf read load over many channels for the whole
 * run, three waves of identical reads of one channel (the announcement
 * storm), and an open-loop write storm on another channel in the middle half.
 * Every call's latency and code are kept by kind.
 *
 * @module
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { seededRandom, zipf } from "../lib/zipf.ts";

/** The calls the load makes (a MessagesService client or a stand-in in tests). */
export interface HotLoadApi {
  getMessage(
    req: { channelId: bigint; messageId: bigint },
    o: { timeoutMs: number },
  ): Promise<unknown>;
  getMessages(
    req: { channelId: bigint; limit: number },
    o: { timeoutMs: number },
  ): Promise<unknown>;
  createMessage(
    req: { channelId: bigint; authorId: bigint; content: string },
    o: { timeoutMs: number },
  ): Promise<unknown>;
}

/** What a run does. */
export interface HotLoadPlan {
  readonly durationMs: number;
  readonly channels: number;
  readonly zipfS: number;
  readonly readRate: number;
  readonly storm: number;
  readonly writeRate: number;
  readonly timeoutMs: number;
  readonly seed: number;
  /** The Zipf load reads channels base+1..base+channels. */
  readonly channelBase: bigint;
  readonly stormChannel: bigint;
  readonly writeChannel: bigint;
}

/** The kinds of call. */
export type CallKind = "normal" | "storm" | "write";

/** Latencies (ms) of successful calls and codes of all calls, by kind. */
export type HotLoadResult = Record<CallKind, { okMs: number[]; codes: Record<string, number> }>;

/** The code name of a call's outcome ("ok", "resource_exhausted", ...). */
function outcome(err: unknown): string {
  if (err === undefined) return "ok";
  const code = ConnectError.from(err).code;
  // Reads of channels without the message are NOT_FOUND: an answer, not a failure.
  return Code[code].replace(/[A-Z]/g, (c, i) => (i ? "_" : "") + c.toLowerCase());
}

/** Runs the plan; resolves when every call has settled. */
export async function runHotLoad(api: HotLoadApi, p: HotLoadPlan): Promise<HotLoadResult> {
  const result: HotLoadResult = {
    normal: { okMs: [], codes: {} },
    storm: { okMs: [], codes: {} },
    write: { okMs: [], codes: {} },
  };
  const pending: Promise<void>[] = [];
  const call = (kind: CallKind, fn: () => Promise<unknown>) => {
    const t0 = performance.now();
    const r = result[kind];
    pending.push(
      fn().then(() => undefined, (e) => e ?? new Error("rejected")).then((err) => {
        const name = outcome(err);
        r.codes[name] = (r.codes[name] ?? 0) + 1;
        if (name === "ok" || name === "not_found") r.okMs.push(performance.now() - t0);
      }),
    );
  };
  const timeoutMs = p.timeoutMs;
  const nextChannel = zipf(p.channels, p.zipfS, seededRandom(p.seed));
  let writes = 0;
  const tickMs = 20;
  let readDebt = 0;
  let writeDebt = 0;
  const waves = new Set([0.3, 0.5, 0.7].map((f) => Math.round((f * p.durationMs) / tickMs)));
  const ticks = Math.round(p.durationMs / tickMs);
  const started = performance.now();
  for (let tick = 0; tick < ticks; tick++) {
    // Open loop: what is due by now is sent now, however long the previous calls take.
    readDebt += (p.readRate * tickMs) / 1000;
    for (; readDebt >= 1; readDebt--) {
      const channelId = p.channelBase + BigInt(nextChannel());
      call("normal", () => api.getMessage({ channelId, messageId: 1n }, { timeoutMs }));
    }
    const f = tick / ticks;
    if (f >= 0.25 && f < 0.75) {
      writeDebt += (p.writeRate * tickMs) / 1000;
      for (; writeDebt >= 1; writeDebt--) {
        const content = `write storm ${++writes}`;
        call(
          "write",
          () =>
            api.createMessage({ channelId: p.writeChannel, authorId: 7n, content }, { timeoutMs }),
        );
      }
    }
    if (waves.has(tick)) {
      for (let i = 0; i < p.storm; i++) {
        call(
          "storm",
          () => api.getMessages({ channelId: p.stormChannel, limit: 20 }, { timeoutMs }),
        );
      }
    }
    const due = started + (tick + 1) * tickMs;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  await Promise.all(pending);
  return result;
}
