/**
 * `deno task conformance`: runs the Connect conformance suite
 * (`connectconformance`, see `version.ts`) against the project's server
 * stack (`server.ts`) and client transport (`client.ts`), one runner
 * invocation per mode × protocol × HTTP version, each under a watchdog, and
 * prints a table and `N passed, N failed`. The default (what CI runs) is
 * every case in cleartext; `--full` adds the server's cases over TLS (the
 * client has no TLS here). Exits 1 on any unexpected failure (including a
 * test that was expected to fail but passed, a test the runner could not
 * run, and an invocation the watchdog had to kill).
 *
 * ```sh
 * deno task conformance [--mode server|client|both] [--full] [--only connect/2,grpc-web/1.1]
 *                       [--stack NAME] [--transport NAME] [--run PATTERN]... [--watchdog S] [-v]
 * ```
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { SERVER_STACKS, stackServes } from "./stacks.ts";
import { CLIENT_STACKS, transportSpeaks } from "./transports.ts";
import { findRunner } from "./tools.ts";
import { CONFORMANCE_VERSION } from "./version.ts";

/** Which side of the project is under test. */
export type Mode = "server" | "client";
/** A protocol over an HTTP version: one runner invocation per mode. */
export interface Combination {
  readonly protocol: "connect" | "grpc" | "grpc-web";
  readonly http: "1.1" | "2";
}

/** Every protocol × HTTP version the project supports (gRPC needs HTTP/2). */
export const COMBINATIONS: readonly Combination[] = [
  { protocol: "connect", http: "1.1" },
  { protocol: "connect", http: "2" },
  { protocol: "grpc", http: "2" },
  { protocol: "grpc-web", http: "1.1" },
  { protocol: "grpc-web", http: "2" },
];

/** `connect/2`, `grpc-web/1.1`. */
export const label = (c: Combination) => `${c.protocol}/${c.http}`;

const PROTOCOL_ENUM = {
  connect: "PROTOCOL_CONNECT",
  grpc: "PROTOCOL_GRPC",
  "grpc-web": "PROTOCOL_GRPC_WEB",
} as const;

/**
 * The runner's config file (YAML is a superset of JSON) for one invocation:
 * one protocol and HTTP version; proto and JSON; identity and gzip; every
 * stream type. The server claims message receive limits (`readMaxBytes`),
 * Connect GET and, with `tls`, TLS (the runner's certificate, HTTP/1.1 and
 * HTTP/2 by ALPN: every case then also runs over TLS). The client
 * (connect-node, whose `readMaxBytes` and `useHttpGet` it uses) runs
 * cleartext only: the router's transport factory takes no CA. Neither claims
 * bidi streams over HTTP/1.1 nor TLS client certificates.
 */
export function runnerConfig(mode: Mode, c: Combination, tls: boolean): string {
  const features = {
    versions: [c.http === "2" ? "HTTP_VERSION_2" : "HTTP_VERSION_1"],
    protocols: [PROTOCOL_ENUM[c.protocol]],
    codecs: ["CODEC_PROTO", "CODEC_JSON"],
    compressions: ["COMPRESSION_IDENTITY", "COMPRESSION_GZIP"],
    supportsH2c: c.http === "2",
    supportsTls: mode === "server" && tls,
    supportsTlsClientCerts: false,
    supportsTrailers: true,
    supportsHalfDuplexBidiOverHttp1: false,
    supportsConnectGet: true,
    supportsMessageReceiveLimit: true,
  };
  return JSON.stringify({ features }, null, 2) + "\n";
}

/** What one runner invocation reported. */
export interface Outcome {
  readonly mode: Mode;
  readonly combination: string;
  passed: number;
  /** Unexpected failures, known failures that passed, tests that could not run. */
  failed: number;
  /** Known failures/flakes that failed as expected. */
  expected: number;
  /** Tests the runner could not run (client timed out or exited). */
  notRun: number;
  /** Killed by the watchdog. */
  wedged: boolean;
  /** Runner exit code (undefined when killed). */
  exitCode?: number;
  seconds: number;
  /** The runner's output. */
  output: string;
}

/** Reads the counts from the runner's summary lines; `complete` is false without them. */
export function parseSummary(
  output: string,
): Pick<Outcome, "passed" | "failed" | "expected" | "notRun"> & { complete: boolean } {
  const totals = /^(\d+) passed, (\d+) failed$/m.exec(output);
  const notRun = /^Another (\d+) could not be run/m.exec(output);
  const expected = /^\(Another (\d+) failed as expected/m.exec(output);
  return {
    complete: totals !== null,
    passed: totals ? Number(totals[1]) : 0,
    failed: (totals ? Number(totals[2]) : 0) + (notRun ? Number(notRun[1]) : 0),
    expected: expected ? Number(expected[1]) : 0,
    notRun: notRun ? Number(notRun[1]) : 0,
  };
}

/** A path relative to this directory. */
const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));

