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
 * Every call must have succeeded: h2load's failed, errored and timeout
 * counts 0, every status 2xx, exactly `total x` the probed good body size in
 * response bytes (gRPC answers errors with HTTP 200 and no message), and
 * the instance's `errors` counter unchanged.
 *
 * @module
 */
import { writeFile } from "node:fs/promises";
import { type H2loadControl, type H2loadSummary, runH2load } from "./bench_rpc_h2load.ts";
import {
  h2loadArgs,
  planRun,
  requestFor,
  type RpcCase,
  type RpcProtocol,
  type RunPlan,
} from "./bench_rpc_cases.ts";
import {
  codesDelta,
  type InstanceStats,
  readErrorCodes,
  readStats,
  waitQuiet,
} from "./bench_rpc_instance.ts";
import { probe } from "./bench_rpc_probe.ts";
import { type CpuTime, readProcessCpu } from "./proc_cpu.ts";

/** What a case runs against: an instance (main or fast port) or the floor. */
export interface MeasuredServer {
  /** `http://host:port` a case of this port kind sends to. */
  baseUrl(c: RpcCase): string;
  /** The process whose CPU is measured. */
  readonly pid: number;
  /** Where GetStats is read (an instance's main port); undefined for the floor. */
  readonly statsUrl: string | undefined;
  readonly alive: boolean;
  /** Starts it again if it died; true when it did. */
  ensureRunning(): Promise<boolean>;
  /** True when it has exited within `ms`. */
  exitsWithin(ms: number): Promise<boolean>;
  /** Why it died last, for the report. */
  readonly lastDeath: readonly string[];
}

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

const BODY_FILE: Record<RpcProtocol, string> = {
  "connect-proto": "connect-proto.bin",
  "connect-json": "connect-json.json",
  "connect-get": "",
  "grpc-web": "grpc-web.bin",
  "grpc": "grpc.bin",
};

/** Writes the request body of `protocol` for h2load; returns its path (undefined for GET). */
export async function bodyFile(
  workDir: string,
  protocol: RpcProtocol,
): Promise<string | undefined> {
  const body = requestFor(protocol).body;
  if (body === undefined) return undefined;
  const path = `${workDir}/${BODY_FILE[protocol]}`;
  await writeFile(path, body);
  return path;
}

/**
 * The good response body size of a case: probed on the case's own port
 * (gRPC: the Connect binary body of the instance in a 5-byte frame).
 */
export async function expectedBodyBytes(
  c: RpcCase,
  url: string,
  instanceUrl: string,
): Promise<number> {
  if (c.protocol === "grpc") {
    return 5 + await probe(c.port === "floor" ? instanceUrl : url, "connect-proto");
  }
  return await probe(url, c.protocol);
}

/** Error codes counted since `before` (from /metrics), or why they cannot be read. */
async function errorCodesSince(
  server: MeasuredServer,
  before: Readonly<Record<string, number>>,
): Promise<string> {
  if (!server.alive || !server.statsUrl) return "codes unknown: the instance died";
  try {
    return codesDelta(before, await readErrorCodes(server.statsUrl)) || "none by code";
  } catch (err) {
    return `codes unknown: ${(err as Error).message}`;
  }
}

const sub = (a: InstanceStats, b: InstanceStats, k: "requests" | "errors") => a[k] - b[k];

/** What the checks found about one run. */
export interface RunChecks {
  readonly problems: string[];
  /** Calls that did not succeed (lost ones included). */
  readonly failed: number;
  /** Calls after the window that failed because the server died (allowed, see checkRun). */
  readonly lost: number;
}

/**
 * The verdict on one run from h2load's summary, the good body size and
 * the GetStats deltas (before to the pause; before to after, if the
 * instance survived).
 *
 * `lostAllowed`: when the server died after the window (node:http2 aborts
 * when one h2load connection closes while others are busy), up to this
 * many calls, those that had not finished at the pause, may fail without
 * failing the case; the pause's GetStats vouches for every call before it.
 */
