/**
 * One sender's part of a load run: the requests whose index is
 * `part.index` modulo `part.of`, paced by `runPaced`, with every completion
 * recorded (latency, code, a few error messages). The load command runs one
 * part in its own thread, or one per Deno worker (load_workers.ts); the
 * report merges the parts ({@linkcode mergeParts}).
 *
 * @module
 */
import { ConnectError } from "@connectrpc/connect";
import { codeName } from "./load_targets.ts";
import { type Completion, type PacingOptions, plannedRequests, runPaced } from "./pacing.ts";

/** Which requests a sender owns: global index i with `i % of === index`. */
export interface Part {
  readonly index: number;
  readonly of: number;
}

/** The whole run in one sender. */
export const WHOLE: Part = Object.freeze({ index: 0, of: 1 });

/** Most distinct error messages a report quotes. */
export const ERROR_SAMPLES = 3;

/** What one sender measured. */
export interface PartResult {
  /** Latency of each completed request (ms), in completion order. */
  readonly latencies: Float64Array;
  readonly failed: number;
  /** Failed requests by code name. */
  readonly errors: Record<string, number>;
  /** Up to {@linkcode ERROR_SAMPLES} distinct "CODE: message" lines. */
  readonly samples: string[];
  readonly sent: number;
  /** Start and last completion, in ms since the epoch (comparable across threads). */
  readonly startEpochMs: number;
  readonly endEpochMs: number;
  readonly interrupted: boolean;
}

/** The pacing of part `part` of a run paced by `whole`: its share of the count, rate and cap. */
export function partPacing(whole: PacingOptions, part: Part): PacingOptions {
  const { index, of } = part;
  if (of === 1) return whole;
  const share = (n: number) => Math.floor(n / of) + (index < n % of ? 1 : 0);
  return {
    ...whole,
    total: whole.total === undefined ? undefined : share(whole.total),
    rps: whole.rps === undefined ? undefined : whole.rps / of,
    concurrency: whole.concurrency === undefined ? undefined : share(whole.concurrency),
  };
}

/**
 * The most senders a run can use: one per request in flight at most (a
 * concurrency of 3 gives at most 3), and never more than requests.
 */
export function usableParts(wanted: number, whole: PacingOptions): number {
  let n = Math.max(1, Math.floor(wanted));
  if (whole.concurrency !== undefined) n = Math.min(n, whole.concurrency);
  const planned = plannedRequests(whole);
  if (Number.isFinite(planned)) n = Math.min(n, Math.max(1, planned));
  return n;
}

/**
 * Sends part `part` of the run: request j of the part is global request
 * `j * of + index`, sent with `call`. `progress[0]` counts completions and
 * `progress[1]` failures as they happen (a SharedArrayBuffer view when the
 * part runs in a worker).
 */
export async function sendPart(
  call: (index: number) => Promise<unknown>,
  pacing: PacingOptions,
  part: Part,
  progress: Int32Array,
): Promise<PartResult> {
  const own = partPacing(pacing, part);
  const planned = plannedRequests(own);
  let latencies = new Float64Array(Number.isFinite(planned) ? Math.max(1, planned) : 1024);
  let done = 0;
  let failed = 0;
  const errors: Record<string, number> = {};
  const samples = new Set<string>();
  const record = (c: Completion) => {
    if (done === latencies.length) {
      const bigger = new Float64Array(latencies.length * 2);
      bigger.set(latencies);
      latencies = bigger;
    }
    latencies[done++] = c.latencyMs;
    progress[0] = done;
    if (c.ok) return;
    progress[1] = ++failed;
    const e = ConnectError.from(c.error);
    const name = codeName(e.code);
    errors[name] = (errors[name] ?? 0) + 1;
    if (samples.size < ERROR_SAMPLES) samples.add(`${name}: ${e.rawMessage}`);
  };
  const { index, of } = part;
  const send = of === 1 ? call : (j: number) => call(j * of + index);
  // Epoch-based times: performance.now() has a different origin in each worker.
  const origin = performance.timeOrigin;
  const run = await runPaced(own, send, record);
  return {
    latencies: latencies.slice(0, done),
    failed,
    errors,
    samples: [...samples],
    sent: run.sent,
    startEpochMs: pacing.clock === undefined ? origin + run.startMs : run.startMs,
    endEpochMs: pacing.clock === undefined ? origin + run.endMs : run.endMs,
    interrupted: run.interrupted,
  };
}

/** The parts of one run as one: latencies joined, counts summed, first to last. */
export function mergeParts(parts: readonly PartResult[]): PartResult {
  if (parts.length === 1) return parts[0];
  const latencies = new Float64Array(parts.reduce((n, p) => n + p.latencies.length, 0));
  let at = 0;
  const errors: Record<string, number> = {};
  const samples = new Set<string>();
  for (const p of parts) {
    latencies.set(p.latencies, at);
    at += p.latencies.length;
    for (const [k, v] of Object.entries(p.errors)) errors[k] = (errors[k] ?? 0) + v;
    for (const s of p.samples) if (samples.size < ERROR_SAMPLES) samples.add(s);
  }
  return {
    latencies,
    failed: parts.reduce((n, p) => n + p.failed, 0),
    errors,
    samples: [...samples],
    sent: parts.reduce((n, p) => n + p.sent, 0),
    startEpochMs: Math.min(...parts.map((p) => p.startEpochMs)),
    endEpochMs: Math.max(...parts.map((p) => p.endEpochMs)),
    interrupted: parts.some((p) => p.interrupted),
  };
}
