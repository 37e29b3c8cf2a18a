/**
 * `deno task bench:rpc --cpu-prof CASE`: one more run of CASE on an
 * instance started with `--cpu-prof`, its profile cut to the measured
 * window and summarized by category and function (cpu_profile.ts).
 *
 * @module
 */
import { resolve } from "node:path";
import { H2loadStopped, runH2load } from "./bench_rpc_h2load.ts";
import type { InstanceUnderTest } from "./bench_rpc_instance.ts";
import { h2loadArgs, planRun, type RpcCase } from "./bench_rpc_cases.ts";
import { bodyFile } from "./bench_rpc_bodies.ts";
import type { MeasureSettings } from "./bench_rpc_measure.ts";
import { instanceServer } from "./bench_rpc_servers.ts";
import type { BenchRpcResult } from "./bench_rpc_report.ts";
import { type CpuProfile, formatProfileSummary, summarizeProfile } from "./cpu_profile.ts";
import { type CpuTime, readProcessCpu } from "./proc_cpu.ts";

/** CLOCK_BOOTTIME in µs from /proc/uptime (10 ms steps), or undefined. */
function monotonicUs(): number | undefined {
  try {
    return Number(Deno.readTextFileSync("/proc/uptime").split(" ")[0]) * 1e6;
  } catch {
    return undefined;
  }
}

/**
 * Runs `c` once on a fresh instance started with `--cpu-prof` (pinned like
 * the others by `newInstance`). At the 90% line h2load is killed (no
 * GOAWAY, so node:http2 does not abort) and the instance stopped with
 * SIGTERM, which writes the profile. Only samples between the 20% and 90% lines count (not start-up,
 * warm-up, or the teardown of the killed connections).
 */
export async function profileCase(
  c: RpcCase,
  /** Starts no process: makes the instance to profile, with these Deno flags. */
  newInstance: (denoFlags: string[]) => InstanceUnderTest,
  s: MeasureSettings,
): Promise<BenchRpcResult["profile"]> {
  const root = resolve(new URL("..", import.meta.url).pathname);
  const dir = `${root}/artifacts/cpu-prof/${new Date().toISOString().replace(/[:.]/g, "-")}`;
  await Deno.mkdir(dir, { recursive: true });
  s.log(`profiling ${c.name} (--cpu-prof-dir=${dir}) ...`);
  const inst = newInstance(["--cpu-prof", `--cpu-prof-dir=${dir}`]);
  const spawnedAt = performance.now();
  await inst.start();
  const server = instanceServer(inst);
  const plan = planRun(s.requests);
  const args = h2loadArgs(c.protocol, c.http, {
    baseUrl: server.baseUrl(c),
    total: plan.total,
    bodyFile: await bodyFile(s.workDir, c.protocol),
  });
  let cpu0: CpuTime | undefined, cpu1: CpuTime | undefined, sinceMs = 0;
  let mono0: number | undefined, mono1: number | undefined;
  try {
    await runH2load({
      args,
      cpus: s.clientCpus,
      timeoutMs: s.h2loadTimeoutMs,
      signal: s.signal,
      onProgress(p, control) {
        if (p === plan.startTenth * 10) {
          cpu0 = readProcessCpu(inst.pid);
          mono0 = monotonicUs();
          sinceMs = performance.now() - spawnedAt;
        } else if (p === plan.endTenth * 10) {
          cpu1 = readProcessCpu(inst.pid);
          mono1 = monotonicUs();
          control.kill();
        }
      },
    });
  } catch (err) {
    if (!(err instanceof H2loadStopped)) throw err;
  }
  await inst.stop(15_000);
  const files = [...Deno.readDirSync(dir)].filter((e) => e.name.endsWith(".cpuprofile"));
  if (files.length === 0) throw new Error(`the profiled instance wrote no .cpuprofile into ${dir}`);
  const file = `${dir}/${files[0].name}`;
  const profile = JSON.parse(await Deno.readTextFile(file)) as CpuProfile;
  // V8 stamps samples with CLOCK_MONOTONIC µs, which /proc/uptime follows (10 ms steps) unless the
  // machine slept: then fall back to the time since the spawn (the profile starts a little later).
  const exact = mono0 !== undefined && mono1 !== undefined &&
    mono0 >= profile.startTime && mono1 <= profile.endTime + 1e6;
  const window = exact
    ? { sinceUs: mono0! - profile.startTime, untilUs: mono1! - profile.startTime }
    : { sinceUs: Math.max(0, sinceMs - 200) * 1000 };
  const summary = summarizeProfile(profile, {
    root: new URL("..", import.meta.url).href,
    top: 20,
    ...window,
  });
  s.log(formatProfileSummary(summary));
  return {
    case: c.name,
    file: file.slice(root.length + 1),
    windowExact: exact,
    serverUsPerCall: cpu0?.threadsNs !== undefined && cpu1?.threadsNs !== undefined
      ? (cpu1.threadsNs - cpu0.threadsNs) / 1000 / plan.measured
      : null,
    summary,
  };
}
