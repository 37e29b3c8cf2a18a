/**
 * The verdict on one h2load run of `deno task bench:rpc`: every call must
 * have succeeded (h2load's counts, HTTP status, response bytes) and the
 * instance's GetStats deltas must agree. A server that died after the
 * measured window may lose the calls it had not answered yet, no more.
 *
 * @module
 */
import type { H2loadSummary } from "./bench_rpc_h2load.ts";

/** What the checks found about one run. */
export interface RunChecks {
  readonly problems: string[];
  /** Calls that did not succeed (lost ones included). */
  readonly failed: number;
  /** Calls after the window that failed because the server died (allowed, see checkRun). */
  readonly lost: number;
}

/**
 * The verdict on one run from h2load's summary, the good body size and
 * the GetStats deltas (before to the pause; before to after, if the
 * instance survived).
 *
 * `lostAllowed`: when the server died after the window (node:http2 aborts
 * when one h2load connection closes while others are busy), up to this
 * many calls, those that had not finished at the pause, may fail without
 * failing the case; the pause's GetStats vouches for every call before it.
 */
export function checkRun(o: {
  total: number;
  summary: H2loadSummary;
  bodyBytes: number;
  window: boolean;
  mid?: { requests: number; errors: number };
  after?: { requests: number; errors: number };
  lostAllowed?: number;
}): RunChecks {
  const problems: string[] = [];
  const r = o.summary.requests;
  const st = o.summary.status;
  const allowed = o.lostAllowed ?? 0;
  const non2xx = st["3xx"] + st["4xx"] + st["5xx"];
  const missing = Math.max(o.total - r.succeeded, o.total - st["2xx"], r.failed + r.timeout, 0);
  const lost = missing > 0 && missing <= allowed && non2xx === 0 ? missing : 0;
  if (lost === 0) {
    if (r.failed || r.errored || r.timeout) {
      problems.push(`h2load: ${r.failed} failed, ${r.errored} errored, ${r.timeout} timeout`);
    }
    if (r.succeeded !== o.total) problems.push(`h2load: ${r.succeeded} of ${o.total} succeeded`);
    if (st["2xx"] !== o.total) {
      problems.push(`HTTP status: ${st["2xx"]} 2xx of ${o.total} (${non2xx} 3xx/4xx/5xx)`);
    }
  }
  // Every answered call carried the message: exactly, or (with lost calls) at least every call
  // up to the pause and at most every 2xx.
  const bytes = o.summary.traffic.dataBytes;
  const least = (o.total - lost) * o.bodyBytes;
  const most = (lost ? st["2xx"] : o.total) * o.bodyBytes;
  if (bytes < least || bytes > most) {
    problems.push(
      `response bodies: ${bytes} bytes, want ${least === most ? least : `${least}..${most}`} ` +
        `(x ${o.bodyBytes}): some calls did not return the message`,
    );
  }
  if (!o.window) problems.push("no progress line at 20% or 90%: the window was not measured");
  let statsErrors = 0;
  if (o.mid) {
    statsErrors = o.mid.errors;
    if (o.mid.errors !== 0) problems.push(`GetStats: errors +${o.mid.errors} during the run`);
    if (o.mid.requests < 0.9 * o.total || o.mid.requests > o.total) {
      problems.push(
        `GetStats: requests +${o.mid.requests} at the pause, want ${0.9 * o.total}..${o.total}`,
      );
    }
  }
  if (o.after) {
    statsErrors = Math.max(statsErrors, o.after.errors);
    if (o.after.errors !== 0) problems.push(`GetStats: errors +${o.after.errors} after the run`);
    if (o.after.requests !== o.total) {
      problems.push(`GetStats: requests +${o.after.requests} after the run, want ${o.total}`);
    }
  }
  return { problems, failed: missing + statsErrors, lost };
}
