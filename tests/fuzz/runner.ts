/**
 * Runs the fuzz cases against an instance in a child process: in batches,
 * several at a time over both listeners and both HTTP versions; after each
 * batch, a normal call per port, HTTP version and protocol must still
 * succeed and the process must still run. Collects codes per protocol, the
 * slowest answer and every broken rule.
 *
 * @module
 */
import {
  type CaseContext,
  describe,
  type FuzzCase,
  makeCase,
  normalCall,
  type Port,
} from "./cases.ts";
import { H1Client } from "./http1.ts";
import { H2Client } from "./http2.ts";
import { codeOf, type Result, verdict } from "./outcome.ts";

/** The instance under test, in its own process. */
export interface FuzzInstance {
  readonly ctx: CaseContext;
  readonly mainPort: number;
  readonly fastPort: number;
  /** Whether the process still runs. */
  alive(): boolean;
  /** What the process wrote to stderr (the last 64 KiB). */
  stderr(): string;
  /** Stops it; resolves with its exit code. */
  stop(): Promise<number>;
}

/**
 * Starts `tests/fuzz/instance.ts` with `--read-max-bytes readMaxBytes` and
 * more serve flags (`args` may start with `--store-latency-ms N`).
 */
export async function startFuzzInstance(
  readMaxBytes: number,
  args: readonly string[] = [],
): Promise<FuzzInstance> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("./instance.ts", import.meta.url).pathname,
      ...(args[0] === "--store-latency-ms" ? args.slice(0, 2) : []),
      "--read-max-bytes",
      String(readMaxBytes),
      ...(args[0] === "--store-latency-ms" ? args.slice(2) : args),
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let exited: number | undefined;
  const status = child.status.then((s) => exited = s.code);
  let err = "";
  const errDone = (async () => {
    const dec = new TextDecoder();
    for await (const chunk of child.stderr) err = (err + dec.decode(chunk)).slice(-65536);
  })();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let line = "";
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  try {
    while (!line.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`fuzz instance exited before it listened: ${err}`);
      line += value;
    }
  } finally {
    clearTimeout(timer);
  }
  const drain = (async () => {
    while (!(await reader.read()).done) { /* ignore */ }
  })();
  const info = JSON.parse(line.slice(0, line.indexOf("\n"))) as {
    url: string;
    fastUrl: string;
    channelId: string;
    messageId: string;
  };
  const writer = child.stdin.getWriter();
  return {
    ctx: {
      readMaxBytes,
      known: { channelId: BigInt(info.channelId), messageId: BigInt(info.messageId) },
    },
    mainPort: Number(new URL(info.url).port),
    fastPort: Number(new URL(info.fastUrl).port),
    alive: () => exited === undefined,
    stderr: () => err,
    async stop() {
      if (exited === undefined) {
        await writer.close().catch(() => {});
        const t = setTimeout(() => child.kill("SIGKILL"), 10_000);
        await status;
        clearTimeout(t);
      }
      await Promise.all([errDone, drain]);
      return exited!;
    },
  };
}

/**
 * Names the upstream abort of Deno 2.9.6's node:http2 if an instance's exit
 * is one (denoland/deno#36788: the nghttp2 assertion
 * `find_stream_on_goaway_func`, sometimes a segfault instead; seen after
 * HTTP/2 sessions that sent header blocks over about 16 KB end). Undefined
 * for any other exit.
 */
export function upstreamH2Abort(exit: number, stderr: string): string | undefined {
  if (exit === 134 && stderr.includes("find_stream_on_goaway_func")) {
    return "nghttp2 assertion find_stream_on_goaway_func (denoland/deno#36788)";
  }
  if (exit === 139) return "segfault (exit 139), as denoland/deno#36788 also shows";
  return undefined;
}

/**
 * HTTP/2 request bodies above this size are sent on a session of their own.
 * Deno 2.9.6's node:http2 client stalls (sometimes blocking its event loop)
 * when a server answers a stream early and resets it while other streams of
 * the session still have data to send; h2load sends the same requests on one
 * connection without trouble, so it is the client's flow-control accounting.
 */
const SHARED_SESSION_BODY = 16 * 1024;

/** Options of {@linkcode runFuzz}. */
export interface FuzzOptions {
  readonly seed: number;
  /** Cases 0..cases-1. */
  readonly cases: number;
  /** Cases per batch (a normal call after each). Default 250. */
  readonly batch?: number;
  /** Requests in flight at once. Default 8. */
  readonly concurrency?: number;
  /** Only these case numbers (to rerun failures). */
  readonly only?: readonly number[];
  /** Gives up on an answer after this long (ms). Default 5000. */
  readonly hardTimeoutMs?: number;
  /** Progress lines. */
  readonly log?: (line: string) => void;
}

