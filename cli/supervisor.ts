/**
 * Keeps a child service running: when it exits without being asked to, it
 * is started again at once, then with a growing pause if it keeps dying
 * young (a crash loop must not spin). `deno task start` supervises its
 * instances and gateway this way: Deno 2.9.6's node:http2 can abort an
 * instance when a busy client drops its connection (denoland/deno#36788),
 * and the router's failover covers the second it takes to come back.
 *
 * @module
 */
import type { ChildService } from "./child.ts";

/** Options of {@linkcode supervise}. */
export interface SuperviseOptions {
  /** A run shorter than this counts as dying young (default 5000 ms). */
  readonly youngMs?: number;
  /** First pause after dying young (default 250 ms); doubles each time, up to `maxPauseMs`. */
  readonly firstPauseMs?: number;
  /** Longest pause between restarts (default 10 s). */
  readonly maxPauseMs?: number;
  /** Told about every unexpected exit and what happens next. */
  readonly onExit?: (event: { name: string; code: number; restartInMs: number }) => void;
  /** Clock (tests). */
  readonly now?: () => number;
  readonly setTimeout?: (fn: () => void, ms: number) => unknown;
  readonly clearTimeout?: (id: unknown) => void;
}

/** A supervised child. */
export interface Supervised {
  /** The child running now (a new object after each restart). */
  readonly current: ChildService;
  /** Restarts so far. */
  readonly restarts: number;
  /** Stops supervising and stops the child. */
  stop(graceMs?: number): Promise<number>;
}

/** Starts `spawn()` and restarts it whenever it exits unasked. */
export function supervise(spawn: () => ChildService, options: SuperviseOptions = {}): Supervised {
  const now = options.now ?? (() => performance.now());
  const setT = options.setTimeout ?? ((fn, ms) => setTimeout(fn, ms));
  const clearT = options.clearTimeout ?? ((id) => clearTimeout(id as number));
  const youngMs = options.youngMs ?? 5000;
  const firstPause = options.firstPauseMs ?? 250;
  const maxPause = options.maxPauseMs ?? 10_000;
  let stopped = false;
  let restarts = 0;
  let pause = 0;
  let timer: unknown;
  let current: ChildService;

  const start = () => {
    const child = spawn();
    const startedAt = now();
    current = child;
    child.exited.then((code) => {
      if (stopped || current !== child) return;
      const young = now() - startedAt < youngMs;
      pause = young ? (pause === 0 ? firstPause : Math.min(maxPause, pause * 2)) : 0;
      options.onExit?.({ name: child.name, code, restartInMs: pause });
      timer = setT(() => {
        timer = undefined;
        if (stopped) return;
        restarts++;
        start();
      }, pause);
    });
  };
  start();
  return {
    get current() {
      return current;
    },
    get restarts() {
      return restarts;
    },
    stop(graceMs) {
      stopped = true;
      if (timer !== undefined) clearT(timer);
      return current.stop(graceMs);
    },
  };
}
