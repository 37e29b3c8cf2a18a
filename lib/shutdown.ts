/**
 * The shutdown rule of every long-running command: the first SIGINT or
 * SIGTERM starts a graceful stop (drain), a second one exits at once with
 * code 130.
 *
 * Not browser-safe: Deno signals and `Deno.exit`.
 *
 * @module
 */

/** How signals are heard and the process ends (tests replace them). */
export interface ShutdownHost {
  addSignalListener(signal: Deno.Signal, fn: () => void): void;
  removeSignalListener(signal: Deno.Signal, fn: () => void): void;
  exit(code: number): void;
}

const DENO: ShutdownHost = {
  addSignalListener: (s, fn) => Deno.addSignalListener(s, fn),
  removeSignalListener: (s, fn) => Deno.removeSignalListener(s, fn),
  exit: (code) => Deno.exit(code),
};

/** Options of {@linkcode onShutdown}. */
export interface ShutdownOptions {
  /**
   * Runs on the first signal. With `exitWhenDone` (the default) the process
   * then exits with the number it returns (nothing: 0; a throw: 1).
   */
  onFirst(signal: Deno.Signal): Promise<number | void> | number | void;
  /** Runs on a second signal, just before exiting with 130 (to log it). */
  onSecond?(signal: Deno.Signal): void;
  /** Default SIGINT and SIGTERM. */
  readonly signals?: readonly Deno.Signal[];
  /** Exit when `onFirst` settles. Default true; false when the caller exits by itself. */
  readonly exitWhenDone?: boolean;
  readonly host?: ShutdownHost;
}

/** A handler installed by {@linkcode onShutdown}. */
export interface Shutdown {
  /** A first signal arrived. */
  readonly signalled: boolean;
  /** Stops listening. */
  dispose(): void;
}

/** Installs the shutdown rule; returns a handle that removes it. */
export function onShutdown(options: ShutdownOptions): Shutdown {
  const host = options.host ?? DENO;
  const signals = options.signals ?? ["SIGINT", "SIGTERM"];
  let signalled = false;
  const listeners = signals.map((signal) => {
    const fn = () => {
      if (signalled) {
        options.onSecond?.(signal);
        host.exit(130);
        return;
      }
      signalled = true;
      let done: Promise<number | void>;
      try {
        done = Promise.resolve(options.onFirst(signal));
      } catch (err) {
        done = Promise.reject(err);
      }
      if (options.exitWhenDone ?? true) {
        done.then((code) => host.exit(code ?? 0), () => host.exit(1));
      }
    };
    host.addSignalListener(signal, fn);
    return [signal, fn] as const;
  });
  return {
    get signalled() {
      return signalled;
    },
    dispose() {
      for (const [signal, fn] of listeners) host.removeSignalListener(signal, fn);
    },
  };
}
