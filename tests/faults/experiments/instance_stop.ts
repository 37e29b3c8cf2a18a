/**
 * kill -9 or SIGTERM of data-service instance 2 under load, through the
 * router client or through the gateway; the instance is started again after
 * the fault time. Done when: kill -9 fails nothing but UNAVAILABLE (calls in
 * flight on the killed instance); SIGTERM fails nothing; 0 lost writes.
 *
 * @module
 */
import { at, check, type Experiment, hold, mixedLoadExperiment } from "../experiment.ts";
import { formatCodes } from "../result.ts";

/** The instance-stop experiment for one signal and one path. */
export function instanceStop(
  signal: "SIGKILL" | "SIGTERM",
  path: "router" | "gateway",
): Experiment {
  const verb = signal === "SIGKILL" ? "kill9" : "sigterm";
  return mixedLoadExperiment({
    name: `instance-${verb}-${path}`,
    path,
    description: `${
      signal === "SIGKILL" ? "kill -9" : "SIGTERM"
    } of instance 2 under load through the ${path}, restarted after the fault time`,
    async inject(ctx, mark) {
      const target = ctx.stack.instances[1];
      mark(`${signal} ${target.name} (pid ${target.child?.pid})`);
      const code = await ctx.stack.signalProc(target, signal);
      mark(`${target.name} exited (code ${code})`);
      await hold(ctx.config.faultMs);
      mark(`restarting ${target.name}`);
      await ctx.stack.startProc(target);
      return { healAt: at(mark, `${target.name} ready`), extra: { exitCode: code } };
    },
    checks: (r) => {
      const notUnavailable = Object.entries(r.failedByCode)
        .filter(([code]) => code !== "UNAVAILABLE")
        .reduce((n, [, v]) => n + v, 0);
      return [
        check("0 lost acknowledged writes", r.lostAcked === 0, r.lostAcked),
        signal === "SIGKILL"
          ? check(
            "no failure other than UNAVAILABLE",
            notUnavailable === 0,
            formatCodes(r.failedByCode),
          )
          : check("0 failed calls", r.sent === r.ok, formatCodes(r.failedByCode)),
      ];
    },
  });
}
