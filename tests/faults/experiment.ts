/**
 * What an experiment is, what it gets from the runner, and the shape most of
 * them share: a mixed load through the router client or the gateway, a
 * fault injected after a while and healed, more load, then every write
 * acknowledged during the experiment read back at LOCAL_QUORUM.
 *
 * @module
 */
import type { FaultConfig } from "./config.ts";
import { now } from "./clients.ts";
import type { AckedWrite, OpRecord } from "./load.ts";
import { type LoadWorker, spawnLoad } from "./load_worker.ts";
import { firstNot200After, type Poll, pollHttp, sampleRss } from "./monitor.ts";
import {
  type Check,
  countCodes,
  type ExperimentResult,
  firstFailureAfter,
  instanceRss,
  lastFailureAfter,
  latencyPercentiles,
  maxLatency,
  recoveryMs,
} from "./result.ts";
import type { Stack } from "./stack.ts";
import { verifyAcked } from "./verify.ts";

/** Up to three distinct "CODE: message" lines of the failed calls. */
function errorSamples(records: OpRecord[]): string | null {
  const seen = new Set<string>();
  for (const r of records) {
    if (r.code !== "OK" && seen.size < 3) seen.add(`${r.code}: ${r.message ?? "?"}`);
  }
  return seen.size ? [...seen].join(" | ") : null;
}

/** What the runner hands every experiment. */
export interface ExperimentContext {
  stack: Stack;
  config: FaultConfig;
  log: (line: string) => void;
  /** Every write acknowledged so far in the run. */
  known: AckedWrite[];
  /** The JSONL file every acknowledged write is appended to (load workers read from it). */
  ackFile: string;
  /** Logs an acknowledged write (appends it to `known` and to `ackFile`). */
  onAck: (w: AckedWrite) => void;
  /** First sequence number of this experiment's writes (ranges disjoint per experiment). */
  seqStart: number;
  /** Seed of this experiment's load. */
  seed: number;
  /** First channel id this experiment writes to (disjoint ranges per experiment). */
  firstChannel: bigint;
  /** Scratch directory of this experiment. */
  dir: string;
}

/** One experiment of the suite. */
export interface Experiment {
  name: string;
  /** `router`, `gateway`, `direct`, `h2load`. */
  path: string;
  description: string;
  run(ctx: ExperimentContext): Promise<ExperimentResult>;
}

/** Resolves after `ms`: experiments hold a fault for a set time. */
export const hold = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A check: `name` passes when `pass`; `detail` is the measured value. */
export function check(name: string, pass: boolean, detail: unknown): Check {
  return { name, pass, detail: String(detail) };
}

/** What an injection returns: when the fault was healed ({@link now}). */
export interface Injected {
  healAt: number;
  /** When a quorum of replicas answered again, if the injection knows (whole-cluster faults). */
  quorumAt?: number;
  extra?: Record<string, number | string | null>;
}

/** Options of {@link mixedLoadExperiment}. */
export interface MixedLoadExperiment {
  name: string;
  path: "router" | "gateway";
  description: string;
  /** Injects the fault and heals it; `mark` adds a timeline event. */
  inject(ctx: ExperimentContext, mark: (event: string) => void): Promise<Injected>;
  /** Also poll each instance's /readyz (readiness flip). */
  pollReadiness?: boolean;
  /** The criteria, evaluated on the finished result. */
  checks(r: ExperimentResult): Check[];
}

/** Builds an {@link Experiment} of the common shape (see the module doc). */
export function mixedLoadExperiment(e: MixedLoadExperiment): Experiment {
  return {
    name: e.name,
    path: e.path,
    description: e.description,
    async run(ctx) {
      const { stack, config } = ctx;
      const rss = sampleRss(() => stack.pids());
      const pollers = e.pollReadiness
        ? stack.instances.map((i) => pollHttp(`${stack.url(i)}/readyz`))
        : [];
      const t0 = now();
      const timeline: { atMs: number; event: string }[] = [];
      const mark = (event: string) => {
        timeline.push({ atMs: Math.round(now() - t0), event });
        ctx.log(`  ${e.name}: ${event}`);
      };
      let injected: Injected | undefined;
      let error: string | undefined;
      let faultAt = t0;
      const load: LoadWorker = spawnLoad({
        experiment: e.name,
        target: e.path === "router"
          ? { kind: "router", instances: stack.instanceAddrs() }
          : { kind: "direct", url: stack.url(stack.gateway), connections: 1 },
        load: {
          kind: "mixed",
          concurrency: config.concurrency,
          writeRatio: config.writeRatio,
          channels: config.channels,
        },
        firstChannel: String(ctx.firstChannel),
        seed: ctx.seed,
        seqStart: ctx.seqStart,
        timeoutMs: config.callTimeoutMs,
        knownFile: ctx.ackFile,
      }, ctx.onAck);
      let loadEnd: string | undefined;
      load.exited.then((how) => {
        loadEnd = how;
        mark(`load client ended: ${how}`);
      });
      try {
        await load.ready;
        await hold(config.beforeMs);
        faultAt = now();
        injected = await e.inject(ctx, mark);
        await hold(config.afterMs);
      } catch (err) {
        error = (err as Error).message;
        mark(`error: ${error}`);
      }
      const how = loadEnd ?? await load.stop();
      const polls: Poll[][] = [];
      for (const p of pollers) polls.push(await p.stop());
      const peak = await rss.stop();
      const records = load.records;
      const acked = load.acked;
      const v = error ? undefined : await verifyAcked(stack.verifier, acked);
      const flips = polls.map((p) => firstNot200After(p, faultAt)).filter((x) => x !== undefined);
      const result: ExperimentResult = {
        experiment: e.name,
        path: e.path,
        description: e.description,
        ...countCodes(records),
        ackedWrites: acked.length,
        lostAcked: v ? v.lost.length : null,
        lostAfterRepair: v ? v.lostAfterRepair : null,
        recoverMs: injected ? recoveryMs(records, injected.healAt) ?? null : null,
        ...instanceRss(peak, stack.instances.map((i) => i.name)),
        rssMbByProcess: peak,
        maxLatencyMs: maxLatency(records),
        timeline,
        extra: {
          ...latencyPercentiles(records),
          firstFailureMs: firstFailureAfter(records, faultAt) ?? null,
          lastFailureMs: lastFailureAfter(records, faultAt) ?? null,
          ...injected?.extra,
          ...(injected?.quorumAt !== undefined
            ? { recoverFromQuorumMs: recoveryMs(records, injected.quorumAt) ?? null }
            : {}),
          ...(e.pollReadiness ? { readinessFlipMs: flips.length ? Math.min(...flips) : null } : {}),
          loadClient: how,
          errorSamples: errorSamples(records),
          unverifiedReads: v?.unverified ?? null,
          lostSeqs: v?.lost.slice(0, 20).map((w) => w.seq).join(" ") || null,
        },
        checks: [],
        error,
        durationMs: Math.round(now() - t0),
      };
      if (!error) {
        result.checks = [
          ...e.checks(result),
          check("the load client ran to the end", how === "exit 0", how),
        ];
      }
      return result;
    },
  };
}

/** Marks `event` and returns its time ({@link now}). */
export function at(mark: (event: string) => void, event: string): number {
  mark(event);
  return now();
}
