/**
 * The `--help` text of a command, generated from its flag table: the usage
 * line, the summary, the flags by section (each with its default, the unit
 * of a bare duration and its environment variable), then the epilogue.
 *
 * Browser-safe: pure text (its import of `flags.ts` is types only).
 *
 * @module
 */
import { formatDuration } from "./duration.ts";
import type { Command, Flag, FlagType } from "./flags.ts";

/** Column where flag descriptions start. */
const COLUMN = 26;
/** Longest line --help writes when it can choose. */
const WIDTH = 100;

/** The --help text of a command, generated from its table. */
export function helpText(command: Command): string {
  const sections = new Map<string, string[]>();
  const add = (section: string, lines: string[]) =>
    sections.set(section, [...(sections.get(section) ?? []), ...lines]);
  for (const f of command.flags) add(f.section ?? "Options", flagLines(f));
  const last = [...sections.keys()].at(-1) ?? "Options";
  add(last, flagLines({ name: "help", short: "h", type: "bool", help: "Print this help" }));
  const out = [`Usage: ${command.usage ?? `deno task ${command.name} [options]`}`, ""];
  out.push(command.summary.trimEnd(), "");
  for (const [section, lines] of sections) {
    if (out.at(-1) !== "") out.push("");
    out.push(`${section}:`, ...lines);
  }
  if (command.epilogue) out.push("", command.epilogue.trimEnd());
  return out.join("\n");
}

/** A flag's default as --help and the README show it; undefined when it has none. */
export function defaultText(f: Flag): string | undefined {
  if (f.defaultHelp !== undefined) return f.defaultHelp || undefined;
  if (f.type === "bool" || f.default === undefined) return undefined;
  if (f.type === "duration") return formatDuration(f.default);
  if (f.type === "list") return f.default.join(",") || undefined;
  return String(f.default) || undefined;
}

function flagLines(f: Flag): string[] {
  const choices = f.type === "enum" && f.choices.join("|").length <= 24 ? f.choices.join("|") : "";
  const arg = f.type === "bool" ? "" : ` ${f.arg ?? (choices || ARG[f.type])}`;
  const left = `  ${f.short ? `-${f.short}, ` : "    "}--${f.name}${arg}`;
  const notes: string[] = [];
  const def = defaultText(f);
  if (def !== undefined) notes.push(`default ${def}`);
  if (f.type === "duration") notes.push(`a bare number is ${f.bare === "s" ? "seconds" : "ms"}`);
  if (f.type === "list" && f.repeatable) notes.push("repeatable");
  const help = f.help.split("\n");
  const tail = [notes.length ? `(${notes.join("; ")})` : "", f.env ? `[env ${f.env}]` : ""]
    .filter(Boolean).join(" ");
  if (tail && COLUMN + help[help.length - 1].length + 1 + tail.length <= WIDTH) {
    help[help.length - 1] += ` ${tail}`;
  } else if (tail) {
    help.push(tail);
  }
  const pad = " ".repeat(COLUMN);
  if (left.length >= COLUMN - 1) return [left, ...help.map((l) => pad + l)];
  return [left.padEnd(COLUMN) + help[0], ...help.slice(1).map((l) => pad + l)];
}

const ARG: Record<FlagType, string> = {
  string: "TEXT",
  int: "N",
  number: "X",
  bool: "",
  duration: "D",
  list: "LIST",
  enum: "WORD",
};
