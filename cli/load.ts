/**
 * `deno task load`: the original client's coalescing demo, made correct and
 * useful as a load generator.
 *
 * It sends `--requests` reads over `--channels` channels (request i asks
 * channel `(i % channels) + 1`), all at once by default like the original,
 * or on an open-loop schedule (`--rps`, `--duration`) or with a concurrency
 * cap; routes them with the jump-hash router client (or round-robin, random,
 * single, or a gateway); and reports what the servers did from `GetStats`
 * deltas taken before and after the run on every instance. Those counters
 * are never reset, so two runs at once cannot corrupt each other (the
 * original's get-and-reset could), although each run's deltas then include
 * the other's traffic.
 *
 * ```sh
 * deno task load --channels 20 --requests 10000
 * deno task load --rps 2000 --duration 30s --method history --format json
 * ```
 *
 * Programmatic use: {@linkcode runLoad}.
 *
 * @module
 */
import process from "node:process";
import { answerHelpAndErrors } from "../lib/flags.ts";
import { onShutdown } from "../lib/shutdown.ts";
import {
  DEFAULT_TARGETS,
  DEFAULTS,
  FlagError,
  LOAD,
  type LoadOptions,
  parseLoadArgs,
} from "./load_flags.ts";
import { LoadError, openTargets } from "./load_targets.ts";
import { mergeParts, type PartResult, sendPart, usableParts, WHOLE } from "./load_part.ts";
import { startWorkers } from "./load_workers.ts";
import { type DnsResolver, isDnsTarget, resolveDnsTarget } from "../router/dns.ts";
import { createProgressLine, type Progress } from "./load_progress.ts";
import { type Clock, plannedRequests, runPaced } from "./pacing.ts";
import { buildReport, formatJson, type LoadReport } from "./report.ts";
import { formatText } from "./report_text.ts";

export { FlagError, LoadError, type LoadOptions, type LoadReport };

/** Hooks of {@linkcode runLoad}. */
export interface RunHooks {
  /** Stops sending; the report covers what was sent (marked interrupted). */
  readonly signal?: AbortSignal;
  /** Called when the measured run starts, with a function that reads its progress. */
  readonly onStart?: (read: () => Progress) => void;
  /** Clock of the pacer (tests). */
  readonly clock?: Clock;
  /** DNS lookups for a `dns:` target (tests; default `Deno.resolveDns`). */
  readonly resolver?: DnsResolver;
}

/**
 * Runs one load and returns its report. Options not given take the
 * defaults of the command line (20 channels, 10000 requests all at once,
 * GetMessage over binary Connect, jump routing over 127.0.0.1:50051 and :50052).
 *
 * @throws {LoadError} if an instance does not answer GetStats before or
 *   after the run (unreachable, wrong service).
 * @throws {RangeError} on contradicting options (e.g. a duration with no rate
 *   and no concurrency).
 *
 * @example
 * ```ts
 * const report = await runLoad({ targets: ["127.0.0.1:50051"], requests: 2000, method: "history" });
 * console.log(report.totalQueries, report.client.failed);
 * ```
 */
