/**
 * Structured logs: one JSON object per line on stderr
 * (`{"time":…,"level":…,"msg":…,…fields}`). `LOG_LEVEL` = debug|info|warn|error
 * (default info).
 *
 * @module
 */

/** Log levels, lowest first. */
export type Level = "debug" | "info" | "warn" | "error";
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Fields attached to a log line. */
export type Fields = Record<string, unknown>;

/** A logger bound to some fields. */
export interface Logger {
  debug(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
  /** A logger that adds `fields` to every line. */
  with(fields: Fields): Logger;
  /** Whether lines of `level` are written (to skip building fields that would be dropped). */
  enabled(level: Level): boolean;
}

const encoder = new TextEncoder();

function envLevel(): Level {
  try {
    const v = Deno.env.get("LOG_LEVEL")?.toLowerCase();
    return v && v in ORDER ? v as Level : "info";
  } catch {
    return "info";
  }
}

function replacer(_key: string, value: unknown): unknown {
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Error) return { name: value.name, message: value.message };
  return value;
}

/** Creates a logger writing JSON lines to `write` (default: stderr). */
export function createLogger(
  base: Fields = {},
  options: { level?: Level; write?: (line: string) => void } = {},
): Logger {
  const min = ORDER[options.level ?? envLevel()];
  const write = options.write ?? ((line: string) => Deno.stderr.writeSync(encoder.encode(line)));
  const emit = (level: Level, msg: string, fields?: Fields) => {
    if (ORDER[level] < min) return;
    write(
      JSON.stringify({ time: new Date().toISOString(), level, msg, ...base, ...fields }, replacer) +
        "\n",
    );
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
    with: (fields) => createLogger({ ...base, ...fields }, options),
    enabled: (level) => ORDER[level] >= min,
  };
}

/**
 * Repeated log lines, at most one per key per interval: under a burst of
 * failures (an outage, an overload) one line a second says how many like it
 * were left out, instead of a line per event becoming its own overload.
 * Count events in metrics; log samples.
 */
export class LogThrottle {
  #intervalMs: number;
  #now: () => number;
  /** Per key: when the last line went out, and how many were left out since. */
  #keys = new Map<string, { at: number; suppressed: number }>();
  /** Most keys remembered (oldest forgotten first), so odd keys cannot grow the map. */
  #maxKeys: number;

  constructor(intervalMs = 1000, options: { now?: () => number; maxKeys?: number } = {}) {
    this.#intervalMs = intervalMs;
    this.#now = options.now ?? (() => performance.now());
    this.#maxKeys = options.maxKeys ?? 1000;
  }

  /**
   * Whether a line for `key` may go out now; if so, how many were left out
   * since the previous one (`suppressed`, to put in the line).
   */
  allow(key: string): { ok: true; suppressed: number } | { ok: false } {
    const now = this.#now();
    const k = this.#keys.get(key);
    if (k !== undefined && now - k.at < this.#intervalMs) {
      k.suppressed++;
      return { ok: false };
    }
    const suppressed = k?.suppressed ?? 0;
    this.#keys.delete(key);
    if (this.#keys.size >= this.#maxKeys) this.#keys.delete(this.#keys.keys().next().value!);
    this.#keys.set(key, { at: now, suppressed: 0 });
    return { ok: true, suppressed };
  }
}
