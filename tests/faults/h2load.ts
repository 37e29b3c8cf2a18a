/**
 * An overload that costs the client little: h2load (nghttp2, C) with `-i`
 * over files of Connect GET URLs, one distinct key per URL. h2load starts
 * every client at the first URL of its file, so each process gets its own
 * file and one connection (`-c 1`) with many streams (`-m`); per-request
 * outcomes come from its `--log-file` (start µs, HTTP status, duration µs).
 *
 * @module
 */
import { codeOfHttpStatus } from "./config.ts";

/** The Connect GET URL of `GetMessage{channelId, messageId}` (JSON message, URL-encoded). */
export function getMessageUrl(baseUrl: string, channelId: bigint, messageId: bigint): string {
  const message = JSON.stringify({ channelId: String(channelId), messageId: String(messageId) });
  return `${baseUrl}/dataservices.v1.MessagesService/GetMessage?connect=v1&encoding=json&message=${
    encodeURIComponent(message)
  }`;
}

/** One answered request of an h2load log. */
export interface H2Request {
  /** Start, ms since the Unix epoch. */
  startMs: number;
  status: number;
  durationMs: number;
}

/** Parses h2load's `--log-file` (tab-separated: start µs since epoch, status, duration µs). */
export function parseH2loadLog(text: string): H2Request[] {
  const out: H2Request[] = [];
  for (const line of text.split("\n")) {
    const [start, status, duration] = line.split("\t");
    if (duration === undefined) continue;
    out.push({
      startMs: Number(start) / 1000,
      status: Number(status),
      durationMs: Number(duration) / 1000,
    });
  }
  return out;
}

/** What a burst did, from the clients' side. */
export interface BurstSummary {
  sent: number;
  /** Answers by Connect code (from the HTTP status). */
  byCode: Record<string, number>;
  /** Requests h2load logged no answer for (reset streams, dropped connections, timeouts). */
  noAnswer: number;
  /** From the burst's first request to the end of the first answer, ms. */
  firstAnswerMs: number | null;
  /** From the burst's start to the end of the first answer with `code`, per code, ms. */
  firstByCodeMs: Record<string, number>;
  /** From the burst's start to the last answer, ms. */
  lastAnswerMs: number | null;
}

/**
 * Summarizes the answers of a burst launched at `launchedMs` (epoch ms). Times
 * count from its first request (h2load's own start time of it; starting the
 * h2load processes and their connections, ~150 ms here, is the client's, not
 * the server's), or from `launchedMs` when nothing was answered.
 */
export function summarizeBurst(
  sent: number,
  answers: H2Request[],
  launchedMs: number,
): BurstSummary {
  let startMs = Infinity;
  for (const a of answers) if (a.startMs < startMs) startMs = a.startMs;
  if (startMs === Infinity) startMs = launchedMs;
  const byCode: Record<string, number> = {};
  const firstByCodeMs: Record<string, number> = {};
  let first: number | null = null;
  let last: number | null = null;
  for (const a of answers) {
    const code = codeOfHttpStatus(a.status);
    byCode[code] = (byCode[code] ?? 0) + 1;
    const end = Math.round(a.startMs + a.durationMs - startMs);
    firstByCodeMs[code] = Math.min(firstByCodeMs[code] ?? Infinity, end);
    first = first === null ? end : Math.min(first, end);
    last = last === null ? end : Math.max(last, end);
  }
  return {
    sent,
    byCode,
    noAnswer: Math.max(0, sent - answers.length),
    firstAnswerMs: first,
    firstByCodeMs,
    lastAnswerMs: last,
  };
}

/** Options of {@link runH2loadBurst}. */
export interface BurstOptions {
  urls: string[];
  /** URLs per h2load process (one connection each); default 4000. */
  perProcess?: number;
  /** Working directory for the URL files and logs. */
  dir: string;
  /** Kill h2load after this long. */
  timeoutMs: number;
}

/**
 * Sends every URL once, all at once: one h2load process per `perProcess` URLs,
 * each with one connection carrying all of its streams.
 */
export async function runH2loadBurst(
  o: BurstOptions,
): Promise<BurstSummary & { processes: number; failedProcesses: number }> {
  const per = o.perProcess ?? 4000;
  // h2load appends to an existing --log-file: start from an empty directory
  await Deno.remove(o.dir, { recursive: true }).catch(() => {});
  await Deno.mkdir(o.dir, { recursive: true });
  const parts: string[][] = [];
  for (let i = 0; i < o.urls.length; i += per) parts.push(o.urls.slice(i, i + per));
  for (const [k, part] of parts.entries()) {
    await Deno.writeTextFile(`${o.dir}/urls-${k}.txt`, part.join("\n") + "\n");
  }
  const startMs = Date.now();
  const runs = parts.map((part, k) =>
    new Deno.Command("h2load", {
      args: [
        "-i",
        `${o.dir}/urls-${k}.txt`,
        "-n",
        String(part.length),
        "-c",
        "1",
        "-m",
        String(part.length),
        `--log-file=${o.dir}/log-${k}.tsv`,
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(o.timeoutMs),
    }).output()
  );
  const outs = await Promise.allSettled(runs);
  const answers: H2Request[] = [];
  let failedProcesses = 0;
  for (const [k, out] of outs.entries()) {
    if (out.status === "rejected" || !out.value.success) failedProcesses++;
    if (out.status === "rejected") continue;
    try {
      answers.push(...parseH2loadLog(await Deno.readTextFile(`${o.dir}/log-${k}.tsv`)));
    } catch { /* no log: nothing answered */ }
  }
  return {
    ...summarizeBurst(o.urls.length, answers, startMs),
    processes: parts.length,
    failedProcesses,
  };
}
