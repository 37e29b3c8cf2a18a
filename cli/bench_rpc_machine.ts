/**
 * The machine `deno task bench:rpc` measures on, for its report: CPU model,
 * kernel, Deno, Go and h2load versions, and /proc/loadavg (a busy machine
 * shows there).
 *
 * @module
 */
import { goVersion } from "./bench_rpc_floor.ts";
import type { MachineInfo } from "./bench_rpc_report.ts";

/** What `cmd args` printed (stdout, else stderr), or null when it failed or is missing. */
async function text(cmd: string, args: string[]): Promise<string | null> {
  try {
    const out = await new Deno.Command(cmd, { args, stderr: "piped" }).output();
    const s = new TextDecoder().decode(out.stdout).trim() ||
      new TextDecoder().decode(out.stderr).trim();
    return out.success ? s : null;
  } catch {
    return null;
  }
}

/** The three load averages of /proc/loadavg, or "?". */
export function loadavg(): string {
  try {
    return Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
  } catch {
    return "?";
  }
}

/** The machine now; `loadavgAfter` is left "" for the end of the run. */
export async function machineInfo(): Promise<MachineInfo> {
  const cpuModel = (await Deno.readTextFile("/proc/cpuinfo").catch(() => ""))
    .match(/^model name\s*:\s*(.+)$/m)?.[1] ?? "?";
  return {
    nproc: navigator.hardwareConcurrency,
    cpuModel,
    kernel: Deno.osRelease(),
    deno: Deno.version.deno,
    go: await goVersion() ?? null,
    h2load: await text("h2load", ["--version"]),
    loadavgBefore: loadavg(),
    loadavgAfter: "",
  };
}
