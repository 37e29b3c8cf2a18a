/**
 * A child Deno process of the local stack (a data-service instance or the
 * gateway), optionally pinned to CPUs: started with its JSON logs on stderr, its listening URL taken
 * from its `"msg":"listening"` log line, stopped with SIGTERM (then SIGKILL).
 *
 * @module
 */
import { waitReady, withTimeout } from "../lib/wait.ts";
import { permissionsOf } from "./permissions.ts";
import { TextLineStream } from "./text_lines.ts";

/** A running child service. */
export interface ChildService {
  readonly name: string;
  readonly pid: number;
  /** Resolves with the URL the child listens on; rejects if it exits first. */
  readonly listening: Promise<string>;
  /** Resolves with the exit code when the child ends. */
  readonly exited: Promise<number>;
  /** The last log lines (at most 50), for error reports. */
  tail(): string[];
  /**
   * Waits until the child answers `GET <url><path>` with 2xx (default
   * `/readyz`) and resolves with its URL; rejects with its last log lines
   * when it exits first, or naming it when `timeoutMs` (default 60 s) passes.
   */
  ready(path?: string, timeoutMs?: number): Promise<string>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when it has exited. */
  stop(graceMs?: number): Promise<number>;
}

/** Options of {@link spawnService}. */
export interface SpawnOptions {
  /** Called with every log line of the child (stdout and stderr). */
  onLine?: (line: string) => void;
  env?: Record<string, string>;
  /** Pin the child to these CPUs (`taskset -c`, e.g. "0"); the pid stays Deno's (taskset execs). */
  cpus?: string;
  /** Deno flags before the script, e.g. `["--cpu-prof", "--cpu-prof-dir=DIR"]`. */
  denoFlags?: string[];
  /** Run from this checkout instead of this repository (another version of the script). */
  cwd?: string;
}

/**
 * Starts `deno run <permissions> <script> ...args` from the repository root,
 * with the script's permissions from `cli/permissions.ts` (`-A` for others).
 */
export function spawnService(
  name: string,
  script: string,
  args: string[],
  options: SpawnOptions = {},
): ChildService {
  const root = options.cwd ?? new URL("..", import.meta.url);
  const denoArgs = ["run", ...permissionsOf(script), ...(options.denoFlags ?? []), script, ...args];
  const pinned = options.cpus !== undefined;
  const child = new Deno.Command(pinned ? "taskset" : Deno.execPath(), {
    args: pinned ? ["-c", options.cpus!, Deno.execPath(), ...denoArgs] : denoArgs,
    cwd: root,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...options.env },
  }).spawn();
  const lines: string[] = [];
  const listening = Promise.withResolvers<string>();
  const exited = child.status.then((s) => s.code);
  const consume = async (stream: ReadableStream<Uint8Array>) => {
    const reader = stream.pipeThrough(new TextDecoderStream()).pipeThrough(new TextLineStream());
    for await (const line of reader) {
      lines.push(line);
      if (lines.length > 50) lines.shift();
      options.onLine?.(line);
      if (line.includes('"msg":"listening"')) {
        try {
          listening.resolve(JSON.parse(line).url);
        } catch { /* not our JSON */ }
      }
    }
  };
  const drained = Promise.all([consume(child.stdout), consume(child.stderr)]);
  exited.then(async (code) => {
    await drained.catch(() => {});
    listening.reject(
      new Error(
        `${name} exited with code ${code} before listening:\n  ${lines.slice(-15).join("\n  ")}`,
      ),
    );
  });
  listening.promise.catch(() => {}); // reported by whoever awaits it
  let stopping: Promise<number> | undefined;
  return {
    name,
    pid: child.pid,
    listening: listening.promise,
    exited,
    tail: () => [...lines],
    async ready(path = "/readyz", timeoutMs = 60_000) {
      const url = await withTimeout(listening.promise, timeoutMs, `${name} to listen`);
      return await waitReady(url, {
        path,
        timeoutMs,
        what: `${name} (${url}${path}) to answer 2xx`,
        stop: exited.then(async (code) => {
          await drained.catch(() => {});
          return `${name} exited with code ${code} while starting:\n  ${
            lines.slice(-15).join("\n  ")
          }`;
        }),
      });
    },
    stop(graceMs = 15_000) {
      stopping ??= (async () => {
        try {
          child.kill("SIGTERM");
        } catch { /* already gone */ }
        const timer = setTimeout(() => {
          try {
            child.kill("SIGKILL");
          } catch { /* already gone */ }
        }, graceMs);
        const code = await exited;
        clearTimeout(timer);
        await drained.catch(() => {});
        return code;
      })();
      return stopping;
    },
  };
}

/** Where an instance finds Cassandra. */
export interface CassandraAt {
  readonly contactPoints: readonly string[];
  readonly localDataCenter: string;
}

/** Options of {@link spawnInstance}. */
export interface InstanceOptions extends SpawnOptions {
  readonly host: string;
  /** 0: any free port. */
  readonly port: number;
  /** Snowflake worker id; default: leased from Cassandra (`--worker-id` left out). */
  readonly workerId?: number;
  readonly cassandra: CassandraAt;
  /** More flags of `deno task serve` (e.g. `--no-coalesce`). */
  readonly extraArgs?: readonly string[];
}

/** Starts a data-service instance (`server/main.ts`) as a child process. */
export function spawnInstance(name: string, o: InstanceOptions): ChildService {
  return spawnService(name, "server/main.ts", [
    "--host",
    o.host,
    "--port",
    String(o.port),
    ...(o.workerId === undefined ? [] : ["--worker-id", String(o.workerId)]),
    "--cassandra-contact-points",
    o.cassandra.contactPoints.join(","),
    "--cassandra-local-dc",
    o.cassandra.localDataCenter,
    ...(o.extraArgs ?? []),
  ], o);
}
