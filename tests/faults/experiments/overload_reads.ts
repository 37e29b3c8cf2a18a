/**
 * A read overload at one instance: `overloadReads` GetMessage calls on
 * distinct keys, all at once, from h2load (Connect GET, one key per URL), so
 * the client is not the bottleneck. Done when: the first RESOURCE_EXHAUSTED
 * within 100 ms, /healthz answering throughout (no gap over 1 s), RSS under
 * 500 MB, and 0 UNAVAILABLE for admitted reads.
 *
 * NOT_FOUND is the right answer for these keys (nothing was written there):
 * it counts as ok.
 *
 * @module
 */
import { now } from "../clients.ts";
import { check, type Experiment } from "../experiment.ts";
import { getMessageUrl, runH2loadBurst } from "../h2load.ts";
import { longestSilenceMs, pollHttp, sampleRss } from "../monitor.ts";
import { type ExperimentResult, instanceRss } from "../result.ts";
import { probeUntilOk } from "./probe.ts";

/** The read-overload experiment. */
export const overloadReads: Experiment = {
  name: "overload-reads",
  path: "h2load",
  description:
    "distinct GetMessage reads, all at once, at instance 1's fast listener (h2load, Connect GET)",
  async run(ctx) {
    const { stack, config } = ctx;
    const target = stack.instances[0];
    const base = stack.url(target);
    // The fast listener: where the router client, the gateway and the load CLI send calls. (On
    // the main port Deno 2.9.6's node:http2 aborted the process mid-burst: 2026-12-01, first
    // RESOURCE_EXHAUSTED after 334 ms, then SIGABRT, 41,926 of 50,000 never answered.)
    const fast = stack.fastUrl(target);
    const n = config.overloadReads;
    const urls = Array.from(
      { length: n },
      (_, i) => getMessageUrl(fast, ctx.firstChannel + BigInt(i), BigInt(1 + i)),
    );
    const rss = sampleRss(() => stack.pids());
    const healthz = pollHttp(`${base}/healthz`);
    const t0 = now();
    const timeline = [{ atMs: 0, event: `h2load: ${n} distinct reads at ${target.name}` }];
    const burst = await runH2loadBurst({ urls, dir: ctx.dir, timeoutMs: 240_000 });
    const burstEnd = now();
    timeline.push({ atMs: Math.round(burstEnd - t0), event: "h2load done" });
    const recover = await probeUntilOk(ctx, target, 60_000);
    const polls = await healthz.stop();
    const peak = await rss.stop();
    const ok = (burst.byCode.OK ?? 0) + (burst.byCode.NOT_FOUND ?? 0);
    const failedByCode: Record<string, number> = {};
    for (const [code, count] of Object.entries(burst.byCode)) {
      if (code !== "OK" && code !== "NOT_FOUND") failedByCode[code] = count;
    }
    if (burst.noAnswer) failedByCode.NO_ANSWER = burst.noAnswer;
    const firstReject = burst.firstByCodeMs.RESOURCE_EXHAUSTED ?? null;
    const silence = longestSilenceMs(polls);
    const result: ExperimentResult = {
      experiment: this.name,
      path: this.path,
      description: this.description,
      sent: n,
      ok,
      failedByCode,
      ackedWrites: 0,
      lostAcked: null,
      lostAfterRepair: null,
      recoverMs: recover.ms,
      ...instanceRss(peak, [target.name]),
      rssMbByProcess: peak,
      maxLatencyMs: burst.lastAnswerMs ?? 0,
      timeline,
      extra: {
        h2loadProcesses: burst.processes,
        h2loadFailed: burst.failedProcesses,
        firstAnswerMs: burst.firstAnswerMs,
        firstResourceExhaustedMs: firstReject,
        lastAnswerMs: burst.lastAnswerMs,
        healthzLongestSilenceMs: silence,
        healthzPolls: polls.length,
        healthzFailed: polls.filter((p) => p.status !== 200).length,
        instanceAlive: target.alive ? "yes" : "no (exited)",
      },
      checks: [
        check(
          "first RESOURCE_EXHAUSTED within 100 ms",
          firstReject !== null && firstReject <= 100,
          `${firstReject} ms`,
        ),
        check("/healthz answering throughout", silence <= 1000, `longest silence ${silence} ms`),
        check("RSS under 500 MB", (peak[target.name] ?? 0) < 500, `${peak[target.name]} MB`),
        check(
          "0 UNAVAILABLE for admitted reads",
          (failedByCode.UNAVAILABLE ?? 0) === 0,
          failedByCode.UNAVAILABLE ?? 0,
        ),
        check("instance still running", target.alive, target.alive),
      ],
      durationMs: Math.round(now() - t0),
    };
    return result;
  },
};
