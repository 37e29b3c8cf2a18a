/**
 * `deno task load --workers N`: the run split over N Deno workers
 * (load_worker.ts), one thread each, so the client can use every core. Each
 * worker opens its own connections and sends the requests whose index is
 * its number modulo N (the channel of request i stays `(i % channels) + 1`,
 * so routing and coalescing see the same requests as with one sender).
 *
 * The workers start, connect and warm up before the measured run; then all
 * are told to go at once, and the run ends when the last one is done. Their
 * progress is read from a shared buffer (no message per request).
 *
 * @module
 */
import type { LoadOptions } from "./load_flags.ts";
import type { Part, PartResult } from "./load_part.ts";
import type { FromWorker, ToWorker } from "./load_worker.ts";
import { LoadError } from "./load_targets.ts";

/** How long a worker may take to start, connect and warm up. */
const READY_TIMEOUT_MS = 30_000;

/** Workers that have connected and warmed up, waiting for `go`. */
export interface WorkerPool {
  /** Warmup requests sent and failed, all workers. */
  readonly warmup: { sent: number; failed: number };
  /** Completions and failures so far, all workers. */
  progress(): { done: number; failed: number };
  /** Runs the measured part of every worker; resolves with their results. */
  run(onHealthChange: (change: string) => void): Promise<PartResult[]>;
  /** Asks every worker to stop sending (requests in flight still complete). */
  stop(): void;
  /** Ends the workers (idempotent). */
  close(): void;
}

/**
 * Starts `n` workers for the run `o` and resolves once all are ready.
 *
 * @throws {LoadError} if a worker fails or is not ready within 30 s.
 */
export async function startWorkers(o: LoadOptions, n: number): Promise<WorkerPool> {
  const progress = new SharedArrayBuffer(n * 2 * Int32Array.BYTES_PER_ELEMENT);
  const counts = new Int32Array(progress);
  const workers: Worker[] = [];
  const inbox: ((m: FromWorker) => void)[] = [];
  let failure = Promise.withResolvers<never>();
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    for (const w of workers) w.terminate();
  };
  const send = (w: Worker, m: ToWorker) => w.postMessage(m);
  failure.promise.catch(() => {});
  const fail = (k: number, message: string) =>
    failure.reject(new LoadError(`load worker ${k + 1} of ${n} failed: ${message}`));

  const ready: Promise<{ sent: number; failed: number }>[] = [];
  for (let k = 0; k < n; k++) {
    const w = new Worker(new URL("./load_worker.ts", import.meta.url), { type: "module" });
    workers.push(w);
    const r = Promise.withResolvers<{ sent: number; failed: number }>();
    ready.push(r.promise);
    inbox[k] = (m) => {
      if (m.type === "ready") r.resolve(m.warmup);
      else if (m.type === "error") fail(k, m.message);
    };
    w.onmessage = (e: MessageEvent<FromWorker>) => inbox[k](e.data);
    w.onerror = (e) => {
      e.preventDefault();
      fail(k, e.message);
    };
    const part: Part = { index: k, of: n };
    send(w, { type: "init", options: o, part, progress });
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new LoadError(`load workers not ready within ${READY_TIMEOUT_MS / 1000} s (of ${n})`),
        ),
      READY_TIMEOUT_MS,
    );
  });
  let warmups: { sent: number; failed: number }[];
  try {
    warmups = await Promise.race([Promise.all(ready), failure.promise, timeout]);
  } catch (err) {
    close();
    throw err;
  } finally {
    clearTimeout(timer);
  }

  return {
    warmup: {
      sent: warmups.reduce((s, w) => s + w.sent, 0),
      failed: warmups.reduce((s, w) => s + w.failed, 0),
    },
    progress() {
      let done = 0;
      let failed = 0;
      for (let k = 0; k < n; k++) {
        done += Atomics.load(counts, 2 * k);
        failed += Atomics.load(counts, 2 * k + 1);
      }
      return { done, failed };
    },
    async run(onHealthChange) {
      failure = Promise.withResolvers<never>();
      failure.promise.catch(() => {});
      const results = workers.map((_, k) => {
        const r = Promise.withResolvers<PartResult>();
        inbox[k] = (m) => {
          if (m.type === "done") r.resolve(m.result);
          else if (m.type === "health") onHealthChange(m.change);
          else if (m.type === "error") fail(k, m.message);
        };
        return r.promise;
      });
      for (const w of workers) send(w, { type: "go" });
      try {
        return await Promise.race([Promise.all(results), failure.promise]);
      } finally {
        close();
      }
    },
    stop() {
      if (!closed) { for (const w of workers) send(w, { type: "stop" }); }
    },
    close,
  };
}
