/**
 * The progress line of `deno task load` on stderr: done / total, rate and
 * errors, redrawn in place a few times a second, only when stderr is a
 * terminal (never in pipes, files or CI logs).
 *
 * @module
 */

/** What the progress line shows. */
export interface Progress {
  /** Requests completed. */
  readonly done: number;
  /** Requests planned (`Infinity` for a closed loop that runs for a duration). */
  readonly total: number;
  readonly errors: number;
  /** Time since the measured run started. */
  readonly elapsedMs: number;
}

/** The line's text, e.g. `load: 5000/10000 (50%)  4211 req/s  errors 0  1.2s`. */
export function progressText(p: Progress): string {
  const rate = p.elapsedMs > 0 ? Math.round((p.done * 1000) / p.elapsedMs) : 0;
  const total = Number.isFinite(p.total)
    ? `/${p.total} (${Math.floor((p.done / Math.max(1, p.total)) * 100)}%)`
    : "";
  return `load: ${p.done}${total}  ${rate} req/s  errors ${p.errors}  ${
    (p.elapsedMs / 1000).toFixed(1)
  }s`;
}

/** A redrawing progress line; a no-op when stderr is not a terminal. */
export interface ProgressLine {
  /** Starts redrawing every `intervalMs` with what `read` returns. */
  start(read: () => Progress): void;
  /** Stops and erases the line. */
  stop(): void;
}

/** Creates the progress line for `Deno.stderr` (or a no-op if it is not a terminal). */
export function createProgressLine(
  intervalMs = 200,
  isTerminal: boolean = Deno.stderr.isTerminal(),
): ProgressLine {
  if (!isTerminal) return { start() {}, stop() {} };
  const encoder = new TextEncoder();
  const write = (s: string) => {
    try {
      Deno.stderr.writeSync(encoder.encode(s));
    } catch { /* stderr closed: nothing to show */ }
  };
  let timer: ReturnType<typeof setInterval> | undefined;
  return {
    start(read) {
      timer = setInterval(() => write(`\r\x1b[K${progressText(read())}`), intervalMs);
    },
    stop() {
      if (timer === undefined) return;
      clearInterval(timer);
      timer = undefined;
      write("\r\x1b[K");
    },
  };
}
