/**
 * Client cost of `deno task load` for `deno task bench:rpc`: the load CLI
 * runs as a child under GNU time (`/usr/bin/time -f "%e %U %S %M"`), which
 * reads the child's rusage when it is reaped: user + system CPU of the whole
 * process (every thread) and its peak RSS. That includes Deno's start-up and
 * module loading, so the same command with `--help` (which loads every
 * module and exits) is measured too and reported as the start-up cost.
 *
 * The load CLI runs as `deno run -A cli/load.ts`, exactly what
 * `deno task load` runs, without the task runner's own process.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import type { LoadReport } from "./report.ts";

/** What GNU time printed. */
export interface TimeFigures {
  readonly wallMs: number;
  readonly userMs: number;
  readonly systemMs: number;
  readonly maxRssKb: number;
}

/** The format given to GNU time: wall, user and system seconds, peak RSS in KB. */
export const TIME_FORMAT = "%e %U %S %M";

/**
 * Parses GNU time's output (`-o FILE` with {@linkcode TIME_FORMAT}); a
 * "Command exited with non-zero status N" line may come first.
 *
 * @throws {Error} when there is no figures line.
 */
export function parseTimeOutput(text: string): TimeFigures {
  const line = text.trim().split("\n").map((l) => l.trim()).filter((l) => l).at(-1) ?? "";
  const m = /^([\d.]+) ([\d.]+) ([\d.]+) (\d+)$/.exec(line);
  if (!m) throw new Error(`GNU time printed no figures: "${text.trim().slice(0, 200)}"`);
  return {
    wallMs: Number(m[1]) * 1000,
    userMs: Number(m[2]) * 1000,
    systemMs: Number(m[3]) * 1000,
    maxRssKb: Number(m[4]),
  };
}

/** A finished load CLI run. */
export interface LoadCliRun {
  readonly command: string;
  readonly code: number;
  readonly time: TimeFigures;
  /** The JSON report (`--format json`), when it printed one. */
  readonly report?: LoadReport;
  readonly stderrTail: string;
}

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/**
 * Runs `deno run -A cli/load.ts ...args` under GNU time.
 *
 * @throws {Error} when GNU time is missing or the run takes over `timeoutMs`.
 */
export async function runLoadCli(
  args: readonly string[],
  o: { timeoutMs: number; workDir: string; signal?: AbortSignal },
): Promise<LoadCliRun> {
  const timeFile = `${o.workDir}/time-${crypto.randomUUID()}.txt`;
  const argv = [
    "-f",
    TIME_FORMAT,
    "-o",
    timeFile,
    Deno.execPath(),
    "run",
    "-A",
    "cli/load.ts",
    ...args,
  ];
  const timeout = AbortSignal.timeout(o.timeoutMs);
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command("/usr/bin/time", {
      args: argv,
      cwd: ROOT,
      stdin: "null",
      env: { NO_COLOR: "1" },
      signal: o.signal ? AbortSignal.any([o.signal, timeout]) : timeout,
    }).output();
  } catch (err) {
    throw new Error(
      `cannot run /usr/bin/time (apt-get install time): ${(err as Error).message}`,
    );
  }
  if (timeout.aborted) {
    throw new Error(`deno task load ${args.join(" ")} did not finish within ${o.timeoutMs} ms`);
  }
  const time = parseTimeOutput(await Deno.readTextFile(timeFile));
  await Deno.remove(timeFile).catch(() => {});
  const stdout = new TextDecoder().decode(out.stdout).trim();
  let report: LoadReport | undefined;
  try {
    report = stdout.startsWith("{") ? JSON.parse(stdout) as LoadReport : undefined;
  } catch { /* reported as missing */ }
  return {
    command: `deno task load ${args.join(" ")}`,
    code: out.code,
    time,
    report,
    stderrTail: new TextDecoder().decode(out.stderr).trim().split("\n").slice(-5).join("\n"),
  };
}

/** Client figures of one `--protocol`. */
export interface ClientFigures {
  readonly protocol: string;
  readonly command: string;
  readonly ok: boolean;
  readonly problems: readonly string[];
  readonly requests: number;
  readonly failed: number;
  readonly errors: Readonly<Record<string, number>>;
  readonly queries: number;
  readonly queriesPerRequest: number;
  /** The report's "Total time taken" (first send to last answer), ms. */
  readonly totalTimeMs: number;
  /** The whole process, start-up included, ms. */
  readonly processWallMs: number;
  /** User + system CPU of the whole process, ms. */
  readonly cpuMs: number;
  /** cpuMs per request, µs. */
  readonly usPerCall: number;
  /** (cpuMs - start-up CPU) per request, µs. */
  readonly usPerCallNetOfStartup: number;
  readonly maxRssMb: number;
}

/** Client figures from a run and the start-up CPU (`--help` run), ms. */
export function clientFigures(
  protocol: string,
  run: LoadCliRun,
  startupCpuMs: number,
): ClientFigures {
  const problems: string[] = [];
  const r = run.report;
  if (!r) problems.push(`no JSON report (exit ${run.code}): ${run.stderrTail}`);
  else if (r.client.failed > 0) {
    problems.push(`${r.client.failed} requests failed: ${JSON.stringify(r.client.errors)}`);
  }
  if (run.code !== 0) problems.push(`exit code ${run.code}`);
  const requests = r?.client.sent ?? 0;
  const cpuMs = run.time.userMs + run.time.systemMs;
  return {
    protocol,
    command: run.command,
    ok: problems.length === 0,
    problems,
    requests,
    failed: r?.client.failed ?? 0,
    errors: r?.client.errors ?? {},
    queries: r?.totalQueries ?? 0,
    queriesPerRequest: r?.averageQueriesPerRequest ?? 0,
    totalTimeMs: r?.totalTimeMs ?? 0,
    processWallMs: run.time.wallMs,
    cpuMs,
    usPerCall: requests ? (cpuMs * 1000) / requests : 0,
    usPerCallNetOfStartup: requests ? ((cpuMs - startupCpuMs) * 1000) / requests : 0,
    maxRssMb: run.time.maxRssKb / 1024,
  };
}
