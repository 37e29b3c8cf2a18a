/**
 * Flags of `deno task load`: parsing (`node:util` parseArgs, strict),
 * validation with messages that name the flag, and `--help`.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { isDnsTarget, parseDnsTarget } from "../router/dns.ts";
import { parseInstanceList } from "../router/membership.ts";

/** Wire protocols: all over HTTP/2 cleartext (h2c) with connect-node. */
export const PROTOCOLS = ["grpc", "grpc-web", "connect", "connect-json"] as const;
export type LoadProtocol = typeof PROTOCOLS[number];

/** How each request picks an instance. */
export const ROUTINGS = ["jump", "round-robin", "random", "single"] as const;
export type Routing = typeof ROUTINGS[number];

/** What each request asks. */
export const METHODS = ["history", "message", "compat"] as const;
export type LoadMethod = typeof METHODS[number];

export const FORMATS = ["text", "json"] as const;
export type Format = typeof FORMATS[number];

/** The instances `deno task start` runs. */
export const DEFAULT_TARGETS: readonly string[] = Object.freeze([
  "127.0.0.1:50051",
  "127.0.0.1:50052",
]);

/** What to run: `runLoad` takes this (every field but `channels` has a default). */
export interface LoadOptions {
  /** Channels 1..channels; request i asks channel (i % channels) + 1. Default 20. */
  readonly channels: number;
  /** Requests to send. Default 10000, or unbounded with `durationMs`. */
  readonly requests?: number;
  /** Most requests in flight. Default: no limit (all at once, like the original). */
  readonly concurrency?: number;
  /** Open-loop rate in requests per second. */
  readonly rps?: number;
  /** Send for this long (needs `rps` or `concurrency`). */
  readonly durationMs?: number;
  /** Deadline of each request in ms (0: none). Default 60000. */
  readonly timeoutMs: number;
  readonly protocol: LoadProtocol;
  readonly routing: Routing;
  /** Instances, in router order (`host:port` or URLs). */
  readonly targets: readonly string[];
  /** HTTP/2 connections per instance (or to the gateway). Default 4. */
  readonly connections: number;
  /** Send every request to this URL instead (a routing gateway); stats still come from `targets`. */
  readonly gateway?: string;
  readonly method: LoadMethod;
  /** Requests sent (and not counted) before measuring. Default 0. */
  readonly warmup: number;
}

/** Parsed command line. */
export interface LoadCommand {
  readonly help: boolean;
  readonly options: LoadOptions;
  readonly format: Format;
  readonly allowErrors: boolean;
}

/** A bad command line: print the message and exit with code 2. */
export class FlagError extends Error {
  override name = "FlagError";
  readonly exitCode = 2;
}

/** Defaults of {@linkcode LoadOptions}. */
export const DEFAULTS = {
  channels: 20,
  requests: 10_000,
  timeoutMs: 60_000,
  connections: 4,
  protocol: "connect",
  routing: "jump",
  method: "message",
  warmup: 0,
} as const;

