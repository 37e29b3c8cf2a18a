/**
 * A write overload at one instance: `overloadWrites` CreateMessage calls, all
 * at once, over three HTTP/2 connections (a server takes at most 4096 streams
 * on one). Every acknowledged write is read back. Done when: 0 UNAVAILABLE
 * (an overloaded instance sheds with RESOURCE_EXHAUSTED, it is not "down"),
 * 0 acknowledged writes lost, /healthz answering throughout.
 *
 * @module
 */
import { check, type Experiment } from "../experiment.ts";
import { type AckedWrite, errorCode, type OpRecord } from "../load.ts";
import { longestSilenceMs, pollHttp, sampleRss } from "../monitor.ts";
import { countCodes, type ExperimentResult, maxLatency } from "../result.ts";
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
    const clients = [0, 1, 2].map(() => stack.directClient(stack.url(target)));
    const rss = sampleRss(() => stack.pids());
    const healthz = pollHttp(`${stack.url(target)}/healthz`);
    const records: OpRecord[] = [];
    const acked: AckedWrite[] = [];
    const t0 = performance.now();
    const n = config.overloadWrites;
    await Promise.all(Array.from({ length: n }, async (_, i) => {
      const seq = ctx.seq.next++;
      const channelId = ctx.firstChannel + BigInt(i % 1000);
      const start = performance.now();
      let code = "OK";
      try {
        const r = await clients[i % 3].client.createMessage(
          { channelId, authorId: 8n, content: `fault overload-writes #${seq}` },
          { timeoutMs: config.callTimeoutMs },
        );
        const w: AckedWrite = {
          experiment: "overload-writes",
          channelId: String(channelId),
          messageId: String(r.message?.messageId),
          seq,
          at: performance.now(),
        };
        acked.push(w);
        ctx.known.push(w);
        ctx.onAck(w);
      } catch (e) {
        code = errorCode(e);
      }
      records.push({ kind: "write", start, end: performance.now(), code });
    }));
    const burstEnd = performance.now();
    for (const c of clients) await c.close();
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
      peakRssMb: peak[target.name] ?? 0,
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
      ],
      durationMs: Math.round(performance.now() - t0),
    };
    return result;
  },
};
