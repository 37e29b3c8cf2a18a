/**
 * The known failures and flakes of the conformance suite
 * (`known-failing-MODE.txt`, `known-flaky-MODE.txt` beside this file): one
 * runner test-name pattern a line, optionally only for some combinations,
 * handed to each invocation as the runner's `--known-failing` and
 * `--known-flaky` lists.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { type Combination, COMBINATIONS, label, type Mode } from "./combinations.ts";

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

/**
 * `--known-failing`/`--known-flaky` arguments for one invocation: the
 * patterns that apply to `c`, written to lists in `dir`.
 */
export async function knownArgs(mode: Mode, c: Combination, dir: string): Promise<string[]> {
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
