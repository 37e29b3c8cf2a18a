/**
 * A write overload at one instance: `overloadWrites` CreateMessage calls, all
 * at once, over three HTTP/2 connections (a server takes at most 4096 streams
 * on one), from a load worker. Every acknowledged write is read back. Done when: 0 UNAVAILABLE
 * (an overloaded instance sheds with RESOURCE_EXHAUSTED, it is not "down"),
 * 0 acknowledged writes lost, /healthz answering throughout.
 *
 * @module
 */
import { check, type Experiment } from "../experiment.ts";
import { now } from "../clients.ts";
import { spawnLoad } from "../load_worker.ts";
import { longestSilenceMs, pollHttp, sampleRss } from "../monitor.ts";
import { countCodes, type ExperimentResult, instanceRss, maxLatency } from "../result.ts";
import { verifyAcked } from "../verify.ts";
import { probeUntilOk } from "./probe.ts";

/** The write-overload experiment. */
export const overloadWrites: Experiment = {
  name: "overload-writes",
  path: "direct",
  description: "concurrent CreateMessage, all at once, at instance 1 (connect-node, 3 connections)",
  async run(ctx) {
    const { stack, config } = ctx;
    const target = stack.instances[0];
    const rss = sampleRss(() => stack.pids());
    const healthz = pollHttp(`${stack.url(target)}/healthz`);
    const n = config.overloadWrites;
    const load = spawnLoad({
      experiment: this.name,
      target: { kind: "direct", url: stack.url(target), connections: 3 },
      load: { kind: "write-burst", count: n },
      firstChannel: String(ctx.firstChannel),
      seed: ctx.seed,
      seqStart: ctx.seqStart,
      timeoutMs: config.callTimeoutMs,
      knownFile: ctx.ackFile,
    }, ctx.onAck);
    await load.ready;
    const how = await load.exited;
    const burstEnd = now();
    const records = load.records;
    // the burst starts with its first call
    const t0 = records.reduce((m, r) => Math.min(m, r.start), burstEnd);
    const acked = load.acked;
    const recover = await probeUntilOk(ctx, target, 60_000);
    const polls = await healthz.stop();
    const peak = await rss.stop();
    const v = await verifyAcked(stack.verifier, acked);
    const counts = countCodes(records);
    const silence = longestSilenceMs(polls);
    const firstReject = records.filter((r) => r.code === "RESOURCE_EXHAUSTED")
      .reduce((m, r) => Math.min(m, r.end - t0), Infinity);
    const result: ExperimentResult = {
      experiment: this.name,
      path: this.path,
      description: this.description,
      ...counts,
      ackedWrites: acked.length,
      lostAcked: v.lost.length,
      lostAfterRepair: v.lostAfterRepair,
      recoverMs: recover.ms,
      ...instanceRss(peak, [target.name]),
      rssMbByProcess: peak,
      maxLatencyMs: maxLatency(records),
      timeline: [
        { atMs: 0, event: `${n} CreateMessage at ${target.name}` },
        { atMs: Math.round(burstEnd - t0), event: "every call answered" },
      ],
      extra: {
        firstResourceExhaustedMs: Number.isFinite(firstReject) ? Math.round(firstReject) : null,
        healthzLongestSilenceMs: silence,
        unverifiedReads: v.unverified,
        instanceAlive: target.alive ? "yes" : "no (exited)",
        loadClient: how,
      },
      checks: [
        check(
          "0 UNAVAILABLE",
          (counts.failedByCode.UNAVAILABLE ?? 0) === 0,
          counts.failedByCode.UNAVAILABLE ?? 0,
        ),
        check("0 lost acknowledged writes", v.lost.length === 0, v.lost.length),
        check("/healthz answering throughout", silence <= 1000, `longest silence ${silence} ms`),
        check("instance still running", target.alive, target.alive),
        check("the load client ran to the end", how === "exit 0", how),
      ],
      durationMs: Math.round(now() - t0),
    };
    return result;
  },
};
