/**
 * What `deno task bench:rpc` writes (bench/rpc.json) and prints: the cases
 * with their ratio to the grpc-go floor, the 5,000-stream coalescing case,
 * the load CLI's client cost, and issue 9's targets.
 *
 * @module
 */
import type { CaseResult } from "./bench_rpc_measure.ts";
import type { BurstResult } from "./bench_rpc_burst.ts";
import { planRun } from "./bench_rpc_cases.ts";
import type { ClientFigures } from "./bench_rpc_clients.ts";
import type { ProfileSummary } from "./cpu_profile.ts";

/** The machine and tools the figures come from. */
export interface MachineInfo {
  readonly nproc: number;
  readonly cpuModel: string;
  readonly kernel: string;
  readonly deno: string;
  readonly go: string | null;
  readonly h2load: string | null;
  /** /proc/loadavg before and after the run: a busy machine shows here. */
  readonly loadavgBefore: string;
  loadavgAfter: string;
}

/** The headline figure: `deno task load --channels 20 --requests 10000`. */
export interface LoadHeadline {
  readonly command: string;
  /** The report's total time (first send to last answer), ms. Target: <= 1500. */
  readonly totalTimeMs: number;
  /** The whole process, start-up included, ms. */
  readonly processWallMs: number;
  /** Target: <= 0.004. */
  readonly queriesPerRequest: number;
  readonly failed: number;
}

/** Everything one run measured. */
export interface BenchRpcResult {
  readonly timestamp: string;
  elapsedMs: number;
  readonly machine: MachineInfo;
  readonly settings: {
    readonly requests: number;
    readonly h2c: { readonly clients: number; readonly streams: number };
    readonly h1: { readonly clients: number };
    readonly serverCpus: string;
    readonly clientCpus: string;
    readonly window: string;
    readonly burstCalls: number;
  };
  readonly commands: Record<string, string | readonly string[]>;
  /** Whether the instance announced a fast listener (`/healthz` fastPort). */
  fastPort: boolean;
  /** The floor's server µs per call (grpc/h2c/floor), when measured and clean. */
  floorUsPerCall: number | null;
  readonly cases: CaseResult[];
  burst: BurstResult | null;
  clients: { readonly startupCpuMs: number; readonly runs: ClientFigures[] } | null;
  load: LoadHeadline | null;
  profile:
    | {
      readonly case: string;
      readonly file: string;
      /** The 20%..90% window was cut by the monotonic clock (else: from 20% on, roughly). */
      readonly windowExact: boolean;
      readonly serverUsPerCall: number | null;
      readonly summary: ProfileSummary;
    }
    | null;
  /** Why --cpu-prof gave no profile. */
  profileError?: string;
  /** Every case, the burst, the profile and every client run passed their checks. */
  ok: boolean;
}

/** Issue 9's target ratio to the floor for a case's protocol (undefined: none). */
export function targetRatio(protocol: string): number | undefined {
  if (protocol === "connect-proto" || protocol === "grpc-web") return 4;
  if (protocol === "grpc") return 8;
  return undefined;
}

/**
 * Sets each case's ratio to the floor and returns the floor's µs per call
 * (null when the floor was not measured or failed).
 */
export function applyFloor(cases: CaseResult[]): number | null {
  const floor = cases.find((c) => c.port === "floor");
  const us = floor?.ok && floor.serverUsPerCall ? floor.serverUsPerCall : null;
  for (const c of cases) {
    c.ratioToFloor = us !== null && c.serverUsPerCall !== null ? c.serverUsPerCall / us : null;
  }
  return us;
}

