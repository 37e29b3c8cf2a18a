/**
 * The one command-line and environment parser of every command (`serve`,
 * `gateway`, `start`, `load`, `db`, `conformance`, `test:faults` and the
 * benches; cli/commands_test.ts checks that every task that reads flags is one).
 *
 * A command is a typed table of flags ({@linkcode Flag}); {@linkcode parseCommand}
 * runs `node:util` parseArgs (strict: unknown flags, missing values and stray
 * arguments are errors) and then converts and checks every value, taking a
 * flag's environment variable when the flag is not given and its default
 * when neither is. Every command gets `-h/--help`, and every bad command line
 * is a {@linkcode FlagError} (exit code 2) whose message names the flag and
 * fits on one line; {@linkcode parseOrExitCode} prints it the same way for
 * every command: `error: <message>` and a hint to run `--help`.
 *
 * Durations take units everywhere (`500ms`, `30s`, `2m`, `1h`, fractions
 * like `1.5s`); a bare number keeps each flag's old unit (`bare`: `--timeout 30`
 * of `deno task load` is 30 ms, `--duration 30` is 30 s). Values are ms.
 *
 * Not browser-safe: uses `node:util` and `Deno.env`.
 *
 * @example
 * ```ts
 * const LOAD = defineCommand({
 *   name: "load",
 *   summary: "Sends requests.",
 *   flags: [
 *     { name: "channels", type: "int", min: 1, default: 20, arg: "N", help: "Distinct channels" },
 *     { name: "timeout", type: "duration", bare: "ms", default: 60_000, help: "Deadline" },
 *   ],
 * });
 * const parsed = parseCommand(LOAD, ["--timeout", "5s"]);
 * if (!parsed.help) parsed.values.timeout; // 5000
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { durationMs, formatDuration } from "./duration.ts";
import { helpText } from "./flags_help.ts";

export { formatDuration, helpText };

/** A bad command line or environment variable: the message names it; exit code 2. */
export class FlagError extends Error {
  override name = "FlagError";
  /** The exit code of a usage error. */
  readonly exitCode = 2;
}

/** What every flag has. */
interface FlagBase {
  /** Long name without dashes, e.g. `"base-port"`; also the key of the parsed value. */
  readonly name: string;
  /** One-letter alias, e.g. `"n"` for `-n`. */
  readonly short?: string;
  /** Environment variable read when the flag is not given (empty counts as unset). */
  readonly env?: string;
  /** What the flag does, for --help; may span lines. */
  readonly help: string;
  /** Placeholder of the value in --help (`N`, `LIST`); default by type. */
  readonly arg?: string;
  /** How --help shows the default; `""` hides it. Default: the default value. */
  readonly defaultHelp?: string;
  /** Heading the flag is listed under in --help. Default `Options`. */
  readonly section?: string;
}

/** Free text. */
export interface StringFlag extends FlagBase {
  readonly type: "string";
  readonly default?: string;
}

/** A whole number, optionally bounded (inclusive). */
export interface IntFlag extends FlagBase {
  readonly type: "int";
  readonly default?: number;
  readonly min?: number;
  readonly max?: number;
}

/** A decimal number: `min` inclusive, `above` exclusive. */
export interface NumberFlag extends FlagBase {
  readonly type: "number";
  readonly default?: number;
  readonly min?: number;
  readonly above?: number;
  readonly max?: number;
}

/** A switch: present is true; its environment variable is true when `1|true|yes|on`. */
export interface BoolFlag extends FlagBase {
  readonly type: "bool";
}

/**
 * A duration in ms: `500ms`, `30s`, `2m`, `1h` or a bare number in `bare`
 * units (the flag's meaning before units existed). Bounds are in ms.
 */
export interface DurationFlag extends FlagBase {
  readonly type: "duration";
  /** The unit of a number without one. */
  readonly bare: "ms" | "s";
  readonly default?: number;
  readonly min?: number;
  readonly above?: number;
  readonly max?: number;
}

/** Comma- (or space-) separated values, trimmed; empty items are dropped. */
export interface ListFlag extends FlagBase {
  readonly type: "list";
  readonly default?: readonly string[];
  /** The flag may be given several times and the items add up (else the last one wins). */
  readonly repeatable?: boolean;
  /** `false`: each value is one item as given, commas and spaces included. Default true. */
  readonly split?: boolean;
}

/** One of a fixed set of words. */
export interface EnumFlag<C extends string = string> extends FlagBase {
  readonly type: "enum";
  readonly choices: readonly C[];
  readonly default?: C;
}

/** One row of a command's flag table. */
export type Flag =
  | StringFlag
  | IntFlag
  | NumberFlag
  | BoolFlag
  | DurationFlag
  | ListFlag
  | EnumFlag;

/** The kinds of value a flag can take. */
export type FlagType = Flag["type"];

