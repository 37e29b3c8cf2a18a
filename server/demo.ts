/**
 * Demo data for `deno task start`: the original system's 20 `getMessage` rows
 * `(i, i*1000, 4000+i*1000, text)`, plus a history of messages per channel
 * spread over several 10-day buckets.
 *
 * @module
 */
import { BUCKET_MS, EPOCH_MS, firstIdAt } from "./snowflake.ts";
import type { MessageStore, StoredMessage } from "./store.ts";

/** Options of {@link demoMessages}. */
export interface DemoOptions {
  /** Channels 1..channels. Default 20. */
  channels?: number;
  /** History messages per channel. Default 300. */
  perChannel?: number;
  /** Buckets the history spans, ending now. Default 4. */
  buckets?: number;
  /** "Now", in Unix epoch ms. */
  now?: number;
}

/** The original's row for channel `i`: message id i*1000 by author 4000+i*1000. */
export function originalRow(i: number): StoredMessage {
  return {
    channelId: BigInt(i),
    messageId: BigInt(i * 1000),
    authorId: BigInt(4000 + i * 1000),
    content: `Message ${i} from the original data-services seed`,
  };
}

/** Every demo message, deterministic for the same options. */
export function demoMessages(options: DemoOptions = {}): StoredMessage[] {
  const channels = options.channels ?? 20;
  const perChannel = options.perChannel ?? 300;
  const span = (options.buckets ?? 4) * BUCKET_MS;
  const now = Math.max(options.now ?? Date.now(), EPOCH_MS + span);
  const out: StoredMessage[] = [];
  for (let c = 1; c <= channels; c++) {
    out.push(originalRow(c));
    for (let k = 0; k < perChannel; k++) {
      const t = now - span + Math.floor(((k + 0.5) * span) / perChannel);
      // Worker 1023 is reserved for demo data; the sequence keeps ids unique per channel.
      const messageId = firstIdAt(t) | (1023n << 12n) | BigInt(c % 4096);
      out.push({
        channelId: BigInt(c),
        messageId,
        authorId: BigInt(100 + (k % 17)),
        content: `Demo message ${k + 1} of ${perChannel} in channel ${c}`,
      });
    }
  }
  return out;
}

/** Writes `messages` with at most `concurrency` writes at once. */
export async function writeAll(
  store: MessageStore,
  messages: StoredMessage[],
  concurrency = 32,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < messages.length) await store.createMessage(messages[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, messages.length) }, worker));
}

/**
 * Writes the demo data unless it is already there (the original's row of
 * channel 20 is written last, so its presence means the load completed).
 * Returns the number of messages written (0 when present).
 */
export async function ensureDemoData(
  store: MessageStore,
  options: DemoOptions = {},
): Promise<number> {
  const channels = options.channels ?? 20;
  const last = originalRow(channels);
  if (await store.getMessage(last.channelId, last.messageId)) return 0;
  const all = demoMessages(options);
  const originals = all.filter((m) => m.messageId === BigInt(Number(m.channelId) * 1000));
  await writeAll(store, all.filter((m) => !originals.includes(m)));
  await writeAll(store, originals, 1);
  return all.length;
}
