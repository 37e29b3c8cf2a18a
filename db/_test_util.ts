/**
 * Helpers of the launcher's unit tests: settings on a fresh temporary state
 * directory, and environment variables set for the length of a call.
 *
 * @module
 */
import { type Settings, settingsFromEnv } from "./settings.ts";

/** Settings on a fresh temporary state directory, no external cluster, silent. */
export async function tmpSettings(overrides: Partial<Settings> = {}): Promise<Settings> {
  const stateDir = await Deno.makeTempDir({ prefix: "db-cluster-test-" });
  return settingsFromEnv({
    stateDir,
    externalContactPoints: undefined,
    localDataCenter: "datacenter1",
    mode: "java",
    log: () => {},
    ...overrides,
  });
}

/** Runs `fn` with `vars` set (undefined: unset), then restores them. */
export function withEnv<T>(vars: Record<string, string | undefined>, fn: () => T): T {
  const old: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(vars)) {
    old[k] = Deno.env.get(k);
    if (v === undefined) Deno.env.delete(k);
    else Deno.env.set(k, v);
  }
  try {
    return fn();
  } finally {
    for (const [k, v] of Object.entries(old)) {
      if (v === undefined) Deno.env.delete(k);
      else Deno.env.set(k, v);
    }
  }
}

/** A running stand-in process whose command line is `sh -c <script> <args...>`. */
export interface FakeProcess {
  /** Its pid; /proc/<pid>/cmdline holds `args`. */
  pid: number;
  /** Resolves with its exit status. */
  status: Promise<Deno.CommandStatus>;
  /** Sends a signal, ignoring a process already gone. */
  kill(signal: Deno.Signal): void;
}

/**
 * Spawns `sh` with `args` on its command line (looking like a node of ours,
 * or not) and resolves once the shell has written its first line: by then it
 * has exec'd, so /proc shows its final command line. No sleeps.
 */
export async function fakeProcess(args: string[]): Promise<FakeProcess> {
  // `read` is a shell builtin: the process never forks, so no child of it briefly
  // shows the same command line in /proc (a sleep loop did, and was counted as a node).
  const child = new Deno.Command("sh", {
    args: ["-c", "echo ready; read -r _", ...args],
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.getReader();
  const first = await reader.read();
  await reader.cancel();
  if (first.done || !new TextDecoder().decode(first.value).startsWith("ready")) {
    child.kill("SIGKILL");
    await child.status;
    throw new Error(`fake process ${args.join(" ")} did not start`);
  }
  return {
    pid: child.pid,
    status: child.status,
    kill(signal) {
      try {
        child.kill(signal);
      } catch { /* already gone */ }
    },
  };
}
