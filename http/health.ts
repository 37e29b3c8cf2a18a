/**
 * Readiness of an instance and the standard `grpc.health.v1.Health` service.
 *
 * An instance is ready (SERVING, `/readyz` 200) when its store answered the
 * last probe and it is not draining. Liveness (`/healthz`) is the process
 * answering at all.
 *
 * @module
 */
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import {
  type Health,
  type HealthCheckResponse,
  HealthCheckResponse_ServingStatus as Status,
} from "../gen/grpc/health/v1/health_pb.ts";

/** Tracks whether the instance should receive traffic. */
export class Readiness {
  #storeUp = false;
  #draining = false;
  #reason = "store not probed yet";
  #listeners = new Set<() => void>();

  /** True when the store answers and the instance is not draining. */
  get ready(): boolean {
    return this.#storeUp && !this.#draining;
  }

  /** Why the instance is not ready ("" when it is). */
  get reason(): string {
    if (this.#draining) return "draining";
    return this.#storeUp ? "" : this.#reason;
  }

  /** Records the outcome of a store probe; listeners hear of a new state or a new reason. */
  setStore(up: boolean, reason = ""): void {
    const before = [this.ready, this.reason];
    this.#storeUp = up;
    this.#reason = up ? "" : reason || "store unreachable";
    if (before[0] !== this.ready || before[1] !== this.reason) this.#notify();
  }

  /** Marks the instance as draining (shutdown started); permanent. */
  drain(): void {
    const before = this.ready;
    this.#draining = true;
    if (before !== this.ready) this.#notify();
  }

  /** Calls `fn` on every change of `ready` or `reason`; returns an unsubscribe function. */
  onChange(fn: () => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  #notify() {
    for (const fn of this.#listeners) fn();
  }
}

/**
 * Probes `ping` every `intervalMs` and records the outcome in `readiness`.
 * Returns a function that stops probing.
 */
export function probeStore(
  readiness: Readiness,
  ping: () => Promise<void>,
  intervalMs: number,
): () => void {
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const tick = async () => {
    try {
      await ping();
      readiness.setStore(true);
    } catch (err) {
      readiness.setStore(false, err instanceof Error ? err.message : String(err));
    }
    if (!stopped) timer = setTimeout(tick, intervalMs);
  };
  timer = setTimeout(tick, 0);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

/** `grpc.health.v1.Health` over a {@link Readiness}, for the named services. */
export function healthService(
  readiness: Readiness,
  services: readonly string[],
): ServiceImpl<typeof Health> {
  const known = new Set(["", ...services]);
  const status = (): HealthCheckResponse["status"] =>
    readiness.ready ? Status.SERVING : Status.NOT_SERVING;
  return {
    check(req) {
      if (!known.has(req.service)) {
        throw new ConnectError(`unknown service ${JSON.stringify(req.service)}`, Code.NotFound);
      }
      return { status: status() };
    },
    async *watch(req, ctx) {
      if (!known.has(req.service)) {
        yield { status: Status.SERVICE_UNKNOWN };
        return;
      }
      let last: HealthCheckResponse["status"] | undefined;
      while (!ctx.signal.aborted) {
        // Compare before waiting: a change between two yields must not be missed.
        if (status() !== last) {
          last = status();
          yield { status: last };
          continue;
        }
        const { promise, resolve } = Promise.withResolvers<void>();
        const off = readiness.onChange(resolve);
        const onAbort = () => resolve();
        ctx.signal.addEventListener("abort", onAbort);
        try {
          await promise;
        } finally {
          off();
          ctx.signal.removeEventListener("abort", onAbort);
        }
      }
    },
  };
}
