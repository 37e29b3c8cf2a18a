/**
 * Deadlines by the thousand without a timer each: entries due in the same
 * slot of {@linkcode SLOT_MS} share one `setTimeout`. A deadline fires at
 * most one slot late, never early. Browser-safe.
 *
 * A `setTimeout` + `clearTimeout` pair costs about 1 µs in Deno 2.9; a call
 * that takes 25 µs should not pay it for a deadline that almost never fires.
 *
 * @module
 */

/** Width of a slot in milliseconds. */
export const SLOT_MS = 10;

/** Something with a deadline. */
export interface Expiring {
  /** Called once when the deadline has passed (unless cancelled first). */
  expire(): void;
}

/** A scheduled entry; pass it to {@linkcode CoarseTimer.cancel}. */
export type TimerHandle = number;

/** Groups deadlines into shared slots. One per process is enough ({@linkcode coarseTimer}). */
export class CoarseTimer {
  #slots = new Map<number, { entries: Set<Expiring>; timer: ReturnType<typeof setTimeout> }>();

  /** Schedules `entry.expire()` at `at` (a `performance.now()` time) or within one slot after. */
  schedule(entry: Expiring, at: number): TimerHandle {
    const slot = Math.ceil(at / SLOT_MS);
    let s = this.#slots.get(slot);
    if (s === undefined) {
      const entries = new Set<Expiring>();
      // Rounded up: setTimeout truncates a fractional delay, which would fire early.
      const timer = setTimeout(() => {
        this.#slots.delete(slot);
        for (const e of entries) e.expire();
      }, Math.max(0, Math.ceil(slot * SLOT_MS - performance.now())));
      s = { entries, timer };
      this.#slots.set(slot, s);
    }
    s.entries.add(entry);
    return slot;
  }

  /** Unschedules an entry (no effect once it fired). */
  cancel(entry: Expiring, handle: TimerHandle): void {
    const s = this.#slots.get(handle);
    if (s === undefined || !s.entries.delete(entry) || s.entries.size > 0) return;
    clearTimeout(s.timer);
    this.#slots.delete(handle);
  }

  /** Slots with a timer running (for tests). */
  get pending(): number {
    return this.#slots.size;
  }
}

/** The process-wide instance. */
export const coarseTimer: CoarseTimer = new CoarseTimer();
