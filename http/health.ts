/**
 * Readiness of an instance and the standard `grpc.health.v1.Health` service.
 *
 * An instance is ready (SERVING, `/readyz` 200) when its store answered the
 * last probe, every other condition it was given holds (a data-service
 * instance also needs its worker lease), and it is not draining. Liveness
 * (`/healthz`) is the process answering at all.
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
  /** Conditions and why each is down ("" when up), in the order given. */
  #conditions: Map<string, string>;
  #draining = false;
  #listeners = new Set<() => void>();

  /**
   * @param conditions what must hold for the instance to be ready, each down
   *   until set: by default the store answering (`"store"`).
   */
  constructor(conditions: readonly string[] = ["store"]) {
    this.#conditions = new Map(conditions.map((c) => [c, `${c} not probed yet`]));
  }

  /** True when every condition holds and the instance is not draining. */
  get ready(): boolean {
    return !this.#draining && [...this.#conditions.values()].every((r) => r === "");
  }

  /** Why the instance is not ready ("" when it is): draining, else the first condition down. */
  get reason(): string {
    if (this.#draining) return "draining";
    return [...this.#conditions.values()].find((r) => r !== "") ?? "";
  }

  /** Records the outcome of a store probe; listeners hear of a new state or a new reason. */
  setStore(up: boolean, reason = ""): void {
    this.set("store", up, reason || "store unreachable");
  }

  /**
   * Records whether condition `name` holds (`reason` says why not);
   * listeners hear of a new state or a new reason.
   */
  set(name: string, up: boolean, reason = `${name} down`): void {
    if (!this.#conditions.has(name)) throw new RangeError(`unknown readiness condition ${name}`);
    const before = [this.ready, this.reason];
    this.#conditions.set(name, up ? "" : reason || `${name} down`);
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

/** Options of {@linkcode probeStore}. */
export interface ProbeOptions {
  /** Pause between the end of one probe and the start of the next, in ms. */
  readonly intervalMs: number;
  /**
   * Bound of one probe in ms, passed to `ping`, which must settle within it
   * (a store's ping bounds its query; a probe must never wait behind data
   * queries or for a node that does not answer).
   */
  readonly timeoutMs?: number;
}

/**
 * Probes `ping` every `intervalMs` and records the outcome in `readiness`.
 * Probes never overlap. Returns a function that stops probing.
 */
export function probeStore(
  readiness: Readiness,
  ping: (timeoutMs: number | undefined) => Promise<void>,
  options: ProbeOptions | number,
): () => void {
  const { intervalMs, timeoutMs } = typeof options === "number"
    ? { intervalMs: options, timeoutMs: undefined }
    : options;
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const tick = async () => {
    try {
      await ping(timeoutMs);
      if (!stopped) readiness.setStore(true);
    } catch (err) {
      if (!stopped) readiness.setStore(false, err instanceof Error ? err.message : String(err));
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
