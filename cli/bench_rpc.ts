/**
 * `deno task bench:rpc`: what one call costs, server and client side,
 * measured in one run (issue 9, "Deliver 1").
 *
 * 1. The floor: bench/floor, a minimal grpc-go server of
 *    `dataservices.v1.MessagesService/GetMessage` answering from memory,
 *    built with `go build` into a temporary directory.
 * 2. One data-service instance (`server/main.ts`, on the running Cassandra
 *    with the demo data) pinned to CPU 0; h2load pinned to CPU 1 drives the
 *    hot key GetMessage{1, 1000} in every protocol x HTTP version, on the
 *    main port and, when `/healthz` announces `fastPort`, on the fast one.
 *    Per case: calls/s, server CPU µs per call, ratio to the floor; every
 *    call is checked (see bench_rpc_measure.ts, bench_rpc_checks.ts).
 * 3. The original client's shape: 5,000 gRPC calls at once on one
 *    connection (`h2load -c 1 -m 5000`): queries per request.
 * 4. The load CLI's client CPU per call for each `--protocol`, and the
 *    headline `deno task load --channels 20 --requests 10000`.
 * 5. `--cpu-prof CASE`: one more run of CASE on an instance started with
 *    `--cpu-prof`, summarized by category and function.
 *
 * Writes bench/rpc.json and prints a table. This module is the command:
 * flags (bench_rpc_flags.ts), Ctrl-C, the run (bench_rpc_run.ts), the
 * table (bench_rpc_report.ts) and the JSON file.
 *
 * @module
 */
import { dirname } from "node:path";
import { answerHelpAndErrors } from "../lib/flags.ts";
import { BENCH_RPC, parseBenchRpcArgs } from "./bench_rpc_flags.ts";
import { runBenchRpc } from "./bench_rpc_run.ts";
import { type BenchRpcResult, formatReport } from "./bench_rpc_report.ts";
import { formatProfileSummary } from "./cpu_profile.ts";

/** The command line; returns the exit code. */
export async function main(args: readonly string[]): Promise<number> {
  const o = answerHelpAndErrors(BENCH_RPC, () => parseBenchRpcArgs(args));
  if (typeof o === "number") return o;
  const abort = new AbortController();
  let killNow = () => {};
  const onSignal = () => {
    if (abort.signal.aborted) {
      killNow();
      Deno.exit(130);
    }
    console.error("\ninterrupted: stopping every process the bench started (again to quit now)");
    abort.abort();
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  let result: BenchRpcResult;
  try {
    result = await runBenchRpc(o, abort.signal, undefined, (k) => (killNow = k));
  } catch (err) {
    if (abort.signal.aborted) return 130;
    console.error(`error: ${(err as Error).message}`);
    return 1;
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
  if (abort.signal.aborted) return 130;
  console.log(formatReport(result));
  if (result.profile) console.log("\n" + formatProfileSummary(result.profile.summary));
  if (o.out !== "") {
    await Deno.mkdir(dirname(o.out), { recursive: true });
    await Deno.writeTextFile(o.out, JSON.stringify(result, null, 2) + "\n");
    console.log(`\nResults written to ${o.out} (${(result.elapsedMs / 1000).toFixed(0)} s).`);
  }
  return result.ok ? 0 : 1;
}

if (import.meta.main) {
  Deno.exitCode = await main(Deno.args);
}
