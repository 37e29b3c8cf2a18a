/**
 * One `connectconformance` invocation under a watchdog: the runner and
 * what it starts (the server or client under test) run in a process group
 * of their own, killed whole when the watchdog fires, and whatever is left
 * of the group is killed when the runner ends.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { type Combination, label, type Mode } from "./combinations.ts";
import { knownArgs } from "./known_failures.ts";
import { type Outcome, parseSummary } from "./outcome.ts";
import { runnerConfig } from "./runner_config.ts";

/** A path relative to this directory. */
const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));

/** How to run one invocation. */
export interface InvokeOptions {
  /** Server mode: also every case over TLS. */
  readonly tls: boolean;
  /** `--run` patterns from the command line. */
  readonly run: readonly string[];
  readonly stack: string;
  readonly transport: string;
  readonly watchdogSeconds: number;
  readonly verbose: boolean;
  /** Where config files go. */
  readonly dir: string;
}

/** Runs one invocation under the watchdog; kills the runner's whole process group at the bound. */
export async function invokeRunner(
  runner: string,
  mode: Mode,
  c: Combination,
  options: InvokeOptions,
): Promise<Outcome> {
  const conf = `${options.dir}/${mode}-${c.protocol}-${c.http}.yaml`;
  await Deno.writeTextFile(conf, runnerConfig(mode, c, options.tls));
  const deno = Deno.execPath();
  const underTest = mode === "server"
    ? [deno, "run", "-A", here("./server.ts"), "--stack", options.stack]
    : [deno, "run", "-A", here("./client.ts"), "--transport", options.transport];
  const args = [
    "--mode",
    mode,
    "--conf",
    conf,
    ...(await knownArgs(mode, c, options.dir)),
    ...options.run.flatMap((p) => ["--run", p]),
    ...(options.verbose ? ["-v"] : []),
    "--",
    ...underTest,
  ];
  const started = performance.now();
  // setsid: the runner and what it starts share a new process group, so the
  // watchdog can stop all of them and leave nothing behind.
  const hasSetsid = await Deno.stat("/usr/bin/setsid").then(() => true, () => false);
  const child = new Deno.Command(hasSetsid ? "/usr/bin/setsid" : runner, {
    args: hasSetsid ? [runner, ...args] : args,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  let wedged = false;
  const kill = (signal: Deno.Signal) => {
    try {
      Deno.kill(hasSetsid ? -child.pid : child.pid, signal);
    } catch {
      // already gone
    }
  };
  let hardKill: ReturnType<typeof setTimeout> | undefined;
  const watchdog = setTimeout(() => {
    wedged = true;
    kill("SIGTERM");
    hardKill = setTimeout(() => kill("SIGKILL"), 3000);
  }, options.watchdogSeconds * 1000);
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    let text = "";
    for await (const chunk of stream) {
      text += decoder.decode(chunk, { stream: true });
      if (options.verbose) Deno.stderr.writeSync(chunk);
    }
    return text;
  };
  const [out, err, status] = await Promise.all([
    collect(child.stdout),
    collect(child.stderr),
    child.status,
  ]);
  clearTimeout(watchdog);
  clearTimeout(hardKill);
  // Whatever the runner left behind in its group (e.g. a wedged server under test).
  if (hasSetsid) kill("SIGKILL");
  const output = out + err;
  const summary = parseSummary(output);
  const outcome: Outcome = {
    mode,
    combination: label(c),
    passed: summary.passed,
    failed: summary.failed,
    expected: summary.expected,
    notRun: summary.notRun,
    wedged,
    exitCode: wedged ? undefined : status.code,
    seconds: (performance.now() - started) / 1000,
    output,
  };
  // A runner that stopped without its summary (crash, bad config) failed;
  // keep what it said last for the report.
  if (!summary.complete || (!wedged && status.code !== 0 && outcome.failed === 0)) {
    outcome.failed = Math.max(outcome.failed, 1);
    if (!summary.complete) {
      const tail = output.trimEnd().split("\n").slice(-15).map((l) => `\t${l}`).join("\n");
      outcome.output +=
        `\nFAILED: runner ended without a summary (exit ${status.code}):\n${tail}\n`;
    }
  }
  return outcome;
}