/** One line of a known-failing/flaky list. */
export interface KnownPattern {
  /** The runner's test-name pattern. */
  readonly pattern: string;
  /** Combinations it applies to (`[connect/2 grpc/2] pattern`); all when absent. */
  readonly only?: readonly string[];
}

/**
 * Parses a list: one pattern a line, `#` comments, an optional
 * `[combination ...]` prefix.
 *
 * @throws {Error} for a prefix naming no known combination.
 */
export function parseKnownList(text: string): KnownPattern[] {
  const out: KnownPattern[] = [];
  const known = COMBINATIONS.map(label);
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const tagged = /^\[([^\]]*)\]\s*(.+)$/.exec(line);
    if (!tagged) {
      out.push({ pattern: line });
      continue;
    }
    const only = tagged[1].split(/\s+/).filter(Boolean);
    const wrong = only.filter((c) => !known.includes(c));
    if (wrong.length > 0) throw new Error(`unknown combination ${wrong.join(", ")} in: ${line}`);
    out.push({ pattern: tagged[2], only });
  }
  return out;
}

/**
 * The patterns that apply to one combination: the runner rejects a list with
 * a pattern that matches nothing, so tagged patterns go only to theirs.
 */
export function applicable(known: readonly KnownPattern[], c: Combination): string[] {
  return known.filter(({ only }) => !only || only.includes(label(c))).map((k) => k.pattern);
}

/** `--known-failing`/`--known-flaky` arguments for one invocation (lists written to `dir`). */
async function knownArgs(mode: Mode, c: Combination, dir: string): Promise<string[]> {
  const args: string[] = [];
  for (const kind of ["failing", "flaky"] as const) {
    let text: string;
    try {
      text = await Deno.readTextFile(here(`./known-${kind}-${mode}.txt`));
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) continue;
      throw err;
    }
    const patterns = applicable(parseKnownList(text), c);
    if (patterns.length === 0) continue;
    const file = `${dir}/known-${kind}-${mode}-${c.protocol}-${c.http}.txt`;
    await Deno.writeTextFile(file, patterns.join("\n") + "\n");
    args.push(`--known-${kind}`, `@${file}`);
  }
  return args;
}