/** One broken rule. */
export interface Failure {
  readonly case: string;
  readonly why: string;
  readonly code: string;
  readonly detail?: string;
}

/** What a run saw. */
export interface FuzzReport {
  readonly seed: number;
  /** Cases sent (those the client library refused to send are in `unsendable`). */
  sent: number;
  unsendable: number;
  /** Codes per protocol. */
  readonly codes: Record<string, Record<string, number>>;
  /** Cases per family. */
  readonly families: Record<string, number>;
  /** Cases per listener and HTTP version. */
  readonly transports: Record<string, number>;
  slowest: { ms: number; case: string };
  readonly failures: Failure[];
  /** Normal calls after batches that did not succeed. */
  readonly normalFailures: string[];
  batches: number;
  /**
   * Times the instance process died (then a new one was started and the run
   * went on): the batch, and what the process said last.
   */
  readonly crashes: { batch: number; exit: number; said: string }[];
  /** Broken rules in batches during which the instance died (not in `failures`). */
  lostToCrashes: number;
  /** HTTP/2 session errors seen by the client. */
  readonly sessionErrors: string[];
  durationMs: number;
}

/**
 * Runs the cases against instances from `start` (a new one after a crash);
 * never throws for what the server does (it is in the report).
 */
export async function runFuzz(
  start: () => Promise<FuzzInstance>,
  o: FuzzOptions,
): Promise<FuzzReport> {
  let instance = await start();
  const batch = o.batch ?? 250;
  const concurrency = o.concurrency ?? 8;
  const hard = o.hardTimeoutMs ?? 5000;
  const indices = o.only ?? Array.from({ length: o.cases }, (_, i) => i);
  const report: FuzzReport = {
    seed: o.seed,
    sent: 0,
    unsendable: 0,
    codes: {},
    families: {},
    transports: {},
    slowest: { ms: 0, case: "" },
    failures: [],
    normalFailures: [],
    batches: 0,
    crashes: [],
    lostToCrashes: 0,
    sessionErrors: [],
    durationMs: 0,
  };
  const started = performance.now();
  let h1 = { main: new H1Client(instance.mainPort), fast: new H1Client(instance.fastPort) };
  const base = (p: number) => `http://127.0.0.1:${p}`;
  let h2 = {
    main: new H2Client(base(instance.mainPort)),
    fast: new H2Client(base(instance.fastPort)),
  };

  const send = async (c: FuzzCase): Promise<Result> => {
    const port: Port = c.port;
    if (c.http === "h1") return h1[port].send(c.raw ?? c, hard);
    if (c.body.length <= SHARED_SESSION_BODY) return h2[port].send(c, hard);
    // See SHARED_SESSION_BODY: a large body gets a session of its own.
    const alone = new H2Client(base(port === "main" ? instance.mainPort : instance.fastPort));
    try {
      return await alone.send(c, hard);
    } finally {
      report.sessionErrors.push(...alone.sessionErrors);
      await alone.close();
    }
  };

  const record = (c: FuzzCase, result: Result) => {
    const code = codeOf(c, result);
    if (code === "unsendable") {
      report.unsendable++;
      return;
    }
    report.sent++;
    const byCode = report.codes[c.protocol] ??= {};
    byCode[code] = (byCode[code] ?? 0) + 1;
    const family = c.family.replace(/\/flags-\d+$/, "/flags");
    report.families[family] = (report.families[family] ?? 0) + 1;
    const t = `${c.port}/${c.http}`;
    report.transports[t] = (report.transports[t] ?? 0) + 1;
    if (result.ms > report.slowest.ms) report.slowest = { ms: result.ms, case: describe(c) };
    const why = verdict(c, code, result.ms);
    if (why !== undefined) {
      report.failures.push({
        case: describe(c),
        why,
        code,
        detail: result.kind === "closed" ? result.detail : undefined,
      });
    }
  };

  for (let b = 0; b < indices.length; b += batch) {
    const todo = indices.slice(b, b + batch);
    const failuresBefore = report.failures.length;
    let next = 0;
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (next < todo.length) {
        const c = makeCase(o.seed, todo[next++], instance.ctx);
        record(c, await send(c));
      }
    }));
    // HTTP/2 sessions end after each batch (a fresh one per batch).
    report.sessionErrors.push(...h2.main.sessionErrors, ...h2.fast.sessionErrors);
    await Promise.all([h2.main.close(), h2.fast.close()]);
    h2 = {
      main: new H2Client(base(instance.mainPort)),
      fast: new H2Client(base(instance.fastPort)),
    };
    report.batches++;
    if (!instance.alive()) {
      const exit = await instance.stop();
      const said = instance.stderr().split("\n").filter((l) =>
        /\S/.test(l) && !/legacy-abort/.test(l)
      );
      report.crashes.push({ batch: report.batches, exit, said: said.slice(-3).join(" | ") });
      report.lostToCrashes += report.failures.length - failuresBefore;
      report.failures.length = failuresBefore;
      o.log?.(`batch ${report.batches}: the instance died (exit ${exit}); starting a new one`);
      h1.main.close();
      h1.fast.close();
      instance = await start();
      h1 = { main: new H1Client(instance.mainPort), fast: new H1Client(instance.fastPort) };
      h2 = {
        main: new H2Client(base(instance.mainPort)),
        fast: new H2Client(base(instance.fastPort)),
      };
    }
    for (const port of ["main", "fast"] as const) {
      for (const http of ["h1", "h2"] as const) {
        const protocols = port === "main"
          ? (["connect-proto", "connect-json", "grpc-web", "grpc"] as const)
          : (["connect-proto", "connect-json", "grpc-web"] as const);
        for (const protocol of protocols) {
          const c = normalCall(instance.ctx, protocol, port, http);
          const result = await send(c);
          const code = codeOf(c, result);
          if (code !== "ok") {
            report.normalFailures.push(
              `after batch ${report.batches}: ${protocol} ${port}/${http} got ${code}${
                result.kind === "closed" ? ` (${result.detail})` : ""
              }`,
            );
          }
        }
      }
    }
    o.log?.(
      `batch ${report.batches}: ${Math.min(b + batch, indices.length)}/${indices.length} cases, ` +
        `${report.failures.length} failures, slowest ${Math.round(report.slowest.ms)} ms`,
    );
  }
  h1.main.close();
  h1.fast.close();
  await Promise.all([h2.main.close(), h2.fast.close()]);
  const exit = await instance.stop();
  if (exit !== 0) {
    report.crashes.push({ batch: report.batches, exit, said: instance.stderr().slice(-300) });
  }
  report.durationMs = performance.now() - started;
  return report;
}

