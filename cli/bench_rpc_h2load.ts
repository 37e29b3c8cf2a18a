/**
 * h2load (nghttp2-client) for `deno task bench:rpc`: runs it as a child,
 * streams its `progress: N% done` lines to a callback while it runs (so the
 * bench can read the server's CPU time at exact points of a run, and pause
 * h2load with SIGSTOP before it closes its connections), and parses its
 * summary.
 *
 * h2load exits 0 even when every request failed: the parsed summary is the
 * only verdict. It prints progress only from its first worker thread, once
 * per tenth of `-n`, when the count of finished requests reaches an exact
 * multiple of `n / 10`; so do not pass `-t` and make `-n` a multiple of 10.
 *
 * @module
 */
import { TextLineStream } from "./text_lines.ts";

/** The `requests:` line. */
export interface H2loadRequests {
  readonly total: number;
  readonly started: number;
  readonly done: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly errored: number;
  readonly timeout: number;
}

/** What h2load printed at the end of a run. */
export interface H2loadSummary {
  /** `finished in ...`, ms. */
  readonly finishedMs: number;
  /** Its own requests/s over the whole run. */
  readonly requestsPerSecond: number;
  readonly requests: H2loadRequests;
  /** Responses by status class: `{ "2xx": n, "3xx": n, "4xx": n, "5xx": n }`. */
  readonly status: Readonly<Record<"2xx" | "3xx" | "4xx" | "5xx", number>>;
  /** Bytes received: all, header block, and response body (DATA) bytes. */
  readonly traffic: {
    readonly totalBytes: number;
    readonly headerBytes: number;
    readonly dataBytes: number;
  };
  /** `Application protocol: h2c` / `http/1.1` (absent when no connection was made). */
  readonly protocol?: string;
}

const UNIT_MS: Record<string, number> = { us: 1e-3, "µs": 1e-3, ms: 1, s: 1000 };

function count(line: string, label: string): number {
  const m = new RegExp(`(\\d+) ${label}\\b`).exec(line);
  if (!m) throw new Error(`h2load output: no "${label}" count in "${line}"`);
  return Number(m[1]);
}

/**
 * Parses h2load's summary from its whole stdout.
 *
 * @throws {Error} naming the missing line when the output has no summary
 *   (h2load did not run to its end).
 */
export function parseH2loadSummary(stdout: string): H2loadSummary {
  const lines = stdout.split("\n");
  const find = (prefix: string) => {
    const line = lines.find((l) => l.startsWith(prefix));
    if (line === undefined) {
      throw new Error(`h2load output has no "${prefix}" line:\n${stdout.slice(-600)}`);
    }
    return line;
  };
  const fin = /^finished in ([\d.]+)(us|µs|ms|s), ([\d.]+) req\/s/.exec(find("finished in"));
  if (!fin) throw new Error(`h2load output: cannot read "${find("finished in")}"`);
  const req = find("requests:");
  const st = find("status codes:");
  const traffic = find("traffic:");
  const bytes = /\((\d+)\) total, .*\((\d+)\) headers .*\((\d+)\) data/.exec(traffic);
  if (!bytes) throw new Error(`h2load output: cannot read "${traffic}"`);
  const proto = lines.find((l) => l.startsWith("Application protocol:"));
  return {
    finishedMs: Number(fin[1]) * UNIT_MS[fin[2]],
    requestsPerSecond: Number(fin[3]),
    requests: {
      total: count(req, "total"),
      started: count(req, "started"),
      done: count(req, "done"),
      succeeded: count(req, "succeeded"),
      failed: count(req, "failed"),
      errored: count(req, "errored"),
      timeout: count(req, "timeout"),
    },
    status: {
      "2xx": count(st, "2xx"),
      "3xx": count(st, "3xx"),
      "4xx": count(st, "4xx"),
      "5xx": count(st, "5xx"),
    },
    traffic: {
      totalBytes: Number(bytes[1]),
      headerBytes: Number(bytes[2]),
      dataBytes: Number(bytes[3]),
    },
    ...(proto ? { protocol: proto.slice("Application protocol:".length).trim() } : {}),
  };
}

/** The percentage of a `progress: 40% done` line, or undefined for any other line. */
export function parseProgress(line: string): number | undefined {
  const m = /^progress: (\d+)% done$/.exec(line.trim());
  return m ? Number(m[1]) : undefined;
}