export const HELP = `Usage: deno task load [options]

Sends requests for a few channels to the data services, all at once by default
(like the original client), and reports what the servers did from GetStats
deltas on every instance (counters are never reset, so runs can overlap).

Load:
  --channels N        Distinct channels 1..N; request i asks channel (i % N) + 1 (default 20)
  --requests N        Requests to send (default 10000; with --duration: no limit)
  --concurrency N     Most requests in flight (default: all at once)
  --rps R             Open loop: send R requests/s on a fixed schedule, on time even when
                      responses are late; latency counts from the scheduled time
  --duration D        Send for D (e.g. 30s, 500ms, 2m; a bare number is seconds);
                      needs --rps or --concurrency; with --rps, sends R*D requests
  --timeout T         Deadline of each request (e.g. 5s; a bare number is ms; 0 = none;
                      default 60000)
  --warmup N          Send N requests first (all at once, or --concurrency at a time),
                      not measured and not in the counts (default 0)
  --method M          message: GetMessage{channel c, message c*1000} (the demo rows of
                      channels 1..20; other channels answer NOT_FOUND) (default)
                      history: GetMessages{channel c, limit 50}
                      compat: the original's messages.MessagesService/getMessage
Where:
  --targets LIST      Instances, comma-separated host:port or URLs, in router order
                      (default 127.0.0.1:50051,127.0.0.1:50052: deno task start),
                      or one DNS name resolved once at start, in the gateway's order:
                      dns:///NAME:PORT (A/AAAA) or dns+srv:///_grpc._tcp.NAME (SRV)
  --gateway URL       Send every request to this gateway (it routes by itself);
                      GetStats is still read from each of --targets
  --routing R         jump (default): jump consistent hash on the channel id, the router
                      client; round-robin: the k-th request of a channel goes to instance
                      (channel + k) mod n; random; single: the first target only
  --protocol P        connect (binary Connect, default), connect-json, grpc, grpc-web;
                      all over HTTP/2 cleartext (h2c).
                      connect is the default because it costs the client and the
                      servers about 1.6x less CPU per call than grpc on Deno 2.9
  --connections N     HTTP/2 connections per instance, calls rotate over them (default 4).
                      A server caps the streams of one connection (4096 here) and calls
                      past the cap wait in the client: with 1 connection, 6000 requests at
                      once on one instance arrive in two waves and coalesce less
Output:
  --format F          text (default) or json (one object on stdout)
  --allow-errors      Exit 0 even when requests failed
  --help              This text

Exit codes: 0 done, 1 requests failed (without --allow-errors) or the run could not
start (unreachable target), 2 bad flags, 130 interrupted (Ctrl-C stops sending, waits
for the requests in flight and prints the report; a second Ctrl-C quits at once).
Progress goes to stderr when it is a terminal.
`;

function positiveInt(flag: string, value: string, min = 1): number {
  const n = Number(value);
  if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < min) {
    throw new FlagError(`--${flag} must be an integer >= ${min}, got "${value}"`);
  }
  return n;
}

/**
 * Parses a duration: `500ms`, `1.5s`, `2m`, `1h`, or a bare number in
 * `bareUnit`. Returns milliseconds.
 *
 * @throws {FlagError} naming `flag` when the text is not a duration.
 */
export function parseDuration(flag: string, value: string, bareUnit: "ms" | "s"): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(value);
  if (!m) {
    throw new FlagError(
      `--${flag} must be a duration like 500ms, 10s or 2m (a bare number is ${bareUnit}), got "${value}"`,
    );
  }
  const factor = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? bareUnit] ?? 1;
  return Number(m[1]) * factor;
}

function oneOf<T extends string>(flag: string, value: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(value)) {
    throw new FlagError(`--${flag} must be one of ${choices.join(", ")}, got "${value}"`);
  }
  return value as T;
}

/** Validates a `host:port` or `http(s)://` target. */
function checkTarget(flag: string, t: string): void {
  if (t.includes("://")) {
    let url: URL;
    try {
      url = new URL(t);
    } catch {
      throw new FlagError(`--${flag}: "${t}" is not a valid URL`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new FlagError(`--${flag}: "${t}" must be an http:// or https:// URL`);
    }
    return;
  }
  const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d+)$/.exec(t);
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) {
    throw new FlagError(`--${flag}: "${t}" must be host:port (port 1..65535) or a URL`);
  }
}

/**
 * Parses the command line of `deno task load`.
 *
 * @throws {FlagError} (exit code 2) on an unknown flag, a missing or bad value,
 *   a stray argument or contradicting flags.
 */