export async function runLoad(
  init: Partial<LoadOptions> = {},
  hooks: RunHooks = {},
): Promise<LoadReport> {
  let o: LoadOptions = {
    channels: DEFAULTS.channels,
    timeoutMs: DEFAULTS.timeoutMs,
    connections: DEFAULTS.connections,
    protocol: DEFAULTS.protocol,
    routing: DEFAULTS.routing,
    targets: DEFAULT_TARGETS,
    method: DEFAULTS.method,
    warmup: DEFAULTS.warmup,
    workers: DEFAULTS.workers,
    // An explicit `undefined` keeps the default.
    ...Object.fromEntries(Object.entries(init).filter(([, v]) => v !== undefined)),
    requests: init.requests ?? (init.durationMs === undefined ? DEFAULTS.requests : undefined),
  };
  const pacing = {
    total: o.requests,
    rps: o.rps,
    durationMs: o.durationMs,
    concurrency: o.concurrency,
    signal: hooks.signal,
    clock: hooks.clock,
  };
  const planned = plannedRequests(pacing); // throws RangeError on impossible options
  if (o.targets.length === 1 && isDnsTarget(o.targets[0])) {
    // Resolved once: the GetStats deltas need the same instances before and after.
    try {
      o = { ...o, targets: await resolveDnsTarget(o.targets[0], { resolver: hooks.resolver }) };
    } catch (error) {
      throw new LoadError(`Cannot resolve --targets ${o.targets[0]}: ${(error as Error).message}`);
    }
  }
  // Health changes the jump router saw while measuring: each one moves channels.
  const healthChanges: string[] = [];
  let measuring = false;
  let cleanup: (() => void) | undefined;
  const targets = openTargets({
    ...o,
    onHealthChange: (c) => {
      if (!measuring) return;
      const why = c.error ? ` (${c.reason}: ${c.error.message})` : ` (${c.reason})`;
      healthChanges.push(`${c.instance.id} ${c.up ? "up" : "down"}${why}`);
    },
  });
  try {
    // Reachability first, so a wrong target fails in one clear line.
    await targets.readStats();

    // The senders: this thread, or workers that connect and warm up first.
    const parts = o.workers > 1 && hooks.clock === undefined ? usableParts(o.workers, pacing) : 1;
    let run: () => Promise<PartResult>;
    let progress: () => { done: number; failed: number };
    let warmup = { sent: 0, failed: 0 };
    let stopWorkers: (() => void) | undefined;
    if (parts > 1) {
      const pool = await startWorkers(o, parts);
      cleanup = pool.close;
      warmup = pool.warmup;
      progress = pool.progress;
      stopWorkers = pool.stop;
      run = async () => mergeParts(await pool.run((change) => healthChanges.push(change)));
    } else {
      if (o.warmup > 0) {
        const w = await runPaced(
          { total: o.warmup, concurrency: o.concurrency, signal: hooks.signal, clock: hooks.clock },
          (i) => targets.call(i),
          (c) => c.ok || warmup.failed++,
        );
        warmup.sent = w.sent;
      }
      const counts = new Int32Array(2);
      progress = () => ({ done: counts[0], failed: counts[1] });
      run = () => sendPart((i) => targets.call(i), pacing, WHOLE, counts);
    }

    const before = await targets.readStats();
    const clock = hooks.clock ?? { now: () => performance.now() };
    const started = clock.now();
    hooks.onStart?.(() => {
      const p = progress();
      return { done: p.done, total: planned, errors: p.failed, elapsedMs: clock.now() - started };
    });
    const onAbort = () => stopWorkers?.();
    hooks.signal?.addEventListener("abort", onAbort, { once: true });
    if (hooks.signal?.aborted) onAbort();
    measuring = true;
    const cpuBefore = process.cpuUsage();
    let result: PartResult;
    try {
      result = await run();
    } finally {
      hooks.signal?.removeEventListener("abort", onAbort);
    }
    const cpu = process.cpuUsage(cpuBefore);
    measuring = false;
    // An instance that died during the run must not cost the whole report.
    const { snapshots: after, failures } = await targets.readStatsPartial();

    return buildReport({
      config: {
        method: o.method,
        protocol: o.protocol,
        routing: o.gateway === undefined ? o.routing : "gateway",
        targets: [...o.targets],
        gateway: o.gateway,
        channels: o.channels,
        requests: o.requests,
        concurrency: o.concurrency,
        rps: o.rps,
        durationMs: o.durationMs,
        timeoutMs: o.timeoutMs > 0 ? o.timeoutMs : undefined,
        warmup: o.warmup,
        workers: parts,
      },
      before,
      after,
      missing: failures.map((f) => f.message),
      healthChanges,
      totalTimeMs: result.endEpochMs - result.startEpochMs,
      cpuMicros: cpu.user + cpu.system,
      latencies: result.latencies,
      failed: result.failed,
      errors: result.errors,
      errorSamples: result.samples,
      sent: result.sent,
      unique: Math.min(o.channels, result.sent),
      warmup,
      interrupted: result.interrupted,
    });
  } finally {
    cleanup?.();
    await targets.close();
  }
}

/**
 * The command line: runs the load, prints the report on stdout and returns
 * the exit code: 0 ok, 1 failed requests (without --allow-errors) or an
 * unreachable target, 2 bad flags, 130 interrupted by Ctrl-C (after the
 * report of what was sent).
 */
export async function main(args: readonly string[]): Promise<number> {
  const command = answerHelpAndErrors(LOAD, () => parseLoadArgs(args));
  if (typeof command === "number") return command;
  const abort = new AbortController();
  // Ctrl-C stops sending; main returns 130 after the report. A second one quits at once.
  const shutdown = onShutdown({
    signals: ["SIGINT"],
    exitWhenDone: false,
    onFirst: () => {
      console.error("\ninterrupted: waiting for requests in flight (Ctrl-C again to quit now)");
      abort.abort();
    },
  });
  const progress = createProgressLine();
  let report: LoadReport;
  try {
    report = await runLoad(command.options, {
      signal: abort.signal,
      onStart: (read) => progress.start(read),
    });
  } catch (err) {
    progress.stop();
    if (err instanceof LoadError || err instanceof RangeError) {
      console.error(`error: ${err.message}`);
      return 1;
    }
    throw err;
  } finally {
    progress.stop();
    shutdown.dispose();
  }
  console.log(command.format === "json" ? formatJson(report) : formatText(report));
  if (report.client.interrupted) return 130;
  if (report.client.failed > 0 && !command.allowErrors) {
    console.error(
      `error: ${report.client.failed} of ${report.client.sent} requests failed ` +
        "(--allow-errors to exit 0 anyway)",
    );
    return 1;
  }
  return 0;
}

if (import.meta.main) {
  Deno.exitCode = await main(Deno.args);
}
