/**
 * What one runner invocation reported, read from its output: the counts of
 * its summary lines, and the lines worth showing when it failed.
 *
 * @module
 */
import type { Mode } from "./combinations.ts";

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

/** The lines of a runner output worth showing for a failed invocation. */
export function failureLines(output: string): string[] {
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
