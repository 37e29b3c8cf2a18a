/**
 * Waits that end: every wait on a server or a database has a deadline, and
 * when it passes the error names what did not come up. One `waitReady` for
 * every HTTP server of the project (instances, gateway), one `withTimeout`
 * for in-process events.
 *
 * Browser-safe: `fetch` and timers only.
 *
 * @module
 */

/** A wait whose deadline passed; the message names what did not happen. */
export class WaitTimeoutError extends Error {
  override name = "WaitTimeoutError";
}

/**
 * Settles as `promise` does, or rejects with a {@linkcode WaitTimeoutError}
 * `timed out after <ms> ms waiting for <what>`. Leaves no timer behind.
 */
export function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new WaitTimeoutError(`timed out after ${timeoutMs} ms waiting for ${what}`)),
      timeoutMs,
    );
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** Options of {@linkcode waitUntil}. */
export interface WaitOptions {
  /** What is awaited, for the error message: `"data-service-1 ready"`. */
  readonly what: string;
  /** Give up after this long. */
  readonly timeoutMs: number;
  /** Between checks. Default 250 ms. */
  readonly intervalMs?: number;
  /**
   * Settles when waiting is pointless (the process exited): the wait then
   * rejects at once with an Error carrying the resolved text.
   */
  readonly stop?: Promise<string>;
}

/**
 * Calls `check` until it returns true (a throw counts as false). `check` gets
 * a signal that aborts when the wait is over, for the request it makes.
 *
 * @throws {WaitTimeoutError} after `timeoutMs`, naming `what`.
 * @throws {Error} with the text of `stop` when it resolves first.
 */
export async function waitUntil(
  check: (signal: AbortSignal) => boolean | Promise<boolean>,
  options: WaitOptions,
): Promise<void> {
  const over = new AbortController();
  const timer = setTimeout(
    () =>
      over.abort(
        new WaitTimeoutError(
          `timed out after ${options.timeoutMs} ms waiting for ${options.what}`,
        ),
      ),
    options.timeoutMs,
  );
  const ended = new Promise<never>((_, reject) => {
    over.signal.addEventListener("abort", () => reject(over.signal.reason), { once: true });
  });
  ended.catch(() => {});
  const stopped = options.stop?.then((why): never => {
    throw new Error(why);
  });
  stopped?.catch(() => {});
  const races = stopped ? [ended, stopped] : [ended];
  let pause: ReturnType<typeof setTimeout> | undefined;
  try {
    for (;;) {
      const attempt = Promise.resolve().then(() => check(over.signal)).catch(() => false);
      if (await Promise.race([attempt, ...races])) return;
      await Promise.race([
        new Promise((r) => (pause = setTimeout(r, options.intervalMs ?? 250))),
        ...races,
      ]);
    }
  } finally {
    clearTimeout(timer);
    clearTimeout(pause);
    if (!over.signal.aborted) over.abort(new Error("wait over"));
  }
}

/** Options of {@linkcode waitReady}. */
export interface ReadyOptions extends Partial<WaitOptions> {
  /** The path that answers 2xx when ready. Default `/readyz`. */
  readonly path?: string;
}

/**
 * Waits until `GET <url><path>` answers 2xx (default `/readyz`, 60 s) and
 * returns `url`.
 *
 * @throws {WaitTimeoutError} naming the URL (or `what`) when it does not come up.
 */
export async function waitReady(url: string, options: ReadyOptions = {}): Promise<string> {
  const path = options.path ?? "/readyz";
  await waitUntil(async (signal) => {
    const res = await fetch(`${url}${path}`, { signal });
    await res.body?.cancel();
    return res.ok;
  }, {
    ...options,
    what: options.what ?? `${url}${path} to answer 2xx`,
    timeoutMs: options.timeoutMs ?? 60_000,
  });
  return url;
}
