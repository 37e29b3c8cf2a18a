/**
 * The bounded mixed load of an experiment: `concurrency` workers in a closed
 * loop, each call a CreateMessage (its acknowledgement logged with the id the
 * service returned) or a GetMessage of a write acknowledged earlier, until
 * stopped. Every call is recorded with its start, end and code. A worker
 * whose call failed waits {@link FAILURE_PAUSE_MS} before its next call, as a
 * client backing off would (without it an outage turns the load into a spin
 * of instant failures that starves the machine the cluster restarts on).
 *
 * @module
 */
import { type Client, Code, ConnectError } from "@connectrpc/connect";
import type { MessagesService } from "../../gen/dataservices/v1/messages_pb.ts";
import { now } from "./clients.ts";
import { codeName } from "./config.ts";

/** One call of the load. Times are {@link now} milliseconds. */
export interface OpRecord {
  kind: "read" | "write";
  start: number;
  end: number;
  /** `OK` or the Connect code name, e.g. `UNAVAILABLE`. */
  code: string;
  /** A failure's message (first 200 characters). */
  message?: string;
}

/** A write the service acknowledged. */
export interface AckedWrite {
  experiment: string;
  channelId: string;
  messageId: string;
  /** Unique per suite run; also in the message's content. */
  seq: number;
  at: number;
}

/** The code name of a failed call. */
export function errorCode(e: unknown): string {
  return codeName(Code[ConnectError.from(e).code]);
}

/** A worker's pause after a failed call. */
export const FAILURE_PAUSE_MS = 20;

/** A small seeded PRNG (mulberry32): the same seed, the same sequence of ops. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Options of {@link startMixedLoad}. */
export interface MixedLoadOptions {
  experiment: string;
  concurrency: number;
  writeRatio: number;
  channels: number;
  /** First channel id (channels are `firstChannel .. firstChannel + channels - 1`). */
  firstChannel: bigint;
  /** Writes acknowledged so far (appended to): reads pick from it. */
  known: Pick<AckedWrite, "channelId" | "messageId">[];
  /** Next sequence number (a counter shared by the callers of one process). */
  seq: { next: number };
  /** Called with each acknowledgement (the suite logs it). */
  onAck?: (w: AckedWrite) => void;
  /** Called with each finished call. */
  onRecord?: (r: OpRecord) => void;
  rng: () => number;
  timeoutMs: number;
}

/** A running load. */
export interface MixedLoad {
  readonly records: OpRecord[];
  readonly acked: AckedWrite[];
  /** Stops starting calls and resolves when the calls in flight have ended. */
  stop(): Promise<void>;
}

/** Starts the mixed load on `client` (a router client or a gateway client). */
export function startMixedLoad(
  client: Client<typeof MessagesService>,
  o: MixedLoadOptions,
): MixedLoad {
  const records: OpRecord[] = [];
  const acked: AckedWrite[] = [];
  let running = true;
  const once = async () => {
    const write = o.known.length === 0 || o.rng() < o.writeRatio;
    const start = now();
    let code = "OK";
    let message: string | undefined;
    const failed = (e: unknown) => {
      code = errorCode(e);
      message = ConnectError.from(e).rawMessage.slice(0, 200);
    };
    if (write) {
      const seq = o.seq.next++;
      const channelId = o.firstChannel + BigInt(Math.floor(o.rng() * o.channels));
      try {
        const r = await client.createMessage(
          { channelId, authorId: 7n, content: `fault ${o.experiment} #${seq}` },
          { timeoutMs: o.timeoutMs },
        );
        const w: AckedWrite = {
          experiment: o.experiment,
          channelId: String(channelId),
          messageId: String(r.message?.messageId),
          seq,
          at: now(),
        };
        acked.push(w);
        o.known.push(w);
        o.onAck?.(w);
      } catch (e) {
        failed(e);
      }
    } else {
      const w = o.known[Math.floor(o.rng() * o.known.length)];
      try {
        await client.getMessage(
          { channelId: BigInt(w.channelId), messageId: BigInt(w.messageId) },
          { timeoutMs: o.timeoutMs },
        );
      } catch (e) {
        failed(e);
      }
    }
    const record: OpRecord = { kind: write ? "write" : "read", start, end: now(), code, message };
    records.push(record);
    o.onRecord?.(record);
    if (code !== "OK") await new Promise((r) => setTimeout(r, FAILURE_PAUSE_MS));
  };
  const worker = async () => {
    while (running) await once();
  };
  const workers = Array.from({ length: o.concurrency }, worker);
  return {
    records,
    acked,
    async stop() {
      running = false;
      await Promise.all(workers);
    },
  };
}

/** Options of {@link runWriteBurst}. */
export interface WriteBurstOptions {
  experiment: string;
  count: number;
  /** Channels `firstChannel .. firstChannel + 999`. */
  firstChannel: bigint;
  seq: { next: number };
  timeoutMs: number;
  onAck?: (w: AckedWrite) => void;
  onRecord?: (r: OpRecord) => void;
}

/** `count` CreateMessage calls all at once, spread over `clients` in turn. */
export async function runWriteBurst(
  clients: Client<typeof MessagesService>[],
  o: WriteBurstOptions,
): Promise<void> {
  await Promise.all(Array.from({ length: o.count }, async (_, i) => {
    const seq = o.seq.next++;
    const channelId = o.firstChannel + BigInt(i % 1000);
    const start = now();
    let code = "OK";
    try {
      const r = await clients[i % clients.length].createMessage(
        { channelId, authorId: 8n, content: `fault ${o.experiment} #${seq}` },
        { timeoutMs: o.timeoutMs },
      );
      o.onAck?.({
        experiment: o.experiment,
        channelId: String(channelId),
        messageId: String(r.message?.messageId),
        seq,
        at: now(),
      });
    } catch (e) {
      code = errorCode(e);
    }
    o.onRecord?.({ kind: "write", start, end: now(), code });
  }));
}
