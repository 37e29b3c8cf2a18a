/**
 * `deno task docs`: writes the flag tables of `serve`, `gateway`, `load`,
 * `start` and `db` into README.md from the commands' own flag tables
 * (lib/flags_markdown.ts), between `<!-- flags:NAME -->` markers.
 * `--check` only says whether README.md is up to date (exit 1 if not; a test
 * runs the same check).
 *
 * @module
 */
import { answerHelpAndErrors, type Command, defineCommand, parseCommand } from "../lib/flags.ts";
import { fillFlagTables } from "../lib/flags_markdown.ts";
import { SERVE } from "../server/serve_flags.ts";
import { GATEWAY } from "../gateway/main.ts";
import { LOAD } from "./load_flags.ts";
import { START } from "./start.ts";
import { DB } from "../db/main.ts";

/** The commands whose tables README.md holds, by region name. */
export const README_COMMANDS: Readonly<Record<string, Command>> = {
  serve: SERVE,
  gateway: GATEWAY,
  load: LOAD,
  start: START,
  db: DB,
};

/** README.md as it should be. */
export function expectedReadme(current: string): string {
  return fillFlagTables(current, README_COMMANDS);
}

/** `deno task docs`. */
export const DOCS = defineCommand({
  name: "docs",
  summary: "Writes the flag tables and --help texts in README.md from the commands' flag tables.",
  flags: [
    {
      name: "check",
      type: "bool",
      help: "Only check that README.md is up to date (exit 1 if not)",
    },
  ],
});

if (import.meta.main) {
  const parsed = answerHelpAndErrors(DOCS, () => parseCommand(DOCS, Deno.args, () => undefined));
  if (typeof parsed === "number") Deno.exit(parsed);
  const path = new URL("../README.md", import.meta.url);
  const current = await Deno.readTextFile(path);
  const want = expectedReadme(current);
  if (parsed.values.check) {
    if (want !== current) {
      console.error("README.md flag tables are stale: run `deno task docs`");
      Deno.exit(1);
    }
  } else if (want !== current) {
    await Deno.writeTextFile(path, want);
    console.log("README.md: flag tables updated");
  } else {
    console.log("README.md: flag tables up to date");
  }
}
