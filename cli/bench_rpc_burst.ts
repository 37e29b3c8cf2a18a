/**
 * The coalescing case of `deno task bench:rpc`: the original client's shape
 * (5,000 gRPC calls at once on one connection) against one instance, and
 * how many Cassandra queries its requests cost (GetStats deltas).
 *
 * @module
 */
import { type H2loadSummary, runH2load } from "./bench_rpc_h2load.ts";
import { h2loadArgs, type RpcCase } from "./bench_rpc_cases.ts";
import { type InstanceStats, readErrorCodes, readStats, waitQuiet } from "./bench_rpc_instance.ts";
import { bodyFile, expectedBodyBytes } from "./bench_rpc_bodies.ts";
import { checkRun } from "./bench_rpc_checks.ts";
import { errorCodesSince, type MeasuredServer } from "./bench_rpc_servers.ts";
import type { MeasureSettings } from "./bench_rpc_measure.ts";

/** The coalescing case: the original client's shape against one instance. */
export interface BurstResult {
  readonly name: string;
  readonly ok: boolean;
  readonly problems: readonly string[];
  /** Calls of the burst (`-n`), all on one connection at once (`-m`). */
  readonly calls: number;
  /** GetStats deltas over the burst. */
  readonly requests: number;
  readonly queries: number;
  readonly coalesced: number;
  readonly errors: number;
  readonly rejected: number;
  readonly queriesPerRequest: number | null;
  readonly h2load: H2loadSummary | null;
  readonly crashedAtClose: boolean;
  readonly command: string;
}

/** The name of the burst case of `calls` calls, as `--cases` selects it. */
export function burstName(calls: number): string {
  return `coalesce-${calls}-streams/grpc/h2c/main`;
}

/**
 * `h2load -n calls -c 1 -m calls` of gRPC GetMessage{hot key} on the main
 * port: one connection carrying every call at once, as the original's Go
 * client does (5,000 streams per instance). h2load is paused at 50% (every
 * call has been sent by then unless the server caps streams per connection
 * below half of them) until GetStats settles, so the counts are read before
 * h2load closes the connection.
 */
export async function measureBurst(
  server: MeasuredServer & { readonly statsUrl: string },
  calls: number,
  s: MeasureSettings,
): Promise<BurstResult> {
  const name = burstName(calls);
  await server.ensureRunning();
  const c: RpcCase = { name, protocol: "grpc", http: "h2c", port: "main" };
  const url = server.baseUrl(c);
  const bodyBytes = await expectedBodyBytes(c, url, url);
  const args = h2loadArgs("grpc", "h2c", {
    baseUrl: url,
    total: calls,
    bodyFile: await bodyFile(s.workDir, "grpc"),
    clients: 1,
    streams: calls,
  });
  const before = await readStats(server.statsUrl);
  const codesBefore = await readErrorCodes(server.statsUrl);
  let mid: InstanceStats | undefined;
  const problems: string[] = [];
  s.log(`  ${name}: h2load ${args.slice(0, 6).join(" ")} -> ${url}`);
  const run = await runH2load({
    args,
    cpus: s.clientCpus,
    timeoutMs: s.h2loadTimeoutMs,
    signal: s.signal,
    async onProgress(p, control) {
      if (p !== 50) return;
      control.pause();
      try {
        mid = await waitQuiet(server.statsUrl, { timeoutMs: 30_000 });
      } catch (err) {
        problems.push(`GetStats at the pause: ${(err as Error).message}`);
      }
      control.resume();
    },
  });
  const crashed = await server.exitsWithin(300);
  // GetStats at the pause holds every count; if the server died afterwards, answers h2load had
  // not read yet (the second half) may be lost.
  const checks = checkRun({
    total: calls,
    summary: run.summary,
    bodyBytes,
    window: true,
    lostAllowed: crashed && mid ? calls - Math.ceil(calls / 2) : 0,
  });
  problems.push(...checks.problems);
  const d = (k: keyof Omit<InstanceStats, "startedAt">) => (mid ? mid[k] - before[k] : 0);
  if (!mid) problems.push("no GetStats at the 50% pause: counts unknown");
  else if (d("requests") !== calls) {
    problems.push(
      `GetStats: ${d("requests")} of ${calls} calls had finished at the pause ` +
        "(the server holds back streams past its per-connection cap)",
    );
  }
  if (mid && d("errors") !== 0) {
    problems.push(
      `GetStats: errors +${d("errors")} (${await errorCodesSince(server, codesBefore)})`,
    );
  }
  return {
    name,
    ok: problems.length === 0,
    problems,
    calls,
    requests: d("requests"),
    queries: d("queries"),
    coalesced: d("coalesced"),
    errors: d("errors"),
    rejected: d("rejected"),
    queriesPerRequest: mid && d("requests") > 0 ? d("queries") / d("requests") : null,
    h2load: run.summary,
    crashedAtClose: crashed,
    command: run.command,
  };
}

/** A burst that could not even run (probe failed, h2load missing, ...). */
export function brokenBurst(calls: number, err: unknown): BurstResult {
  return {
    name: burstName(calls),
    ok: false,
    problems: [(err as Error).message],
    calls,
    requests: 0,
    queries: 0,
    coalesced: 0,
    errors: 0,
    rejected: 0,
    queriesPerRequest: null,
    h2load: null,
    crashedAtClose: false,
    command: "",
  };
}
