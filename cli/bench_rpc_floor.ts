/**
 * The grpc-go floor of `deno task bench:rpc` (bench/floor): built with
 * `go build` into a temporary directory, started pinned to a CPU, stopped
 * with SIGTERM. It answers GetMessage with one fixed message from memory,
 * so its CPU per call is what grpc-go itself costs for this RPC.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { TextLineStream } from "./text_lines.ts";
import { withTimeout } from "./bench_rpc_instance.ts";

/** The floor's source directory. */
export const FLOOR_DIR: string = fileURLToPath(new URL("../bench/floor", import.meta.url));

/** `GO` from the environment, else `go` on PATH, else /usr/local/go/bin/go. */
export function goCommand(): string {
  const env = Deno.env.get("GO");
  if (env) return env;
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    try {
      if (Deno.statSync(`${dir}/go`).isFile) return `${dir}/go`;
    } catch { /* not here */ }
  }
  return "/usr/local/go/bin/go";
}

/** `go version` (e.g. "go1.26.8 linux/amd64"), or undefined when Go cannot run. */
export async function goVersion(): Promise<string | undefined> {
  try {
    const out = await new Deno.Command(goCommand(), { args: ["version"], stderr: "null" }).output();
    return out.success
      ? new TextDecoder().decode(out.stdout).trim().replace(/^go version /, "")
      : undefined;
  } catch {
    return undefined;
  }
}

/** A built floor binary and how it was built. */
export interface FloorBuild {
  readonly binary: string;
  readonly command: string;
}

/**
 * `go build -o DIR/floor .` in bench/floor (modules from the Go proxy or
 * the module cache).
 *
 * @throws {Error} with Go's output when the build fails or takes over `timeoutMs`.
 */
export async function buildFloor(
  outDir: string,
  o: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<FloorBuild> {
  const go = goCommand();
  const binary = `${outDir}/floor`;
  const args = ["build", "-buildvcs=false", "-o", binary, "."];
  const command = `cd bench/floor && ${go} ${args.join(" ")}`;
  const timeout = AbortSignal.timeout(o.timeoutMs ?? 300_000);
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(go, {
      args,
      cwd: FLOOR_DIR,
      stdin: "null",
      signal: o.signal ? AbortSignal.any([o.signal, timeout]) : timeout,
    }).output();
  } catch (err) {
    throw new Error(`cannot run ${go} (set GO=/path/to/go): ${(err as Error).message}`);
  }
  if (!out.success) {
    const why = timeout.aborted
      ? `took over ${o.timeoutMs ?? 300_000} ms`
      : new TextDecoder().decode(out.stderr).trim();
    throw new Error(`building the grpc-go floor failed (${command}): ${why}`);
  }
  return { binary, command };
}

/** The `host:port` of the floor's `listening HOST:PORT` line, or undefined. */
export function parseFloorListening(line: string): string | undefined {
  return /^listening (\S+:\d+)$/.exec(line.trim())?.[1];
}

/** A running floor server. */
export interface FloorServer {
  /** `http://127.0.0.1:PORT`. */
  readonly url: string;
  readonly pid: number;
  readonly exited: Promise<number>;
  /** SIGTERM, then SIGKILL after 2 s. */
  stop(): Promise<void>;
}

/**
 * Starts the floor binary (pinned with `taskset -c cpus` when given) and
 * waits for its `listening` line.
 *
 * @throws {Error} when it does not listen within `timeoutMs` (default 10 s).
 */
export async function startFloor(
  binary: string,
  o: { cpus?: string; timeoutMs?: number } = {},
): Promise<FloorServer> {
  const argv = o.cpus === undefined ? [binary] : ["taskset", "-c", o.cpus, binary];
  const child = new Deno.Command(argv[0], {
    args: [...argv.slice(1), "-addr", "127.0.0.1:0"],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const exited = child.status.then((s) => s.code);
  const errText = new Response(child.stderr).text();
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch { /* gone */ }
    const timer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
    }, 2000);
    await exited;
    clearTimeout(timer);
  };
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).pipeThrough(
    new TextLineStream(),
  );
  const listening = (async () => {
    for await (const line of lines) {
      const addr = parseFloorListening(line);
      if (addr) return addr;
    }
    throw new Error(`the grpc-go floor exited before listening: ${(await errText).trim()}`);
  })();
  let addr: string;
  try {
    addr = await withTimeout(
      listening,
      o.timeoutMs ?? 10_000,
      `the grpc-go floor did not listen within ${o.timeoutMs ?? 10_000} ms`,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  // Keep draining stdout so the child never blocks on a full pipe.
  (async () => {
    for await (const _ of lines) { /* discard */ }
  })().catch(() => {});
  return { url: `http://${addr}`, pid: child.pid, exited, stop };
}
