/**
 * Bounds a promise by a deadline without a timer of its own (the deadline
 * shares a slot of {@linkcode coarseTimer}): for work that cannot be
 * cancelled, like a query handed to a database driver, whose caller must get
 * an answer by then anyway.
 *
 * @module
 */
import { coarseTimer } from "./coarse_timer.ts";

/**
 * Settles as `promise` does, or rejects with `onTimeout()` once `deadline`
 * (a `performance.now()` time) has passed, at most one timer slot late. The
 * promise left behind is still observed, so its late failure is never an
 * unhandled rejection.
 */
export function boundBy<T>(
  promise: Promise<T>,
  deadline: number,
  onTimeout: () => Error,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const entry = { expire: () => reject(onTimeout()) };
    const handle = coarseTimer.schedule(entry, deadline);
    promise.then(
      (v) => {
        coarseTimer.cancel(entry, handle);
        resolve(v);
      },
      (e) => {
        coarseTimer.cancel(entry, handle);
        reject(e);
      },
    );
  });
}
