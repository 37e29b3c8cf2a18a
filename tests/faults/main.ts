/**
 * `deno task test:faults`: the fault-injection suite (issue 10). Brings up a
 * 3-node Cassandra of its own beside the shared one (RF 3, LOCAL_QUORUM; the
 * launcher's second cluster: `--state-dir`, `--ip-base`), two data-service
 * instances and the gateway, runs every experiment of `experiments/mod.ts`,
 * prints a table, writes it as JSON, and exits 1 when a check of issue 10's
 * "done when" failed (0 with `--allow-failures`) or an experiment could not
 * run to its end.
 *
 * ```sh
 * deno task test:faults [--reduced] [--only a,b] [--out bench/faults.json]
 *   [--state-dir .cassandra-faults] [--ip-base 127.0.1] [--base-port 0]
 *   [--keep-cluster] [--allow-failures]
 * ```
 *
 * Every acknowledged write is appended to `artifacts/faults/acked.jsonl`;
 * the children's logs go to `artifacts/faults/*.log`. The flags are in flags.ts.
 *
 * @module
 */
import { REPO_ROOT } from "../../db/cluster.ts";
import { answerHelpAndErrors } from "../../lib/flags.ts";
import { type FaultConfig, FULL, REDUCED } from "./config.ts";
import type { ExperimentContext } from "./experiment.ts";
import { EXPERIMENTS } from "./experiments/mod.ts";
import { FAULTS, type FaultSuiteOptions, parseFaultArgs } from "./flags.ts";
import type { AckedWrite } from "./load.ts";
import { type ExperimentResult, formatTable } from "./result.ts";
import { Stack } from "./stack.ts";

if (import.meta.main) {
  const o = answerHelpAndErrors(FAULTS, () => parseFaultArgs(Deno.args));
  Deno.exit(typeof o === "number" ? o : await runSuite(o));
}

async function runSuite(o: FaultSuiteOptions): Promise<number> {
  const config = o.reduced ? REDUCED : FULL;
  const t0 = performance.now();
  const log = (line: string) =>
    console.error(`[${((performance.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${line}`);
  const artifacts = `${REPO_ROOT}/artifacts/faults`;
  await Deno.mkdir(artifacts, { recursive: true });
  const ackPath = `${artifacts}/acked.jsonl`;
  const ackFile = await Deno.open(ackPath, {
    create: true,
    write: true,
    truncate: true,
  });
  const encoder = new TextEncoder();
  const known: AckedWrite[] = [];
  const experiments = EXPERIMENTS.filter((e) => !o.only || o.only.includes(e.name));
  log(`fault suite (${config.mode}): ${experiments.map((e) => e.name).join(", ")}`);
  const stack = await Stack.start({
    stateDir: o.stateDir,
    ipBase: o.ipBase,
    basePort: o.basePort,
    logDir: artifacts,
    log,
    callTimeoutMs: config.callTimeoutMs,
  });
  log(
    `stack up: Cassandra ${stack.cluster.contactPoints.join(",")}, ${
      stack.instances.map((i) => stack.url(i)).join(" ")
    }, gateway ${stack.url(stack.gateway)}`,
  );
  // Ctrl-C: stop the children (and the cluster this run started) before leaving
  const interrupt = () => {
    log("interrupted: stopping the stack");
    stack.close(o.keepCluster).finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", interrupt);
  const results: ExperimentResult[] = [];
  const runStart = Date.now();
  try {
    for (const [k, e] of experiments.entries()) {
      const restarted = await stack.ensureHealthy();
      if (restarted.length) log(`restarted before ${e.name}: ${restarted.join(", ")}`);
      log(`${e.name}: ${e.description}`);
      const ctx: ExperimentContext = {
        stack,
        config,
        log,
        known,
        ackFile: ackPath,
        onAck: (w) => {
          known.push(w);
          ackFile.writeSync(encoder.encode(JSON.stringify(w) + "\n"));
        },
        seqStart: (k + 1) * 10_000_000,
        seed: 1000 + k,
        // disjoint channel ranges per experiment and per run
        firstChannel: (BigInt(runStart) % 1_000_000n) * 10_000_000n + BigInt(k) * 100_000n + 1n,
        dir: `${artifacts}/${e.name}`,
      };
      let r: ExperimentResult;
      try {
        r = await e.run(ctx);
      } catch (err) {
        r = failed(e, err as Error);
      }
      results.push(r);
      log(`${e.name}: ${formatTable([r]).split("\n")[2]}`);
      await stack.flushLogs();
      // after every experiment, so a crash of the runner keeps what was measured
      await writeJson(o.out, config, results, performance.now() - t0, false);
    }
  } finally {
    Deno.removeSignalListener("SIGINT", interrupt);
    ackFile.close();
    await stack.close(o.keepCluster);
  }
  const table = formatTable(results);
  console.log(table);
  await writeJson(o.out, config, results, performance.now() - t0, true);
  const checks = results.flatMap((r) => r.checks);
  const failedChecks = checks.filter((c) => !c.pass).length;
  const errors = results.filter((r) => r.error).length;
  console.log(
    `faults: ${checks.length - failedChecks} checks passed, ${failedChecks} failed, ` +
      `${errors} experiments could not run, in ${
        Math.round((performance.now() - t0) / 1000)
      } s; wrote ${o.out}`,
  );
  return errors || (failedChecks && !o.allowFailures) ? 1 : 0;
}

async function writeJson(
  out: string,
  config: FaultConfig,
  results: ExperimentResult[],
  elapsedMs: number,
  complete: boolean,
): Promise<void> {
  await Deno.writeTextFile(
    out,
    JSON.stringify(
      {
        command: `deno task test:faults ${Deno.args.join(" ")}`.trim(),
        mode: config.mode,
        complete,
        config,
        at: new Date().toISOString(),
        durationS: Math.round(elapsedMs / 1000),
        table: formatTable(results),
        results,
      },
      null,
      2,
    ) + "\n",
  );
}

function failed(
  e: { name: string; path: string; description: string },
  err: Error,
): ExperimentResult {
  return {
    experiment: e.name,
    path: e.path,
    description: e.description,
    sent: 0,
    ok: 0,
    failedByCode: {},
    ackedWrites: 0,
    lostAcked: null,
    lostAfterRepair: null,
    recoverMs: null,
    peakRssMb: 0,
    rssMbByProcess: {},
    maxLatencyMs: 0,
    timeline: [],
    extra: {},
    checks: [],
    error: err.message.split("\n")[0],
    durationMs: 0,
  };
}
