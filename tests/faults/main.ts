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
 * the children's logs go to `artifacts/faults/*.log`.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { REPO_ROOT } from "../../db/cluster.ts";
import { type FaultConfig, FULL, REDUCED } from "./config.ts";
import type { ExperimentContext } from "./experiment.ts";
import { EXPERIMENTS } from "./experiments/mod.ts";
import type { AckedWrite } from "./load.ts";
import { type ExperimentResult, formatTable } from "./result.ts";
import { Stack } from "./stack.ts";

const HELP = `Usage: deno task test:faults [options]

Fault injection on a 3-node Cassandra (RF 3, LOCAL_QUORUM) of its own, two data-service
instances and the gateway; prints a table and writes JSON. Experiments:
  ${EXPERIMENTS.map((e) => e.name).join(", ")}

Options:
  --reduced          the CI size: shorter faults, 10k reads / 2k writes overloads
  --only LIST        run only these experiments (comma-separated names)
  --out FILE         JSON output (default bench/faults.json)
  --state-dir DIR    the fault cluster's state (default <repo>/.cassandra-faults)
  --ip-base P        its loopback prefix (default 127.0.1: nodes 127.0.1.1..3)
  --base-port P      ports P, P+1 (instances) and P+2 (gateway); default: free ports
  --keep-cluster     leave the fault cluster running at the end (default: stop it
                     when this run started it)
  --allow-failures   exit 0 even when checks failed (not when an experiment could not run)
  -h, --help         this help

Exit codes: 0 every check passed, 1 a check failed or an experiment could not run,
2 bad flags.`;

if (import.meta.main) {
  let v;
  try {
    v = parseArgs({
      args: Deno.args,
      strict: true,
      options: {
        reduced: { type: "boolean", default: false },
        only: { type: "string" },
        out: { type: "string", default: `${REPO_ROOT}/bench/faults.json` },
        "state-dir": { type: "string", default: `${REPO_ROOT}/.cassandra-faults` },
        "ip-base": { type: "string", default: "127.0.1" },
        "base-port": { type: "string", default: "0" },
        "keep-cluster": { type: "boolean", default: false },
        "allow-failures": { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    }).values;
  } catch (e) {
    console.error(`error: ${(e as Error).message}\nRun with --help for the options.`);
    Deno.exit(2);
  }
  if (v.help) {
    console.log(HELP);
    Deno.exit(0);
  }
  const only = v.only?.split(",").map((s) => s.trim()).filter(Boolean);
  const unknown = only?.filter((n) => !EXPERIMENTS.some((e) => e.name === n)) ?? [];
  const basePort = Number(v["base-port"]);
  if (unknown.length || !Number.isInteger(basePort) || basePort < 0 || basePort > 65533) {
    console.error(
      `error: ${
        unknown.length ? `unknown experiment ${unknown.join(", ")}` : "bad --base-port"
      }\nRun with --help for the options.`,
    );
    Deno.exit(2);
  }
  Deno.exit(await runSuite({ ...v, only, basePort }));
}

async function runSuite(o: {
  reduced: boolean;
  only?: string[];
  out: string;
  "state-dir": string;
  "ip-base": string;
  basePort: number;
  "keep-cluster": boolean;
  "allow-failures": boolean;
}): Promise<number> {
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
    stateDir: o["state-dir"],
    ipBase: o["ip-base"],
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
    stack.close(o["keep-cluster"]).finally(() => Deno.exit(130));
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
    await stack.close(o["keep-cluster"]);
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
  return errors || (failedChecks && !o["allow-failures"]) ? 1 : 0;
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
