/**
 * A Deno worker of `deno task load --workers N` (load_workers.ts starts it):
 * opens its own connections to the targets, sends its warmup share, says
 * `ready`, and on `go` sends its part of the run (load_part.ts), counting
 * progress in the shared buffer, then posts what it measured.
 *
 * Messages in: `init` (options, part, progress buffer), `go`, `stop`.
 * Messages out: `ready` (warmup figures), `health` (a change its router saw
 * while measuring), `done` (its {@linkcode PartResult}), `error`.
 *
 * @module
 */
/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />
import type { LoadOptions } from "./load_flags.ts";
import { type Part, type PartResult, sendPart } from "./load_part.ts";
import { openTargets, type Targets } from "./load_targets.ts";
import { runPaced } from "./pacing.ts";

/** What the coordinator sends. */
export type ToWorker =
  | { type: "init"; options: LoadOptions; part: Part; progress: SharedArrayBuffer }
  | { type: "go" }
  | { type: "stop" };

/** What a worker answers. */
export type FromWorker =
  | { type: "ready"; warmup: { sent: number; failed: number } }
  | { type: "health"; change: string }
  | { type: "done"; result: PartResult }
  | { type: "error"; message: string };

const post = (m: FromWorker, transfer: Transferable[] = []) => self.postMessage(m, transfer);
const stop = new AbortController();
let targets: Targets | undefined;
let init: Extract<ToWorker, { type: "init" }> | undefined;
let measuring = false;

async function start(m: Extract<ToWorker, { type: "init" }>): Promise<void> {
  init = m;
  const o = m.options;
  targets = openTargets({
    ...o,
    onHealthChange: (c) => {
      if (!measuring) return;
      const why = c.error ? ` (${c.reason}: ${c.error.message})` : ` (${c.reason})`;
      post({ type: "health", change: `${c.instance.id} ${c.up ? "up" : "down"}${why}` });
    },
  });
  const warmup = { sent: 0, failed: 0 };
  const { index, of } = m.part;
  const share = Math.floor(o.warmup / of) + (index < o.warmup % of ? 1 : 0);
  if (share > 0) {
    const concurrency = o.concurrency === undefined ? undefined : Math.ceil(o.concurrency / of);
    const w = await runPaced(
      { total: share, concurrency, signal: stop.signal },
      (i) => targets!.call(i * of + index),
      (c) => c.ok || warmup.failed++,
    );
    warmup.sent = w.sent;
  }
  post({ type: "ready", warmup });
}

async function go(): Promise<void> {
  const { options: o, part, progress } = init!;
  measuring = true;
  const result = await sendPart(
    (i) => targets!.call(i),
    {
      total: o.requests,
      rps: o.rps,
      durationMs: o.durationMs,
      concurrency: o.concurrency,
      signal: stop.signal,
    },
    part,
    new Int32Array(progress, part.index * 2 * Int32Array.BYTES_PER_ELEMENT, 2),
  );
  measuring = false;
  await targets!.close();
  post({ type: "done", result }, [result.latencies.buffer as ArrayBuffer]);
}

self.onmessage = (e: MessageEvent<ToWorker>) => {
  const m = e.data;
  const failed = (err: unknown) =>
    post({ type: "error", message: (err as Error)?.stack ?? String(err) });
  if (m.type === "init") start(m).catch(failed);
  else if (m.type === "go") go().catch(failed);
  else stop.abort();
};
