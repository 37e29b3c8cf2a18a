/**
 * One measured case of `deno task bench:rpc`: an h2load run against a
 * server pinned to its own CPU, the server's CPU time read at two of
 * h2load's progress lines, and every call checked.
 *
 * The run's first 20% is the warm-up; the measured window runs from the
 * `progress: 20% done` line to the `progress: 90% done` line, where the
 * server's CPU time (`/proc/PID/stat`, all threads) is read at once. Then
 * h2load is paused (SIGSTOP) while the instance's `GetStats` settles and is
 * read, and let go. Why not a separate warm-up run and a read after h2load
 * exits: under Deno 2.9.6, node:http2 aborts the instance (nghttp2
 * assertion `find_stream_on_goaway_func`) when h2load closes its
 * connections, so after a run on the main port over h2c there is usually
 * no process left to read.
 *
 * Every call must have succeeded (bench_rpc_checks.ts): h2load's failed, errored and timeout
 * counts 0, every status 2xx, exactly `total x` the probed good body size in
 * response bytes (gRPC answers errors with HTTP 200 and no message), and
 * the instance's `errors` counter unchanged.
 *
 * @module
 */
import { type H2loadControl, type H2loadSummary, runH2load } from "./bench_rpc_h2load.ts";
import {
  h2loadArgs,
  planRun,
  type RpcCase,
  type RpcProtocol,
  type RunPlan,
} from "./bench_rpc_cases.ts";
import { type InstanceStats, readErrorCodes, readStats, waitQuiet } from "./bench_rpc_instance.ts";
import { bodyFile, expectedBodyBytes } from "./bench_rpc_bodies.ts";
import { checkRun } from "./bench_rpc_checks.ts";
import { errorCodesSince, type MeasuredServer } from "./bench_rpc_servers.ts";
import { type CpuTime, readProcessCpu } from "./proc_cpu.ts";

/** Settings shared by every case. */
export interface MeasureSettings {
  /** Calls to measure per case (the run is longer: see planRun). */
  readonly requests: number;
  /** CPU list for h2load (`taskset -c`). */
  readonly clientCpus: string;
  /** Where request bodies are written for h2load's `-d`. */
  readonly workDir: string;
  /** Bound on one h2load run. */
  readonly h2loadTimeoutMs: number;
  /** Re-runs of a case whose server died before its window closed. */
  readonly retries: number;
  readonly signal?: AbortSignal;
  readonly log: (line: string) => void;
}

/** Per-case checks and figures. */
export interface CaseResult {
  readonly name: string;
  readonly protocol: RpcProtocol;
  readonly http: "h2c" | "h1";
  readonly port: RpcCase["port"];
  /** Every check passed. */
  readonly ok: boolean;
  /** Why not, one line each. */
  readonly problems: readonly string[];
  /** Calls that did not succeed, as far as any check could count them. */
  readonly failed: number;
  /**
   * Of those, calls after the window lost because the server died (it was
   * then started again): allowed, the window's calls were all checked.
   */
  readonly lostAfterWindow: number;
  /** Calls finished inside the window, per second of it. */
  readonly callsPerSecond: number | null;
  /**
   * Server CPU in the window per call, µs: the threads' schedstat clock
   * (ns), or user + system ticks of /proc/PID/stat where schedstat is missing.
   */
  readonly serverUsPerCall: number | null;
  /** The same from /proc/PID/stat's utime + stime (10 ms ticks), as a cross-check. */
  readonly serverUsPerCallFromTicks: number | null;
  /** serverUsPerCall / the floor's (set by the bench). */
  ratioToFloor: number | null;
  readonly plan: RunPlan;
  readonly windowMs: number | null;
  readonly serverCpuMs: number | null;
  /** Size of one good response body (bytes), from the probe. */
  readonly bodyBytes: number;
  readonly h2load: H2loadSummary | null;
  /** GetStats deltas from before the run to the pause at 90% (instances only). */
  readonly stats: { readonly requests: number; readonly errors: number } | null;
  /** The server died after the window (when an h2load connection closed). */
  readonly crashedAtClose: boolean;
  /** Runs of this case (more than 1 after a crash inside the window). */
  readonly attempts: number;
  readonly command: string;
  /** Things worth knowing that are not failures. */
  readonly notes: readonly string[];
}

const sub = (a: InstanceStats, b: InstanceStats, k: "requests" | "errors") => a[k] - b[k];

/**
 * Runs one case (again after a crash inside its window, up to `retries`).
 * Never throws for a failed check: the result says what failed.
 */
