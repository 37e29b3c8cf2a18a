/**
 * Pure helpers that read Cassandra's output: log tails, readiness markers,
 * the gossip view of a node, `java -version`. Unit-tested in `logs_test.ts`.
 *
 * @module
 */

/** Logged by `PipelineConfigurator` just before the CQL port is bound. */
export const CQL_LISTENING = "Starting listening for CQL clients";

/** The last `n` lines of `text` (a trailing newline does not count as a line). */
export function lastLines(text: string, n: number): string[] {
  if (n <= 0 || text === "") return [];
  const lines = text.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  return lines.slice(-n);
}

/** Whether `systemLog` says the node started serving CQL. */
export function cqlListening(systemLog: string): boolean {
  return systemLog.includes(CQL_LISTENING);
}

/**
 * What a node's `system.log` says about its peers: for each peer address the
 * state of the last `InetAddress /127.0.0.2:7000 is now UP|DOWN` line
 * (logged by `Gossiper.realMarkAlive` / `markDead`).
 */
export function gossipView(systemLog: string): Map<string, "UP" | "DOWN"> {
  const view = new Map<string, "UP" | "DOWN">();
  for (const m of systemLog.matchAll(/InetAddress \/([0-9a-fA-F.:]+?):\d+ is now (UP|DOWN)/g)) {
    view.set(m[1], m[2] as "UP" | "DOWN");
  }
  return view;
}

/** The peers among `expected` that `view` does not show UP. */
export function peersNotUp(view: Map<string, "UP" | "DOWN">, expected: string[]): string[] {
  return expected.filter((ip) => view.get(ip) !== "UP");
}

/**
 * The first startup failure reported in a node's stdout (Cassandra prints
 * `Exception (...) encountered during startup` and the cause, then exits),
 * or undefined.
 */
export function startupError(stdoutLog: string): string | undefined {
  const m = stdoutLog.match(/^.*(?:encountered during startup|Fatal configuration error).*$/m);
  return m?.[0].trim();
}

/**
 * The major version printed by `java -version` (on stderr), e.g. 17 for
 * `openjdk version "17.0.15"`, 8 for `"1.8.0_392"`; undefined if absent.
 */
export function parseJavaMajor(versionOutput: string): number | undefined {
  const m = versionOutput.match(/version "(\d+)(?:\.(\d+))?[^"]*"/);
  if (!m) return undefined;
  const major = Number(m[1]);
  return major === 1 && m[2] !== undefined ? Number(m[2]) : major;
}

/**
 * Parses `CASSANDRA_CONTACT_POINTS` (`host[:port],...`, spaces allowed) into
 * a list; empty entries are dropped.
 */
export function parseContactPoints(value: string): string[] {
  return value.split(",").map((s) => s.trim()).filter((s) => s !== "");
}

/** Splits `host[:port]` (IPv6 in brackets) with a default port. */
export function splitHostPort(point: string, defaultPort = 9042): { host: string; port: number } {
  const v6 = point.match(/^\[([^\]]+)\](?::(\d+))?$/);
  if (v6) return { host: v6[1], port: v6[2] ? Number(v6[2]) : defaultPort };
  const m = point.match(/^([^:]+):(\d+)$/);
  if (m) return { host: m[1], port: Number(m[2]) };
  return { host: point, port: defaultPort };
}

/** Formats milliseconds as seconds with one decimal, e.g. `7.3 s`. */
export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
