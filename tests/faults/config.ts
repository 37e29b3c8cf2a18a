/**
 * The fault suite's two sizes: `full` (by hand, the figures: 50k
 * reads, 10k writes, faults held 10 s) and `reduced` (CI: the same
 * experiments, shorter and smaller).
 *
 * @module
 */

/** How big and how long each experiment is. */
export interface FaultConfig {
  /** Name of the size. */
  readonly mode: "full" | "reduced";
  /** Workers of the mixed load (closed loop). */
  readonly concurrency: number;
  /** Share of writes in the mixed load (the rest reads back acknowledged writes). */
  readonly writeRatio: number;
  /** Channels the mixed load writes to. */
  readonly channels: number;
  /** Mixed load before a fault is injected. */
  readonly beforeMs: number;
  /** How long a fault is held (node down, frozen, instance down). */
  readonly faultMs: number;
  /** Mixed load after the fault is healed. */
  readonly afterMs: number;
  /** Client deadline of every call. */
  readonly callTimeoutMs: number;
  /** Distinct reads of the read overload (h2load). */
  readonly overloadReads: number;
  /** Concurrent CreateMessage of the write overload. */
  readonly overloadWrites: number;
}

/** The run by hand: the sizes of issue 10. */
export const FULL: FaultConfig = {
  mode: "full",
  concurrency: 32,
  writeRatio: 0.5,
  channels: 500,
  beforeMs: 5_000,
  faultMs: 10_000,
  afterMs: 8_000,
  callTimeoutMs: 15_000,
  overloadReads: 50_000,
  overloadWrites: 10_000,
};

/** The CI run: every experiment, a few minutes in all. */
export const REDUCED: FaultConfig = {
  mode: "reduced",
  concurrency: 16,
  writeRatio: 0.5,
  channels: 200,
  beforeMs: 2_000,
  faultMs: 4_000,
  afterMs: 4_000,
  callTimeoutMs: 15_000,
  overloadReads: 10_000,
  overloadWrites: 2_000,
};

/** Names of Connect codes as the table prints them (`Code.ResourceExhausted` -> `RESOURCE_EXHAUSTED`). */
export function codeName(name: string): string {
  return name.replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
}

/**
 * The Connect code of an HTTP status of a Connect unary response (connect-go's
 * mapping); several codes share 400, 409 and 500, so those are named by the
 * status.
 */
export function codeOfHttpStatus(status: number): string {
  const known: Record<number, string> = {
    200: "OK",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELED",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
  };
  return known[status] ?? `HTTP_${status}`;
}