export function checkRun(o: {
  total: number;
  summary: H2loadSummary;
  bodyBytes: number;
  window: boolean;
  mid?: { requests: number; errors: number };
  after?: { requests: number; errors: number };
  lostAllowed?: number;
}): RunChecks {
  const problems: string[] = [];
  const r = o.summary.requests;
  const st = o.summary.status;
  const allowed = o.lostAllowed ?? 0;
  const non2xx = st["3xx"] + st["4xx"] + st["5xx"];
  const missing = Math.max(o.total - r.succeeded, o.total - st["2xx"], r.failed + r.timeout, 0);
  const lost = missing > 0 && missing <= allowed && non2xx === 0 ? missing : 0;
  if (lost === 0) {
    if (r.failed || r.errored || r.timeout) {
      problems.push(`h2load: ${r.failed} failed, ${r.errored} errored, ${r.timeout} timeout`);
    }
    if (r.succeeded !== o.total) problems.push(`h2load: ${r.succeeded} of ${o.total} succeeded`);
    if (st["2xx"] !== o.total) {
      problems.push(`HTTP status: ${st["2xx"]} 2xx of ${o.total} (${non2xx} 3xx/4xx/5xx)`);
    }
  }
  // Every answered call carried the message: exactly, or (with lost calls) at least every call
  // up to the pause and at most every 2xx.
  const bytes = o.summary.traffic.dataBytes;
  const least = (o.total - lost) * o.bodyBytes;
  const most = (lost ? st["2xx"] : o.total) * o.bodyBytes;
  if (bytes < least || bytes > most) {
    problems.push(
      `response bodies: ${bytes} bytes, want ${least === most ? least : `${least}..${most}`} ` +
        `(x ${o.bodyBytes}): some calls did not return the message`,
    );
  }
  if (!o.window) problems.push("no progress line at 20% or 90%: the window was not measured");
  let statsErrors = 0;
  if (o.mid) {
    statsErrors = o.mid.errors;
    if (o.mid.errors !== 0) problems.push(`GetStats: errors +${o.mid.errors} during the run`);
    if (o.mid.requests < 0.9 * o.total || o.mid.requests > o.total) {
      problems.push(
        `GetStats: requests +${o.mid.requests} at the pause, want ${0.9 * o.total}..${o.total}`,
      );
    }
  }
  if (o.after) {
    statsErrors = Math.max(statsErrors, o.after.errors);
    if (o.after.errors !== 0) problems.push(`GetStats: errors +${o.after.errors} after the run`);
    if (o.after.requests !== o.total) {
      problems.push(`GetStats: requests +${o.after.requests} after the run, want ${o.total}`);
    }
  }
  return { problems, failed: missing + statsErrors, lost };
}

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

/** The coalescing case: the original client's shape against one instance. */
export interface BurstResult {
  readonly name: string;
  readonly ok: boolean;
  readonly problems: readonly string[];
  /** Calls of the burst (`-n`), all on one connection at once (`-m`). */
  readonly calls: number;
  /** GetStats deltas over the burst. */
  readonly requests: number;
  readonly queries: number;
  readonly coalesced: number;
  readonly errors: number;
  readonly rejected: number;
  readonly queriesPerRequest: number | null;
  readonly h2load: H2loadSummary | null;
  readonly crashedAtClose: boolean;
  readonly command: string;
}

/**
 * `h2load -n calls -c 1 -m calls` of gRPC GetMessage{hot key} on the main
 * port: one connection carrying every call at once, as the original's Go
 * client does (5,000 streams per instance). h2load is paused at 50% (every
 * call has been sent by then unless the server caps streams per connection
 * below half of them) until GetStats settles, so the counts are read before
 * h2load closes the connection.
 */
export async function measureBurst(
  server: MeasuredServer & { readonly statsUrl: string },
  calls: number,
  s: MeasureSettings,
): Promise<BurstResult> {
  const name = `coalesce-${calls}-streams/grpc/h2c/main`;
  await server.ensureRunning();
  const c: RpcCase = { name, protocol: "grpc", http: "h2c", port: "main" };
  const url = server.baseUrl(c);
  const bodyBytes = await expectedBodyBytes(c, url, url);
  const args = h2loadArgs("grpc", "h2c", {
    baseUrl: url,
    total: calls,
    bodyFile: await bodyFile(s.workDir, "grpc"),
    clients: 1,
    streams: calls,
  });
  const before = await readStats(server.statsUrl);
  const codesBefore = await readErrorCodes(server.statsUrl);
  let mid: InstanceStats | undefined;
  const problems: string[] = [];
  s.log(`  ${name}: h2load ${args.slice(0, 6).join(" ")} -> ${url}`);
  const run = await runH2load({
    args,
    cpus: s.clientCpus,
    timeoutMs: s.h2loadTimeoutMs,
    signal: s.signal,
    async onProgress(p, control) {
      if (p !== 50) return;
      control.pause();
      try {
        mid = await waitQuiet(server.statsUrl, { timeoutMs: 30_000 });
      } catch (err) {
        problems.push(`GetStats at the pause: ${(err as Error).message}`);
      }
      control.resume();
    },
  });
  const crashed = await server.exitsWithin(300);
  // GetStats at the pause holds every count; if the server died afterwards, answers h2load had
  // not read yet (the second half) may be lost.
  const checks = checkRun({
    total: calls,
    summary: run.summary,
    bodyBytes,
    window: true,
    lostAllowed: crashed && mid ? calls - Math.ceil(calls / 2) : 0,
  });
  problems.push(...checks.problems);
  const d = (k: keyof Omit<InstanceStats, "startedAt">) => (mid ? mid[k] - before[k] : 0);
  if (!mid) problems.push("no GetStats at the 50% pause: counts unknown");
  else if (d("requests") !== calls) {
    problems.push(
      `GetStats: ${d("requests")} of ${calls} calls had finished at the pause ` +
        "(the server holds back streams past its per-connection cap)",
    );
  }
  if (mid && d("errors") !== 0) {
    problems.push(
      `GetStats: errors +${d("errors")} (${await errorCodesSince(server, codesBefore)})`,
    );
  }
  return {
    name,
    ok: problems.length === 0,
    problems,
    calls,
    requests: d("requests"),
    queries: d("queries"),
    coalesced: d("coalesced"),
    errors: d("errors"),
    rejected: d("rejected"),
    queriesPerRequest: mid && d("requests") > 0 ? d("queries") / d("requests") : null,
    h2load: run.summary,
    crashedAtClose: crashed,
    command: run.command,
  };
}
