/**
 * `deno task bench:commitlog`: what durable acknowledgements cost. For each
 * `commitlog_sync` mode, restarts a cluster of its own (never the default
 * one: its own state directory and loopback prefix) with that mode, then
 * writes rows of `dataservices.messages` through cassandra-driver at
 * LOCAL_QUORUM, closed loop, at a few concurrencies, and reports writes/s and
 * p50/p99 latency per mode and concurrency. Writes the figures as JSON.
 *
 * ```sh
 * deno task bench:commitlog [--nodes 3] [--writes 3000] [--concurrency 1,16,128]
 *   [--modes periodic,batch,group] [--state-dir .cassandra-bench] [--ip-base 127.0.2]
 *   [--out bench/commitlog.json] [--keep]
 * ```
 *
 * @module
 */
import cassandra from "cassandra-driver";
import { clientOptions, down, ensureUp, settingsFromEnv } from "./cluster.ts";
import type { CommitlogSync } from "./templates.ts";
import { answerHelpAndErrors } from "../lib/flags.ts";
import { percentile } from "../lib/stats.ts";
import { COMMITLOG_BENCH, parseCommitlogBenchArgs } from "./bench_commitlog_flags.ts";

/** One measured cell: a mode at a concurrency. */
export interface CommitlogResult {
  mode: CommitlogSync;
  concurrency: number;
  writes: number;
  errors: number;
  writesPerSecond: number;
  p50Ms: number;
  p99Ms: number;
}

/**
 * Runs `total` calls of `write`, at most `concurrency` at a time, and returns
 * each successful call's latency in ms and the number of failures.
 */
export async function closedLoop(
  total: number,
  concurrency: number,
  write: (i: number) => Promise<unknown>,
): Promise<{ latencies: number[]; errors: number; elapsedMs: number }> {
  const latencies: number[] = [];
  let errors = 0;
  let next = 0;
  const t0 = performance.now();
  const worker = async () => {
    while (next < total) {
      const i = next++;
      const t = performance.now();
      try {
        await write(i);
        latencies.push(performance.now() - t);
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, worker));
  return { latencies, errors, elapsedMs: performance.now() - t0 };
}

const INSERT = "INSERT INTO dataservices.messages " +
  "(channel_id, bucket, message_id, author_id, content) VALUES (?, ?, ?, ?, ?)";

async function measure(
  client: cassandra.Client,
  mode: CommitlogSync,
  concurrency: number,
  writes: number,
  base: bigint,
): Promise<CommitlogResult> {
  const Long = cassandra.types.Long;
  const content = "x".repeat(100);
  const { latencies, errors, elapsedMs } = await closedLoop(
    writes,
    concurrency,
    (i) =>
      client.execute(
        INSERT,
        // one partition per 100 writes, like a busy channel
        [
          Long.fromString(String(base + BigInt(Math.floor(i / 100)))),
          0,
          Long.fromNumber(i),
          1,
          content,
        ],
        { prepare: true, consistency: cassandra.types.consistencies.localQuorum },
      ),
  );
  const sorted = latencies.sort((a, b) => a - b);
  return {
    mode,
    concurrency,
    writes,
    errors,
    writesPerSecond: Math.round(latencies.length / (elapsedMs / 1000)),
    p50Ms: Number((percentile(sorted, 50) ?? 0).toFixed(2)),
    p99Ms: Number((percentile(sorted, 99) ?? 0).toFixed(2)),
  };
}

/** The command line; returns the exit code. */
async function main(args: readonly string[]): Promise<number> {
  const v = answerHelpAndErrors(COMMITLOG_BENCH, () => parseCommitlogBenchArgs(args));
  if (typeof v === "number") return v;
  const { nodes, writes, concurrencies, modes } = v;
  const results: CommitlogResult[] = [];
  const base = 1n << 40n;
  for (const [k, mode] of modes.entries()) {
    const s = settingsFromEnv({
      stateDir: v.stateDir,
      ipBase: v.ipBase,
      commitlogSync: mode,
      mode: "java",
      externalContactPoints: undefined,
    });
    await down(s);
    const info = await ensureUp(nodes, { settings: s });
    const client = new cassandra.Client(clientOptions(info));
    await client.connect();
    try {
      await measure(client, mode, 16, 500, base); // warm-up: JIT, prepared statement
      for (const c of concurrencies) {
        const r = await measure(client, mode, c, writes, base + BigInt((k + 1) * 1_000_000 + c));
        results.push(r);
        console.error(
          `${mode.padEnd(8)} c=${String(c).padStart(3)}: ${r.writesPerSecond} writes/s, ` +
            `p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms, ${r.errors} errors`,
        );
      }
    } finally {
      await client.shutdown();
    }
  }
  if (!v.keep) {
    await down(settingsFromEnv({ stateDir: v.stateDir, ipBase: v.ipBase, mode: "java" }));
  }
  console.log("| mode     | concurrency | writes/s | p50 ms | p99 ms | errors |");
  console.log("| -------- | ----------: | -------: | -----: | -----: | -----: |");
  for (const r of results) {
    console.log(
      `| ${r.mode.padEnd(8)} | ${String(r.concurrency).padStart(11)} | ${
        String(r.writesPerSecond).padStart(8)
      } | ${String(r.p50Ms).padStart(6)} | ${String(r.p99Ms).padStart(6)} | ${
        String(r.errors).padStart(6)
      } |`,
    );
  }
  await Deno.writeTextFile(
    v.out,
    JSON.stringify(
      {
        command: `deno task bench:commitlog ${args.join(" ")}`.trim(),
        nodes,
        writesPerCell: writes,
        consistency: "LOCAL_QUORUM",
        at: new Date().toISOString(),
        results,
      },
      null,
      2,
    ) + "\n",
  );
  console.error(`wrote ${v.out}`);
  return 0;
}

if (import.meta.main) {
  Deno.exitCode = await main(Deno.args);
}
