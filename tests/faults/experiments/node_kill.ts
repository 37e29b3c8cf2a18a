/**
 * SIGKILL of one Cassandra node under load, restarted after the fault time:
 * node 3 (not the instances' contact point) or node 1 (their only contact
 * point, and the seed). Done when: 0 acknowledged writes lost, 0 failed calls.
 *
 * @module
 */
import { at, check, type Experiment, hold, mixedLoadExperiment } from "../experiment.ts";
import { formatCodes } from "../result.ts";

/** The node-kill experiment for the contact node (node 1) or a non-contact node (node 3). */
export function nodeKill(which: "contact" | "non-contact"): Experiment {
  const index = which === "contact" ? 1 : 3;
  return mixedLoadExperiment({
    name: `node-kill-${which}`,
    path: "router",
    description: `SIGKILL of Cassandra node${index} (${which} node) under load, restarted after ` +
      "the fault time",
    async inject(ctx, mark) {
      const pid = (await ctx.stack.nodePids())[index - 1];
      Deno.kill(pid, "SIGKILL");
      mark(`SIGKILL node${index} (pid ${pid})`);
      await hold(ctx.config.faultMs);
      mark(`restarting node${index}`);
      await ctx.stack.healCluster();
      return { healAt: at(mark, "cluster ready (every node sees the others UP)") };
    },
    checks: (r) => [
      check("0 lost acknowledged writes", r.lostAcked === 0, r.lostAcked),
      check("0 failed calls", r.sent === r.ok, formatCodes(r.failedByCode)),
    ],
  });
}