export function parseLoadArgs(args: readonly string[]): LoadCommand {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...args],
      strict: true,
      allowPositionals: false,
      options: {
        channels: { type: "string" },
        requests: { type: "string" },
        concurrency: { type: "string" },
        rps: { type: "string" },
        duration: { type: "string" },
        timeout: { type: "string" },
        connections: { type: "string" },
        protocol: { type: "string" },
        routing: { type: "string" },
        targets: { type: "string" },
        gateway: { type: "string" },
        method: { type: "string" },
        warmup: { type: "string" },
        format: { type: "string" },
        "allow-errors": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (err) {
    // parseArgs' own messages name the flag ("Unknown option '--x'", "Option '--rps <value>' argument missing").
    throw new FlagError((err as Error).message.replace(/\. To specify a positional.*$/s, ""));
  }
  const v = values;
  const channels = v.channels === undefined
    ? DEFAULTS.channels
    : positiveInt("channels", v.channels);
  const requests = v.requests === undefined ? undefined : positiveInt("requests", v.requests);
  const concurrency = v.concurrency === undefined
    ? undefined
    : positiveInt("concurrency", v.concurrency);
  let rps: number | undefined;
  if (v.rps !== undefined) {
    rps = Number(v.rps);
    if (!/^\s*\d+(\.\d+)?\s*$/.test(v.rps) || !(rps > 0) || !Number.isFinite(rps)) {
      throw new FlagError(`--rps must be a number > 0, got "${v.rps}"`);
    }
  }
  let durationMs: number | undefined;
  if (v.duration !== undefined) {
    durationMs = parseDuration("duration", v.duration, "s");
    if (!(durationMs > 0)) throw new FlagError(`--duration must be > 0, got "${v.duration}"`);
    if (requests !== undefined) {
      throw new FlagError("--requests and --duration exclude each other: give one of them");
    }
    if (rps === undefined && concurrency === undefined) {
      throw new FlagError(
        "--duration needs --rps (open loop) or --concurrency (closed loop): all at once has no duration",
      );
    }
    if (rps !== undefined && Math.floor((rps * durationMs) / 1000) < 1) {
      throw new FlagError(`--rps ${v.rps} for --duration ${v.duration} sends no request`);
    }
  }
  const timeoutMs = v.timeout === undefined
    ? DEFAULTS.timeoutMs
    : parseDuration("timeout", v.timeout, "ms");
  const protocol = v.protocol === undefined
    ? DEFAULTS.protocol
    : oneOf("protocol", v.protocol, PROTOCOLS);
  const method = v.method === undefined ? DEFAULTS.method : oneOf("method", v.method, METHODS);
  const format = v.format === undefined ? "text" : oneOf("format", v.format, FORMATS);
  const connections = v.connections === undefined
    ? DEFAULTS.connections
    : positiveInt("connections", v.connections);
  const warmup = v.warmup === undefined ? DEFAULTS.warmup : positiveInt("warmup", v.warmup, 0);

  let targets: string[] = [...DEFAULT_TARGETS];
  if (v.targets !== undefined) {
    targets = parseInstanceList(v.targets);
    if (targets.length === 0) throw new FlagError("--targets is empty");
    if (targets.some(isDnsTarget)) {
      if (targets.length > 1) throw new FlagError("--targets: a dns: target must be alone");
      try {
        parseDnsTarget(targets[0]);
      } catch (error) {
        throw new FlagError(`--targets: ${(error as Error).message}`);
      }
    }
    for (const t of targets) if (!isDnsTarget(t)) checkTarget("targets", t);
    const dup = targets.find((t, i) => targets.indexOf(t) !== i);
    if (dup !== undefined) throw new FlagError(`--targets lists ${dup} twice`);
  }
  let gateway: string | undefined;
  if (v.gateway !== undefined) {
    gateway = v.gateway.trim();
    if (gateway === "") throw new FlagError("--gateway is empty");
    if (!gateway.includes("://")) gateway = `http://${gateway}`;
    checkTarget("gateway", gateway);
    if (v.routing !== undefined) {
      throw new FlagError("--routing does not apply with --gateway: the gateway routes by itself");
    }
  }
  const routing = v.routing === undefined
    ? DEFAULTS.routing
    : oneOf("routing", v.routing, ROUTINGS);

  return {
    help: v.help === true,
    format,
    allowErrors: v["allow-errors"] === true,
    options: {
      channels,
      requests: requests ?? (durationMs === undefined ? DEFAULTS.requests : undefined),
      concurrency,
      rps,
      durationMs,
      timeoutMs,
      connections,
      protocol,
      routing,
      targets,
      gateway,
      method,
      warmup,
    },
  };
}