/** `args` as one line a POSIX shell reads back as the same words. */
export function shellQuote(args: readonly string[]): string {
  return args.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(
    " ",
  );
}

/**
 * Lets a progress callback hold h2load still (SIGSTOP), let it go on
 * (SIGCONT), or end it (SIGKILL: its connections close without an HTTP/2
 * GOAWAY, and {@linkcode runH2load} rejects with {@linkcode H2loadStopped}).
 */
export interface H2loadControl {
  /** h2load's process id (the same with `taskset`, which execs it). */
  readonly pid: number;
  pause(): void;
  resume(): void;
  kill(): void;
}

/** h2load was ended by its progress callback (`control.kill()`): it printed no summary. */
export class H2loadStopped extends Error {
  override name = "H2loadStopped";
}

/** Options of {@linkcode runH2load}. */
export interface H2loadOptions {
  /** h2load's arguments, the URL included. */
  readonly args: readonly string[];
  /** Pin h2load to these CPUs (`taskset -c`). */
  readonly cpus?: string;
  /** Kill h2load and fail after this long. */
  readonly timeoutMs: number;
  /**
   * Called at every progress line, as it arrives. h2load keeps running while
   * a returned promise is pending (unless paused); lines after it wait.
   */
  readonly onProgress?: (percent: number, control: H2loadControl) => void | Promise<void>;
  /** Kills h2load when aborted (Ctrl-C). */
  readonly signal?: AbortSignal;
}

/** A finished h2load run. */
export interface H2loadRun {
  readonly summary: H2loadSummary;
  /** Percentages of the progress lines seen, in order. */
  readonly progress: readonly number[];
  readonly stdout: string;
  readonly stderr: string;
  /** The command line, for the record. */
  readonly command: string;
}

/**
 * Runs h2load to its end and parses its summary.
 *
 * @throws {Error} when h2load cannot start, runs past `timeoutMs`, is
 *   aborted, or prints no summary.
 */
export async function runH2load(o: H2loadOptions): Promise<H2loadRun> {
  const argv = o.cpus === undefined
    ? ["h2load", ...o.args]
    : ["taskset", "-c", o.cpus, "h2load", ...o.args];
  const command = shellQuote(argv);
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(argv[0], {
      args: argv.slice(1),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (err) {
    throw new Error(
      `cannot run h2load (apt-get install nghttp2-client): ${(err as Error).message}`,
    );
  }
  const kill = (sig: Deno.Signal) => {
    try {
      child.kill(sig);
    } catch { /* already gone */ }
  };
  let stopped = false;
  const control: H2loadControl = {
    pid: child.pid,
    pause: () => kill("SIGSTOP"),
    resume: () => kill("SIGCONT"),
    kill: () => {
      stopped = true;
      kill("SIGKILL");
    },
  };
  // Timeout and Ctrl-C kill h2load and also abandon a progress callback that is still pending.
  const killed = Promise.withResolvers<void>();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    kill("SIGKILL");
    killed.resolve();
  }, o.timeoutMs);
  const onAbort = () => {
    kill("SIGKILL");
    killed.resolve();
  };
  o.signal?.addEventListener("abort", onAbort, { once: true });
  const stderr = new Response(child.stderr).text();
  const out: string[] = [];
  const progress: number[] = [];
  try {
    const lines = child.stdout.pipeThrough(new TextDecoderStream()).pipeThrough(
      new TextLineStream(),
    );
    for await (const line of lines) {
      out.push(line);
      const p = parseProgress(line);
      if (p === undefined) continue;
      progress.push(p);
      await Promise.race([o.onProgress?.(p, control), killed.promise]);
      if (timedOut || stopped || o.signal?.aborted) break;
    }
  } catch (err) {
    kill("SIGKILL");
    await child.status;
    throw err;
  } finally {
    clearTimeout(timer);
    o.signal?.removeEventListener("abort", onAbort);
    control.resume(); // never leave it stopped
  }
  await child.status;
  const stdout = out.join("\n");
  if (o.signal?.aborted) throw new Error(`h2load interrupted: ${command}`);
  if (timedOut) throw new Error(`h2load did not finish within ${o.timeoutMs} ms: ${command}`);
  if (stopped) throw new H2loadStopped(`h2load stopped at ${progress.at(-1)}%: ${command}`);
  return { summary: parseH2loadSummary(stdout), progress, stdout, stderr: await stderr, command };
}