type BaseValue<F> = F extends { type: "int" | "number" | "duration" } ? number
  : F extends { type: "bool" } ? boolean
  : F extends { type: "list" } ? string[]
  : F extends { type: "enum"; choices: readonly (infer C)[] } ? C
  : string;

/** The parsed value of flag `F`: undefined when it has no default and was not given. */
export type FlagValue<F> = F extends { type: "bool" } ? boolean
  : F extends { default: unknown } ? BaseValue<F>
  : BaseValue<F> | undefined;

/** Parsed values by flag name. */
export type FlagValues<T extends readonly Flag[]> = {
  -readonly [F in T[number] as F["name"]]: FlagValue<F>;
};

/** A command: its name (`deno task <name>`), its help and its flag table. */
export interface Command<T extends readonly Flag[] = readonly Flag[]> {
  /** As in `deno task <name>`. */
  readonly name: string;
  /** What follows `Usage: `. Default `deno task <name> [options]`. */
  readonly usage?: string;
  /** The paragraph(s) under the usage line. */
  readonly summary: string;
  readonly flags: T;
  /** Text after the flags (exit codes, environment). */
  readonly epilogue?: string;
  /** Positional arguments are allowed (else each is an error). */
  readonly positionals?: boolean;
}

/** The outcome of {@linkcode parseCommand}: help was asked, or the values. */
export type Parsed<T extends readonly Flag[]> =
  | { readonly help: true }
  | {
    readonly help: false;
    readonly values: FlagValues<T>;
    readonly positionals: string[];
    /** Names of the flags given on the command line (not from environment or default). */
    readonly given: ReadonlySet<string>;
  };

/** Where environment variables come from. */
export type Env = (name: string) => string | undefined;

/** `Deno.env.get`, or nothing without `--allow-env`. */
export const processEnv: Env = (name) => {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
};

/** Declares a command; keeps the literal types of its flag table for {@linkcode parseCommand}. */
export function defineCommand<const T extends readonly Flag[]>(command: Command<T>): Command<T> {
  const names = new Set<string>();
  for (const f of command.flags) {
    if (names.has(f.name) || f.name === "help") {
      throw new Error(`${command.name}: flag --${f.name} defined twice`);
    }
    names.add(f.name);
  }
  return command;
}

/**
 * Parses `args` (then environment variables, then defaults) against a command.
 *
 * @throws {FlagError} on an unknown flag, a missing or bad value, a stray
 *   argument (unless the command takes positionals) or a bad environment variable.
 */
export function parseCommand<const T extends readonly Flag[]>(
  command: Command<T>,
  args: readonly string[],
  env: Env = processEnv,
): Parsed<T> {
  const options: Record<
    string,
    { type: "string" | "boolean"; short?: string; multiple?: boolean }
  > = {
    help: { type: "boolean", short: "h" },
  };
  for (const f of command.flags) {
    options[f.name] = { type: f.type === "bool" ? "boolean" : "string" };
    if (f.short) options[f.name].short = f.short;
    if (f.type === "list" && f.repeatable) options[f.name].multiple = true;
  }
  let raw: Record<string, string | boolean | string[] | undefined>;
  let positionals: string[];
  try {
    ({ values: raw, positionals } = parseArgs({
      args: [...args],
      options,
      strict: true,
      allowPositionals: command.positionals ?? false,
    }) as { values: typeof raw; positionals: string[] });
  } catch (err) {
    // Only the user's mistakes (ERR_PARSE_ARGS_*) are usage errors; a bad table is a bug.
    if (!String((err as { code?: string }).code).startsWith("ERR_PARSE_ARGS")) throw err;
    throw new FlagError(oneLine((err as Error).message));
  }
  if (raw.help === true) return { help: true };
  const values: Record<string, unknown> = {};
  for (const f of command.flags) {
    const given = raw[f.name];
    if (given !== undefined) {
      values[f.name] = convert(f, given, `--${f.name}`);
      continue;
    }
    const fromEnv = f.env ? env(f.env) : undefined;
    if (fromEnv !== undefined && fromEnv !== "") {
      values[f.name] = f.type === "bool"
        ? /^(1|true|yes|on)$/i.test(fromEnv.trim())
        : convert(f, fromEnv, `${f.env} (for --${f.name})`);
      continue;
    }
    values[f.name] = f.type === "bool"
      ? false
      : Array.isArray(f.default)
      ? [...f.default]
      : f.default;
  }
  const given = new Set(command.flags.map((f) => f.name).filter((n) => raw[n] !== undefined));
  return { help: false, values: values as FlagValues<T>, positionals, given };
}

/** Where {@linkcode parseOrExitCode} writes. */
export interface CommandIO {
  readonly env?: Env;
  /** Help goes here. Default console.log. */
  readonly out?: (text: string) => void;
  /** Usage errors go here. Default console.error. */
  readonly err?: (text: string) => void;
}