/** The report as text: codes per protocol, transports, slowest, failures. */
export function formatReport(r: FuzzReport, cases: number): string {
  const lines: string[] = [];
  lines.push(
    `fuzz: seed ${r.seed}, ${cases} cases, ${r.sent} answered/judged, ${r.unsendable} not sendable ` +
      `by the client, ${r.batches} batches, ${(r.durationMs / 1000).toFixed(1)} s`,
  );
  lines.push(`rerun: FUZZ_SEED=${r.seed} FUZZ_CASES=${cases} deno task test:fuzz`);
  for (const [protocol, codes] of Object.entries(r.codes).sort()) {
    const total = Object.values(codes).reduce((a, b) => a + b, 0);
    const list = Object.entries(codes).sort((a, b) => b[1] - a[1]).map(([c, n]) => `${c} ${n}`);
    lines.push(`  ${protocol.padEnd(15)} ${String(total).padStart(6)}: ${list.join(", ")}`);
  }
  lines.push(
    `  transports: ${Object.entries(r.transports).sort().map(([t, n]) => `${t} ${n}`).join(", ")}`,
  );
  lines.push(`  slowest answer: ${Math.round(r.slowest.ms)} ms (${r.slowest.case})`);
  lines.push(`  instance crashes: ${r.crashes.length}`);
  for (const c of r.crashes) lines.push(`    batch ${c.batch}: exit ${c.exit}: ${c.said}`);
  if (r.lostToCrashes) {
    lines.push(`  broken rules in crashed batches (not counted): ${r.lostToCrashes}`);
  }
  lines.push(`  normal calls failed after a batch: ${r.normalFailures.length}`);
  for (const n of r.normalFailures.slice(0, 10)) lines.push(`    ${n}`);
  lines.push(`  broken rules: ${r.failures.length}`);
  const byWhy = new Map<string, Failure[]>();
  for (const f of r.failures) {
    const key = `${f.why} :: ${f.case.split(" ")[1]}`;
    byWhy.set(key, [...(byWhy.get(key) ?? []), f]);
  }
  for (const [key, fs] of [...byWhy].sort((a, b) => b[1].length - a[1].length).slice(0, 40)) {
    lines.push(`    ${fs.length}x ${key}`);
    lines.push(`       e.g. ${fs[0].case}${fs[0].detail ? ` (${fs[0].detail})` : ""}`);
  }
  if (r.sessionErrors.length) {
    lines.push(`  HTTP/2 client session errors: ${r.sessionErrors.length} (${r.sessionErrors[0]})`);
  }
  return lines.join("\n");
}
