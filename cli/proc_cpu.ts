/**
 * CPU time of a Linux process from `/proc/PID/stat`: user + system time of
 * all its threads (live and exited), and of its waited-for children, in
 * clock ticks (`getconf CLK_TCK`, 100 on Linux/x86-64) converted to ms.
 *
 * The kernel keeps these figures for a zombie too, so a process that just
 * died can still be read until its parent reaps it. The same time with
 * nanosecond resolution comes from each thread's `schedstat`.
 *
 * @module
 */

/** The fields of `/proc/PID/stat` this module reads. */
export interface ProcStat {
  readonly pid: number;
  /** The executable name (field 2, without its parentheses). */
  readonly comm: string;
  /** Process state: R, S, D, Z (zombie), T (stopped), ... */
  readonly state: string;
  /** User time of all threads, clock ticks (field 14). */
  readonly utime: number;
  /** System time of all threads, clock ticks (field 15). */
  readonly stime: number;
  /** User time of waited-for children, clock ticks (field 16). */
  readonly cutime: number;
  /** System time of waited-for children, clock ticks (field 17). */
  readonly cstime: number;
}

/**
 * Parses the text of `/proc/PID/stat`. The command name may hold spaces and
 * parentheses, so the fields are counted from its last `)`.
 *
 * @throws {Error} when the text is not a stat line.
 */
export function parseProcStat(text: string): ProcStat {
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  if (open < 1 || close < open) {
    throw new Error(`not a /proc/PID/stat line: "${text.slice(0, 80)}"`);
  }
  // After the name: field 3 (state) is rest[0], so field k is rest[k - 3].
  const rest = text.slice(close + 2).trim().split(/\s+/);
  const field = (k: number) => {
    const n = Number(rest[k - 3]);
    if (rest[k - 3] === undefined || !Number.isFinite(n)) {
      throw new Error(`/proc/PID/stat field ${k} is not a number in "${text.slice(0, 80)}"`);
    }
    return n;
  };
  return {
    pid: Number(text.slice(0, open).trim()),
    comm: text.slice(open + 1, close),
    state: rest[0],
    utime: field(14),
    stime: field(15),
    cutime: field(16),
    cstime: field(17),
  };
}

let ticksPerSecond: number | undefined;

/** `getconf CLK_TCK` (read once; 100 if getconf cannot run). */
export function clockTicksPerSecond(): number {
  if (ticksPerSecond === undefined) {
    try {
      const out = new Deno.Command("getconf", { args: ["CLK_TCK"], stderr: "null" }).outputSync();
      const n = Number(new TextDecoder().decode(out.stdout).trim());
      ticksPerSecond = out.success && n > 0 ? n : 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** CPU time of a process, ms. */
export interface CpuTime {
  /** user + system of the process's own threads. */
  readonly ms: number;
  /** user + system of its waited-for children. */
  readonly childrenMs: number;
  readonly state: string;
  /** Live threads' run time from schedstat, ns (finer; see readThreadsCpuNs). */
  readonly threadsNs?: number;
}

/** Converts a parsed stat to ms with `ticks` ticks per second. */
export function cpuTimeOf(stat: ProcStat, ticks: number): CpuTime {
  return {
    ms: ((stat.utime + stat.stime) * 1000) / ticks,
    childrenMs: ((stat.cutime + stat.cstime) * 1000) / ticks,
    state: stat.state,
  };
}

/** The first field of `/proc/PID/task/TID/schedstat`: time on a CPU, ns. */
export function parseSchedstat(text: string): number {
  const n = Number(text.trim().split(/\s+/)[0]);
  if (!Number.isFinite(n)) throw new Error(`not a schedstat line: "${text.slice(0, 80)}"`);
  return n;
}

/**
 * CPU time of a process's live threads in ns: the sum of their
 * `/proc/PID/task/TID/schedstat` run times (the scheduler's own clock, so
 * much finer than the 10 ms ticks of `/proc/PID/stat`, but threads that
 * already exited are not in it). Undefined when the process is gone or the
 * kernel has no schedstat.
 */
export function readThreadsCpuNs(pid: number): number | undefined {
  let sum = 0;
  let threads = 0;
  try {
    for (const t of Deno.readDirSync(`/proc/${pid}/task`)) {
      try {
        sum += parseSchedstat(Deno.readTextFileSync(`/proc/${pid}/task/${t.name}/schedstat`));
        threads++;
      } catch { /* the thread just exited */ }
    }
  } catch {
    return undefined;
  }
  return threads ? sum : undefined;
}

/**
 * Reads a process's CPU time now (synchronously, so that it can be taken at
 * an exact moment), or undefined when the process is gone.
 */
export function readProcessCpu(pid: number): CpuTime | undefined {
  let text: string;
  try {
    text = Deno.readTextFileSync(`/proc/${pid}/stat`);
  } catch {
    return undefined;
  }
  const t = cpuTimeOf(parseProcStat(text), clockTicksPerSecond());
  const ns = readThreadsCpuNs(pid);
  return ns === undefined ? t : { ...t, threadsNs: ns };
}
