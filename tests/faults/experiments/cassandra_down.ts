/**
 * Cassandra fully down under load (SIGKILL of every node: a crash, not a
 * drain) and back after the fault time. Done when: 0 acknowledged writes
 * lost (every acknowledgement was on disk), calls fail fast with
 * UNAVAILABLE, readiness flips within ~1 s, calls succeed within ~2 s of the
 * cluster answering again (a second node serving CQL: LOCAL_QUORUM is possible;
 * `recoverFromQuorumMs`). The table's "recover" counts from all three nodes
 * ready.
 *
 * @module
 */
import { now } from "../clients.ts";
import { at, check, type Experiment, hold, mixedLoadExperiment } from "../experiment.ts";
import { formatCodes } from "../result.ts";

/** The cassandra-down experiment. */
export const cassandraDown: Experiment = mixedLoadExperiment({
  name: "cassandra-down",
  path: "router",
  description:
    "SIGKILL of all three Cassandra nodes under load, all restarted after the fault time",
  pollReadiness: true,
  async inject(ctx, mark) {
    const pids = await ctx.stack.nodePids();
    for (const pid of pids) Deno.kill(pid, "SIGKILL");
    mark(`SIGKILL all nodes (pids ${pids.join(", ")})`);
    await hold(ctx.config.faultMs);
    mark("restarting the cluster");
    // LOCAL_QUORUM (2 of 3 replicas) answers again once a second node serves CQL
    let serving = 0;
    let quorumAt: number | undefined;
    ctx.stack.onLauncherLine = (line) => {
      if (!/node\d .* serving CQL/.test(line)) return;
      mark(line.replace(/^db: /, ""));
      if (++serving === 2) quorumAt = now();
    };
    try {
      await ctx.stack.healCluster();
    } finally {
      ctx.stack.onLauncherLine = undefined;
    }
    const healAt = at(mark, "cluster ready (all three nodes)");
    return { healAt, quorumAt };
  },
  checks: (r) => {
    const slow = Object.entries(r.failedByCode)
      .filter(([code]) => code !== "UNAVAILABLE")
      .reduce((n, [, v]) => n + v, 0);
    return [
      check("0 lost acknowledged writes", r.lostAcked === 0, r.lostAcked),
      check("failures are UNAVAILABLE", slow === 0, formatCodes(r.failedByCode)),
      check(
        "readiness flips within 1.5 s",
        r.extra.readinessFlipMs !== null && Number(r.extra.readinessFlipMs) <= 1500,
        `${r.extra.readinessFlipMs} ms`,
      ),
      check(
        "recovers within 2 s of a quorum answering",
        r.extra.recoverFromQuorumMs !== null && Number(r.extra.recoverFromQuorumMs) <= 2000,
        `${r.extra.recoverFromQuorumMs} ms`,
      ),
    ];
  },
});
