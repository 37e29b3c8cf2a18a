/**
 * `deno task conformance`: runs the Connect conformance suite
 * (`connectconformance`, see `version.ts`) against the project's server
 * stack (`server.ts`) and client transport (`client.ts`), one runner
 * invocation per mode × protocol × HTTP version, each under a watchdog, and
 * prints a table and `N passed, N failed`. The default (what CI runs) is
 * every case in cleartext; `--full` adds the server's cases over TLS (the
 * client has no TLS here). Exits 1 on any unexpected failure (including a
 * test that was expected to fail but passed, a test the runner could not
 * run, and an invocation the watchdog had to kill); 2 on bad flags.
 *
 * ```sh
 * deno task conformance [--mode server|client|both] [--full] [--only connect/2,grpc-web/1.1]
 *                       [--stack NAME] [--transport NAME] [--run PATTERN]... [--watchdog D] [-v]
 * ```
 *
 * @module
 */
import { type Combination, label, type Mode } from "./combinations.ts";
import { findRunner } from "./tools.ts";
import { CONFORMANCE_VERSION } from "./version.ts";
import { stackServes } from "./stacks.ts";
import { transportSpeaks } from "./transports.ts";
import { answerHelpAndErrors } from "../lib/flags.ts";
import { CONFORMANCE, type ConformanceOptions, parseConformanceArgs } from "./run_flags.ts";
import { invokeRunner } from "./runner_invocation.ts";
import { failureLines, type Outcome } from "./outcome.ts";
import { summaryTable, totals } from "./summary.ts";

/** One runner invocation to make: a server stack or a client transport on one combination. */
interface Run {
  readonly mode: Mode;
  readonly c: Combination;
  readonly stack: string;
  readonly transport: string;
}

/**
 * Server mode: each stack on the protocols it serves; client mode: each
 * transport on the protocols it speaks itself (the lean one hands the others
 * to the router's).
 */
function planRuns(o: ConformanceOptions): Run[] {
  const runs: Run[] = [];
  for (const mode of o.modes) {
    if (mode === "server") {
      for (const stack of o.stacks) {
        for (const c of o.combinations) {
          if (stackServes(stack, c.protocol)) runs.push({ mode, c, stack, transport: "" });
        }
      }
      continue;
    }
    for (const transport of o.transports) {
      for (const c of o.combinations) {
        if (transportSpeaks(transport, c.protocol)) runs.push({ mode, c, stack: "", transport });
      }
    }
  }
  return runs;
}

async function main(argv: string[]): Promise<number> {
  const o = answerHelpAndErrors(CONFORMANCE, () => parseConformanceArgs(argv));
  if (typeof o === "number") return o;
  const runner = await findRunner();
  const dir = await Deno.makeTempDir({ prefix: "conformance-" });
  const started = performance.now();
  const outcomes: Outcome[] = [];
  console.log(
    `connectconformance ${CONFORMANCE_VERSION}, ${o.full ? "full" : "reduced"} suite, ` +
      `server stacks ${o.stacks.join(", ")}, client transports ${o.transports.join(", ")}`,
  );
  try {
    for (const { mode, c, stack, transport } of planRuns(o)) {
      const outcome = await invokeRunner(runner, mode, c, {
        tls: o.full,
        run: o.run,
        stack,
        transport,
        watchdogSeconds: o.watchdogSeconds,
        verbose: o.verbose,
        dir,
      });
      const which = mode === "server" ? stack : transport;
      outcomes.push({ ...outcome, combination: `${which} ${outcome.combination}` });
      const status = outcome.wedged ? "WEDGED" : outcome.failed > 0 ? "FAIL" : "ok";
      console.log(
        `${mode} ${which} ${
          label(c)
        }: ${outcome.passed} passed, ${outcome.failed} failed, ${outcome.expected} known ` +
          `(${outcome.seconds.toFixed(1)} s) ${status}`,
      );
      if ((outcome.failed > 0 || outcome.wedged) && !o.verbose) {
        for (const line of failureLines(outcome.output)) console.log(`  ${line}`);
        if (outcome.wedged) console.log(`  killed after ${o.watchdogSeconds} s`);
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  const { passed, failed, known } = totals(outcomes);
  console.log("\n" + summaryTable(outcomes));
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
    console.error(`error: ${err instanceof Error ? err.message : err}`);
    Deno.exit(1);
  }
}