function table(head: string[], rows: string[][], leftColumns = 1): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) =>
    r.map((
      c,
      i,
    ) => (i < leftColumns || i === r.length - 1 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join("  ").trimEnd();
  return [line(head), ...rows.map(line)];
}

const num = (x: number | null, digits = 0) =>
  x === null || !Number.isFinite(x)
    ? "-"
    : x.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** How often the instance died (node:http2 abort) and was started again, if it did. */
function deathsLine(r: BenchRpcResult): string[] {
  const after = r.cases.filter((c) => c.crashedAtClose).length + (r.burst?.crashedAtClose ? 1 : 0);
  const inside = r.cases.reduce((n, c) => n + c.attempts - 1, 0);
  if (after + inside === 0) return [];
  return [
    `The instance died ${after + inside} time(s) and was started again: ${after} after a window, ` +
    `${inside} inside one (run again); Deno 2.9.6's node:http2 aborts (nghttp2 ` +
    "find_stream_on_goaway_func) when an h2load connection closes while others are busy.",
  ];
}

/** The text report: cases, burst, clients, headline, targets. */
export function formatReport(r: BenchRpcResult): string {
  const out: string[] = [];
  out.push(
    `Server CPU per call, hot key GetMessage{1, 1000}; server on CPU ${r.settings.serverCpus}, ` +
      `h2load on CPU ${r.settings.clientCpus}; window ${r.settings.window} of ` +
      `-n ${planRun(r.settings.requests).total} (${
        planRun(r.settings.requests).measured
      } calls measured); ` +
      `h2c -c ${r.settings.h2c.clients} -m ${r.settings.h2c.streams}, HTTP/1.1 -c ${r.settings.h1.clients}` +
      (r.fastPort ? "" : "; no fast listener announced"),
    "",
  );
  const rows = r.cases.map((c) => {
    const target = targetRatio(c.protocol);
    const met = target === undefined || c.ratioToFloor === null
      ? ""
      : `<=${target}x ${c.ratioToFloor <= target ? "met" : "not met"}`;
    const result = !c.ok
      ? "FAILED"
      : c.crashedAtClose
      ? `ok, server died after the window (${c.lostAfterWindow} lost)`
      : "ok";
    return [
      c.name,
      num(c.callsPerSecond),
      num(c.serverUsPerCall, 1),
      c.port === "floor" ? "1.00" : num(c.ratioToFloor, 2),
      met,
      String(c.failed),
      result,
    ];
  });
  if (rows.length === 0) out.push("(no server cases selected)");
  else {
    out.push(
      ...table(
        ["case", "calls/s", "server µs/call", "x floor", "target", "failed", "result"],
        rows,
      ),
    );
  }
  for (const c of r.cases.filter((c) => !c.ok)) {
    out.push(`  ${c.name} FAILED: ${c.problems.join("; ")}`);
  }
  const b = r.burst;
  if (b) {
    out.push(
      "",
      `Coalescing, the original client's shape (${b.calls} gRPC calls at once on 1 connection, 1 instance): ` +
        `${b.requests} requests, ${b.queries} queries, ${
          b.queriesPerRequest === null ? "-" : b.queriesPerRequest.toFixed(4)
        } queries/request, ${b.coalesced} coalesced, ${b.errors} errors, ${b.rejected} rejected` +
        (b.ok ? "" : `\n  FAILED: ${b.problems.join("; ")}`),
    );
  }
  const cl = r.clients;
  if (cl) {
    out.push(
      "",
      `Clients: deno task load --channels 20 --requests 10000 --protocol P (2 instances, not pinned); ` +
        `start-up (--help) ${num(cl.startupCpuMs)} ms CPU`,
    );
    out.push(
      ...table(
        [
          "protocol",
          "total ms",
          "process ms",
          "CPU ms",
          "µs/call",
          "net µs/call",
          "max RSS MB",
          "queries",
          "q/req",
          "failed",
          "result",
        ],
        cl.runs.map((f) => [
          f.protocol,
          num(f.totalTimeMs),
          num(f.processWallMs),
          num(f.cpuMs),
          num(f.usPerCall),
          num(f.usPerCallNetOfStartup),
          num(f.maxRssMb),
          String(f.queries),
          f.queriesPerRequest.toFixed(4),
          String(f.failed),
          f.ok ? "ok" : `FAILED: ${f.problems.join("; ")}`,
        ]),
      ),
    );
  }
  const l = r.load;
  if (l) {
    out.push(
      "",
      `Headline: ${l.command}: ${(l.totalTimeMs / 1000).toFixed(2)} s (target <= 1.5 s: ${
        l.totalTimeMs <= 1500 ? "met" : "not met"
      }; process ${(l.processWallMs / 1000).toFixed(2)} s), ${
        l.queriesPerRequest.toFixed(4)
      } queries/request ` +
        `(target <= 0.004: ${
          l.queriesPerRequest <= 0.004 ? "met" : "not met"
        }), ${l.failed} failed`,
    );
  }
  if (r.profileError) out.push("", `Profile FAILED: ${r.profileError}`);
  if (r.profile) {
    out.push(
      "",
      `Profile of ${r.profile.case} (${
        num(r.profile.serverUsPerCall, 1)
      } µs/call under the profiler): ${r.profile.file}`,
    );
  }
  out.push(
    "",
    `Machine: ${r.machine.nproc} CPUs (${r.machine.cpuModel}), Linux ${r.machine.kernel}, deno ${r.machine.deno}, ` +
      `${r.machine.go ?? "no go"}, ${
        r.machine.h2load ?? "no h2load"
      }; load average ${r.machine.loadavgBefore} ` +
      `before, ${r.machine.loadavgAfter} after.`,
    ...deathsLine(r),
    r.ok ? "All checks passed." : "Some checks FAILED (see above).",
  );
  return out.join("\n");
}
