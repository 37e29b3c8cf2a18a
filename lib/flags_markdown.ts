/**
 * A command's flags as a Markdown table (flag, environment variable,
 * default, meaning), generated from the same table as its `--help`, so the
 * README cannot drift from the code: `deno task docs` writes the tables into
 * README.md between `<!-- flags:NAME -->` and `<!-- /flags:NAME -->`, and a
 * test fails when they are stale.
 *
 * @module
 */
import type { Command, Flag } from "./flags.ts";
import { defaultText, helpText } from "./flags_help.ts";

/** `a|b` inside a table cell. */
const cell = (s: string) => s.replaceAll("|", "\\|");

function flagCell(f: Flag): string {
  const arg = f.type === "bool"
    ? ""
    : ` ${f.arg ?? (f.type === "enum" ? f.choices.join("|") : "")}`;
  return cell("`" + `--${f.name}${arg}`.trimEnd() + "`");
}

function meaning(f: Flag): string {
  const text = f.help.replace(/\n/g, " ").replace(/\s+/g, " ").trim();
  const notes: string[] = [];
  if (f.type === "duration") {
    notes.push(
      `a duration (\`500ms\`, \`30s\`, \`2m\`); a bare number is ${
        f.bare === "s" ? "seconds" : "ms"
      }`,
    );
  }
  if (f.type === "list" && f.repeatable) notes.push("repeatable");
  return cell(notes.length ? `${text.replace(/\.$/, "")}; ${notes.join("; ")}` : text);
}

/** Rows as a Markdown table padded as `deno fmt` pads it. */
function table(rows: string[][]): string {
  const len = (s: string) => [...s].length;
  const widths = rows[0].map((_, c) => Math.max(3, ...rows.map((r) => len(r[c]))));
  const line = (r: string[]) =>
    `| ${r.map((v, c) => v + " ".repeat(widths[c] - len(v))).join(" | ")} |`;
  return [line(rows[0]), line(widths.map((w) => "-".repeat(w))), ...rows.slice(1).map(line)]
    .join("\n") + "\n";
}

/** The flags of `command` as a Markdown table. */
export function flagsMarkdown(command: Command): string {
  const rows = [["flag", "env", "default", "meaning"]];
  for (const f of command.flags) {
    const def = defaultText(f);
    rows.push([
      flagCell(f),
      f.env ? "`" + f.env + "`" : "",
      def === undefined ? "" : "`" + cell(def) + "`",
      meaning(f),
    ]);
  }
  return table(rows);
}

/**
 * `text` with each `<!-- flags:NAME -->...<!-- /flags:NAME -->` region
 * replaced by the table of `commands[NAME]`, and each
 * `<!-- help:NAME -->...<!-- /help:NAME -->` region by its `--help` text in a
 * code block.
 *
 * @throws {Error} naming a region whose command is unknown, or a command with no region.
 */
export function fillFlagTables(text: string, commands: Readonly<Record<string, Command>>): string {
  const seen = new Set<string>();
  const out = text.replace(
    /<!-- (flags|help):([\w:-]+) -->\n[\s\S]*?<!-- \/\1:\2 -->/g,
    (_, kind: string, name: string) => {
      const command = commands[name];
      if (command === undefined) throw new Error(`README region ${kind}:${name}: no such command`);
      seen.add(name);
      const body = kind === "flags"
        ? flagsMarkdown(command)
        : "```\n" + helpText(command).trimEnd() + "\n```\n";
      return `<!-- ${kind}:${name} -->\n\n${body}\n<!-- /${kind}:${name} -->`;
    },
  );
  const missing = Object.keys(commands).filter((n) => !seen.has(n));
  if (missing.length > 0) throw new Error(`README has no region for: ${missing.join(", ")}`);
  return out;
}