/**
 * Parses like {@linkcode parseCommand} and answers the two cases every
 * command answers the same way: `--help` prints the help on stdout and gives
 * exit code 0; a bad command line prints `error: <message>` and a hint on
 * stderr and gives exit code 2. Otherwise returns the values.
 */
export function parseOrExitCode<const T extends readonly Flag[]>(
  command: Command<T>,
  args: readonly string[],
  io: CommandIO = {},
): Extract<Parsed<T>, { help: false }> | number {
  return answerHelpAndErrors(command, () => parseCommand(command, args, io.env), io);
}

/**
 * The same answers for a command's own parse function (one that adds checks
 * across flags and returns `{ help }` plus its options): help → exit code 0,
 * {@linkcode FlagError} → exit code 2, else what `parse` returned.
 */
export function answerHelpAndErrors<R extends { readonly help: boolean }>(
  command: Command,
  parse: () => R,
  io: CommandIO = {},
): Exclude<R, { help: true }> | number {
  let parsed: R;
  try {
    parsed = parse();
  } catch (err) {
    if (!(err instanceof FlagError)) throw err;
    return usageError(command, err, io.err);
  }
  if (parsed.help) {
    (io.out ?? console.log)(helpText(command));
    return 0;
  }
  return parsed as Exclude<R, { help: true }>;
}

/** Prints a usage error the one way every command does; returns its exit code (2). */
export function usageError(
  command: Pick<Command, "name">,
  err: FlagError,
  write: (text: string) => void = console.error,
): number {
  write(`error: ${oneLine(err.message)}\n${hint(command)}`);
  return err.exitCode;
}

/** The hint printed under a usage error. */
export function hint(command: Pick<Command, "name">): string {
  return `Run 'deno task ${command.name} --help' for the list of options.`;
}

/** Joins a multi-line message into one line; drops parseArgs' advice about positionals. */
function oneLine(message: string): string {
  return message
    .replace(/\.?\s*To specify a positional argument.*$/s, "")
    .split(/\s*\n\s*/)
    .filter(Boolean)
    .join(" ");
}

function convert(f: Flag, given: string | boolean | string[], label: string): unknown {
  if (f.type === "bool") return given === true;
  if (f.type === "list") {
    const items = [given].flat().map(String);
    return (f.split === false ? items : items.flatMap((t) => t.split(/[\s,]+/)))
      .filter((s) => s !== "");
  }
  const text = String(given);
  switch (f.type) {
    case "string":
      return text;
    case "enum":
      if (!f.choices.includes(text)) {
        throw new FlagError(`${label} must be one of ${f.choices.join(", ")}, got "${text}"`);
      }
      return text;
    case "int": {
      const n = Number(text);
      if (!/^\s*-?\d+\s*$/.test(text) || !Number.isSafeInteger(n) || !inRange(n, f)) {
        throw new FlagError(`${label} must be an integer${rangeText(f, String)}, got "${text}"`);
      }
      return n;
    }
    case "number": {
      const n = Number(text);
      if (!/^\s*-?\d+(\.\d+)?\s*$/.test(text) || !Number.isFinite(n) || !inRange(n, f)) {
        throw new FlagError(`${label} must be a number${rangeText(f, String)}, got "${text}"`);
      }
      return n;
    }
    case "duration": {
      const ms = parseDuration(label, text, f.bare);
      if (!inRange(ms, f)) {
        throw new FlagError(`${label} must be${rangeText(f, formatDuration)}, got "${text}"`);
      }
      return ms;
    }
  }
}

interface Bounds {
  readonly min?: number;
  readonly max?: number;
  readonly above?: number;
}

function inRange(n: number, b: Bounds): boolean {
  return (b.min === undefined || n >= b.min) && (b.max === undefined || n <= b.max) &&
    (b.above === undefined || n > b.above);
}

function rangeText(b: Bounds, show: (n: number) => string): string {
  if (b.above !== undefined) {
    return ` > ${show(b.above)}${b.max === undefined ? "" : ` and <= ${show(b.max)}`}`;
  }
  if (b.min !== undefined && b.max !== undefined) return ` in ${show(b.min)}..${show(b.max)}`;
  if (b.min !== undefined) return ` >= ${show(b.min)}`;
  if (b.max !== undefined) return ` <= ${show(b.max)}`;
  return "";
}

/**
 * Parses a duration: `500ms`, `1.5s`, `2m`, `1h`, or a bare number in
 * `bare` units. Returns milliseconds.
 *
 * @throws {FlagError} naming `flag` (`--x`, or a bare name that gets the dashes).
 */
export function parseDuration(flag: string, value: string, bare: "ms" | "s"): number {
  const ms = durationMs(value, bare);
  if (ms === undefined) {
    const label = flag.startsWith("-") || flag.includes(" ") ? flag : `--${flag}`;
    throw new FlagError(
      `${label} must be a duration like 500ms, 10s or 2m (a bare number is ${bare}), got "${value}"`,
    );
  }
  return ms;
}