interface InvokeOptions {
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
async function invoke(
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

/** The lines of a runner output worth showing for a failed invocation. */
function failureLines(output: string): string[] {
  const lines = output.split("\n");
  const keep: string[] = [];
  let inFailure = false;
  for (const line of lines) {
    if (
      /^(FAILED|Another|Total cases|\d+ passed|conformance (client|server):)/.test(line) ||
      /^error/i.test(line)
    ) {
      inFailure = line.startsWith("FAILED");
      keep.push(line);
    } else if (inFailure && line.startsWith("\t")) {
      keep.push(line);
    } else {
      inFailure = false;
    }
  }
  return keep;
}

function table(outcomes: Outcome[]): string {
  const head = ["mode", "combination", "passed", "known", "failed", "not run", "seconds", "status"];
  const rows = outcomes.map((o) => [
    o.mode,
    o.combination,
    String(o.passed),
    String(o.expected),
    String(o.failed),
    String(o.notRun),
    o.seconds.toFixed(1),
    o.wedged ? "WEDGED (killed)" : o.failed > 0 ? "FAIL" : "ok",
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const fmt = (r: string[]) =>
    r.map((v, i) => i < 2 ? v.padEnd(widths[i]) : v.padStart(widths[i])).join("  ");
  return [fmt(head), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(fmt)].join("\n");
}

const USAGE = `deno task conformance [options]

  --mode server|client|both   which side to test (default both)
  --full                      server mode: every case also over TLS (default: cleartext
                              only; the client runs cleartext either way)
  --only LIST                 combinations, e.g. connect/2,grpc-web/1.1 (default all:
                              ${COMBINATIONS.map(label).join(", ")})
  --stack LIST                server stacks, comma-separated (default main,fast; known:
                              ${Object.keys(SERVER_STACKS).join(", ")})
  --transport LIST            client transports, comma-separated (default router,lean; known:
                              ${Object.keys(CLIENT_STACKS).join(", ")})
  --run PATTERN               only test cases matching PATTERN (repeatable; the runner's syntax)
  --watchdog SECONDS          kill an invocation after this long (default 240)
  -v, --verbose               stream the runner's verbose output
`;

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      mode: { type: "string", default: "both" },
      full: { type: "boolean", default: false },
      only: { type: "string", multiple: true },
      stack: { type: "string", default: "main,fast" },
      transport: { type: "string", default: "router,lean" },
      run: { type: "string", multiple: true },
      watchdog: { type: "string", default: "240" },
      verbose: { type: "boolean", short: "v", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const modes: Mode[] = values.mode === "both"
    ? ["server", "client"]
    : values.mode === "server" || values.mode === "client"
    ? [values.mode]
    : [];
  if (modes.length === 0) throw new Error(`--mode must be server, client or both\n\n${USAGE}`);
  const only = (values.only ?? []).flatMap((v) => v.split(",")).map((s) => s.trim()).filter(Boolean)
    .map((s) => s.replace(/\/1$/, "/1.1"));
  const unknown = only.filter((s) => !COMBINATIONS.some((c) => label(c) === s));
  if (unknown.length > 0) {
    throw new Error(
      `unknown --only ${unknown.join(", ")}; known: ${COMBINATIONS.map(label).join(", ")}`,
    );
  }
  const combinations = only.length
    ? COMBINATIONS.filter((c) => only.includes(label(c)))
    : COMBINATIONS;
  const stacks = values.stack!.split(",").map((s) => s.trim()).filter(Boolean);
  for (const s of stacks) if (!(s in SERVER_STACKS)) throw new Error(`unknown --stack ${s}`);
  const transports = values.transport!.split(",").map((s) => s.trim()).filter(Boolean);
  for (const t of transports) {
    if (!(t in CLIENT_STACKS)) throw new Error(`unknown --transport ${t}`);
  }
  const watchdogSeconds = Number(values.watchdog);
  if (!(watchdogSeconds > 0)) throw new Error("--watchdog must be > 0");

  const runner = await findRunner();
  const dir = await Deno.makeTempDir({ prefix: "conformance-" });
  const started = performance.now();
  const outcomes: Outcome[] = [];
  console.log(
    `connectconformance ${CONFORMANCE_VERSION}, ${values.full ? "full" : "reduced"} suite, ` +
      `server stacks ${stacks.join(", ")}, client transports ${transports.join(", ")}`,
  );
  try {
    // Server mode: each stack on the protocols it serves; client mode: each transport on
    // the protocols it speaks itself (the lean one hands the others to the router's).
    type Run = { mode: Mode; c: Combination; stack: string; transport: string };
    const runs: Run[] = [];
    for (const mode of modes) {
      if (mode === "server") {
        for (const stack of stacks) {
          for (const c of combinations) {
            if (stackServes(stack, c.protocol)) runs.push({ mode, c, stack, transport: "" });
          }
        }
        continue;
      }
      for (const transport of transports) {
        for (const c of combinations) {
          if (transportSpeaks(transport, c.protocol)) runs.push({ mode, c, stack: "", transport });
        }
      }
    }
    for (const { mode, c, stack, transport } of runs) {
      {
        const o = await invoke(runner, mode, c, {
          tls: values.full!,
          run: values.run ?? [],
          stack,
          transport,
          watchdogSeconds,
          verbose: values.verbose!,
          dir,
        });
        const which = mode === "server" ? stack : transport;
        outcomes.push({ ...o, combination: `${which} ${o.combination}` });
        const status = o.wedged ? "WEDGED" : o.failed > 0 ? "FAIL" : "ok";
        console.log(
          `${mode} ${which} ${
            label(c)
          }: ${o.passed} passed, ${o.failed} failed, ${o.expected} known ` +
            `(${o.seconds.toFixed(1)} s) ${status}`,
        );
        if ((o.failed > 0 || o.wedged) && !values.verbose) {
          for (const line of failureLines(o.output)) console.log(`  ${line}`);
          if (o.wedged) console.log(`  killed after ${watchdogSeconds} s`);
        }
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  const passed = outcomes.reduce((n, o) => n + o.passed, 0);
  // A wedged invocation counts as at least one failure (its count is unknown).
  const failed = outcomes.reduce((n, o) => n + Math.max(o.failed, o.wedged ? 1 : 0), 0);
  const known = outcomes.reduce((n, o) => n + o.expected, 0);
  console.log("\n" + table(outcomes));
  console.log(
    `\n${
      ((performance.now() - started) / 1000).toFixed(1)
    } s; ${known} known failures failed as expected`,
  );
  console.log(`${passed} passed, ${failed} failed`);
  return failed > 0 ? 1 : 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (err) {
    console.error(`conformance: ${err instanceof Error ? err.message : err}`);
    Deno.exit(2);
  }
}