export async function measureCase(
  c: RpcCase,
  server: MeasuredServer,
  /** The instance's main URL now (it probes the floor's good body). */
  instanceUrl: () => string,
  s: MeasureSettings,
  hooks: { atPause?: () => Promise<void> } = {},
): Promise<CaseResult> {
  const plan = planRun(s.requests);
  const notes: string[] = [];
  for (let attempt = 1;; attempt++) {
    if (await server.ensureRunning()) notes.push("server restarted before the run");
    const url = server.baseUrl(c);
    const bodyBytes = await expectedBodyBytes(c, url, instanceUrl());
    const args = h2loadArgs(c.protocol, c.http, {
      baseUrl: url,
      total: plan.total,
      bodyFile: await bodyFile(s.workDir, c.protocol),
    });
    const pid = server.pid;
    const before = server.statsUrl ? await readStats(server.statsUrl) : undefined;
    const codesBefore = server.statsUrl ? await readErrorCodes(server.statsUrl) : {};
    let cpu0: CpuTime | undefined, cpu1: CpuTime | undefined, t0 = 0, t1 = 0;
    let mid: InstanceStats | undefined;
    let midError: string | undefined;
    const onProgress = async (p: number, control: H2loadControl) => {
      if (p === plan.startTenth * 10) {
        cpu0 = readProcessCpu(pid);
        t0 = performance.now();
      } else if (p === plan.endTenth * 10) {
        cpu1 = readProcessCpu(pid);
        t1 = performance.now();
        if (!server.statsUrl) return;
        control.pause();
        try {
          mid = await waitQuiet(server.statsUrl, { timeoutMs: 15_000 });
        } catch (err) {
          midError = (err as Error).message;
        }
        await hooks.atPause?.();
        control.resume();
      }
    };
    s.log(`  ${c.name}: h2load -n ${plan.total} (measuring ${plan.measured}) -> ${url}`);
    const run = await runH2load({
      args,
      cpus: s.clientCpus,
      timeoutMs: s.h2loadTimeoutMs,
      onProgress,
      signal: s.signal,
    });
    const crashed = await server.exitsWithin(300);
    const after = !crashed && server.statsUrl ? await readStats(server.statsUrl) : undefined;
    const windowOk = cpu0 !== undefined && cpu1 !== undefined;
    const diedInWindow = crashed && (!windowOk || (server.statsUrl !== undefined && !mid));
    if (diedInWindow && attempt <= s.retries) {
      notes.push(
        `attempt ${attempt}: the server died inside the window (${
          server.lastDeath.at(-1) ?? "no log"
        }); ran again`,
      );
      s.log(`  ${c.name}: server died inside the window; again`);
      continue;
    }
    const checks = checkRun({
      total: plan.total,
      summary: run.summary,
      bodyBytes,
      window: windowOk,
      lostAllowed: crashed && before && mid ? plan.total - sub(mid, before, "requests") : 0,
      mid: before && mid
        ? { requests: sub(mid, before, "requests"), errors: sub(mid, before, "errors") }
        : undefined,
      after: before && after
        ? { requests: sub(after, before, "requests"), errors: sub(after, before, "errors") }
        : undefined,
    });
    const problems = [...checks.problems];
    if (server.statsUrl && before && (mid ?? after) && sub((after ?? mid)!, before, "errors") > 0) {
      problems.push(`error codes: ${await errorCodesSince(server, codesBefore)}`);
    }
    if (midError) problems.push(`GetStats at the pause: ${midError}`);
    if (server.statsUrl && before && mid && mid.startedAt !== before.startedAt) {
      problems.push("the instance restarted during the run");
    }
    if (crashed) {
      notes.push(
        `the server died after the window (${checks.lost} calls after it lost): ${
          server.lastDeath.at(-1) ?? "no log"
        }`,
      );
    }
    const windowMs = windowOk ? t1 - t0 : null;
    const ticksMs = windowOk ? cpu1!.ms - cpu0!.ms : null;
    const cpuMs = windowOk && cpu0!.threadsNs !== undefined && cpu1!.threadsNs !== undefined
      ? (cpu1!.threadsNs - cpu0!.threadsNs) / 1e6
      : ticksMs;
    if (cpuMs !== null && ticksMs !== null && Math.abs(cpuMs - ticksMs) > 30 + 0.05 * ticksMs) {
      notes.push(
        `schedstat (${cpuMs.toFixed(1)} ms) and stat ticks (${ticksMs} ms) disagree: ` +
          "threads came or went inside the window",
      );
    }
    return {
      name: c.name,
      protocol: c.protocol,
      http: c.http,
      port: c.port,
      ok: problems.length === 0,
      problems,
      failed: checks.failed,
      lostAfterWindow: checks.lost,
      callsPerSecond: windowMs ? plan.measured / (windowMs / 1000) : null,
      serverUsPerCall: cpuMs === null ? null : (cpuMs * 1000) / plan.measured,
      serverUsPerCallFromTicks: ticksMs === null ? null : (ticksMs * 1000) / plan.measured,
      ratioToFloor: null,
      plan,
      windowMs,
      serverCpuMs: cpuMs,
      bodyBytes,
      h2load: run.summary,
      stats: before && mid
        ? { requests: sub(mid, before, "requests"), errors: sub(mid, before, "errors") }
        : null,
      crashedAtClose: crashed,
      attempts: attempt,
      command: run.command,
      notes,
    };
  }
}

/** A case that could not even run (probe failed, h2load missing, ...). */
export function brokenCase(c: RpcCase, requests: number, err: unknown): CaseResult {
  return {
    name: c.name,
    protocol: c.protocol,
    http: c.http,
    port: c.port,
    ok: false,
    problems: [(err as Error).message ?? String(err)],
    failed: 0,
    lostAfterWindow: 0,
    callsPerSecond: null,
    serverUsPerCall: null,
    serverUsPerCallFromTicks: null,
    ratioToFloor: null,
    plan: planRun(requests),
    windowMs: null,
    serverCpuMs: null,
    bodyBytes: 0,
    h2load: null,
    stats: null,
    crashedAtClose: false,
    attempts: 1,
    command: "",
    notes: [],
  };
}
