/**
 * SIGSTOP of every Cassandra node under load, SIGCONT after the fault time.
 * Done when: calls bounded by the query timeout (5 s, plus 1 s of slack),
 * readiness flips within ~1 s, calls succeed again within ~2 s of SIGCONT,
 * 0 acknowledged writes lost.
 *
 * @module
 */
import { at, check, type Experiment, hold, mixedLoadExperiment } from "../experiment.ts";

/** Query timeout of the instances (server default `--query-timeout-ms`). */
const QUERY_TIMEOUT_MS = 5000;

/** The freeze-all experiment. */
export const freezeAll: Experiment = mixedLoadExperiment({
  name: "freeze-all-nodes",
  path: "router",
  description: "SIGSTOP of all three Cassandra nodes under load, SIGCONT after the fault time",
  pollReadiness: true,
  async inject(ctx, mark) {
    const pids = await ctx.stack.nodePids();
    try {
      for (const pid of pids) Deno.kill(pid, "SIGSTOP");
      mark(`SIGSTOP nodes (pids ${pids.join(", ")})`);
      await hold(ctx.config.faultMs);
    } finally {
      for (const pid of pids) Deno.kill(pid, "SIGCONT");
    }
    return { healAt: at(mark, "SIGCONT all nodes") };
  },
  checks: (r) => [
    check("0 lost acknowledged writes", r.lostAcked === 0, r.lostAcked),
    check(
      "calls bounded by the query timeout",
      r.maxLatencyMs <= QUERY_TIMEOUT_MS + 1000,
      `${r.maxLatencyMs} ms`,
    ),
    check(
      "readiness flips within 1.5 s",
      r.extra.readinessFlipMs !== null && Number(r.extra.readinessFlipMs) <= 1500,
      `${r.extra.readinessFlipMs} ms`,
    ),
    check("recovers within 2 s", r.recoverMs !== null && r.recoverMs <= 2000, `${r.recoverMs} ms`),
  ],
});
