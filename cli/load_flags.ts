/**
 * Flags of `deno task load`: the flag table (parsed by `lib/flags.ts`),
 * the checks that span several flags, and `--help`.
 *
 * @module
 */
import { HTTP2_MAX_STREAMS, LOCAL_TARGETS } from "../lib/defaults.ts";
import { defineCommand, FlagError, helpText, parseCommand, parseDuration } from "../lib/flags.ts";
import { isDnsTarget, parseDnsTarget } from "../router/dns.ts";

export { FlagError, parseDuration };

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
export const DEFAULT_TARGETS: readonly string[] = LOCAL_TARGETS;

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
  /**
   * Threads that send (Deno workers, each with its own connections; 1 = this
   * thread). Default: the CPU cores, at most 4.
   */
  readonly workers: number;
}

/** Parsed command line. */
export interface LoadCommand {
  readonly help: boolean;
  readonly options: LoadOptions;
  readonly format: Format;
  readonly allowErrors: boolean;
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
  workers: Math.max(1, Math.min(4, navigator.hardwareConcurrency ?? 1)),
} as const;

/** The command `deno task load`: its flags, their defaults and help. */
export const LOAD = defineCommand({
  name: "load",
  summary: `Sends requests for a few channels to the data services, all at once by default
(like the original client), and reports what the servers did from GetStats
deltas on every instance (counters are never reset, so runs can overlap).`,
  flags: [
    {
      name: "channels",
      section: "Load",
      type: "int",
      min: 1,
      default: DEFAULTS.channels,
      help: "Distinct channels 1..N; request i asks channel (i % N) + 1",
    },
    {
      name: "requests",
      section: "Load",
      type: "int",
      min: 1,
      help: "Requests to send",
      defaultHelp: `${DEFAULTS.requests}; with --duration: no limit`,
    },
    {
      name: "concurrency",
      section: "Load",
      type: "int",
      min: 1,
      help: "Most requests in flight",
      defaultHelp: "all at once",
    },
    {
      name: "rps",
      section: "Load",
      type: "number",
      above: 0,
      arg: "R",
      help: "Open loop: send R requests/s on a fixed schedule, on time even when\n" +
        "responses are late; latency counts from the scheduled time",
    },
    {
      name: "duration",
      section: "Load",
      type: "duration",
      bare: "s",
      above: 0,
      help: "Send for D (e.g. 30s, 500ms, 2m); needs --rps or --concurrency;\n" +
        "with --rps, sends R*D requests",
    },
    {
      name: "timeout",
      section: "Load",
      type: "duration",
      bare: "ms",
      min: 0,
      default: DEFAULTS.timeoutMs,
      arg: "T",
      help: "Deadline of each request (e.g. 5s; 0 = none)",
    },
    {
      name: "warmup",
      section: "Load",
      type: "int",
      min: 0,
      default: DEFAULTS.warmup,
      help: "Send N requests first (all at once, or --concurrency at a time),\n" +
        "not measured and not in the counts",
    },
    {
      name: "workers",
      section: "Load",
      type: "int",
      min: 1,
      max: 64,
      default: DEFAULTS.workers,
      defaultHelp: "CPU cores, at most 4",
      arg: "N",
      help: "Threads that send (Deno workers, each with its own connections);\n" +
        "the requests are split by index, so routing and coalescing are unchanged",
    },
    {
      name: "method",
      section: "Load",
      type: "enum",
      choices: METHODS,
      default: DEFAULTS.method,
      arg: "M",
      help: "message: GetMessage{channel c, message c*1000} (the demo rows of\n" +
        "channels 1..20; other channels answer NOT_FOUND)\n" +
        "history: GetMessages{channel c, limit 50}\n" +
        "compat: the original's messages.MessagesService/getMessage",
    },
    {
      name: "targets",
      section: "Where",
      type: "list",
      default: DEFAULT_TARGETS,
      help: "Instances, comma-separated host:port or URLs, in router order;\n" +
        "the default is what deno task start runs; or one DNS name resolved\n" +
        "once at start: dns:///NAME:PORT (A/AAAA) or dns+srv:///_grpc._tcp.NAME (SRV)",
    },
    {
      name: "gateway",
      section: "Where",
      type: "string",
      arg: "URL",
      help: "Send every request to this gateway (it routes by itself);\n" +
        "GetStats is still read from each of --targets",
    },
    {
      name: "routing",
      section: "Where",
      type: "enum",
      choices: ROUTINGS,
      arg: "R",
      help: "jump (default): jump consistent hash on the channel id, the router\n" +
        "client; round-robin: the k-th request of a channel goes to instance\n" +
        "(channel + k) mod n; random; single: the first target only",
    },
    {
      name: "protocol",
      section: "Where",
      type: "enum",
      choices: PROTOCOLS,
      default: DEFAULTS.protocol,
      arg: "P",
      help: "connect (binary Connect), connect-json, grpc, grpc-web;\n" +
        "all over HTTP/2 cleartext (h2c).\n" +
        "connect is the default because it costs the client and the\n" +
        "servers about 1.6x less CPU per call than grpc on Deno 2.9",
    },
    {
      name: "connections",
      section: "Where",
      type: "int",
      min: 1,
      default: DEFAULTS.connections,
      help: "HTTP/2 connections per instance (per worker) to start with. connect and\n" +
        "connect-json go to the fast listener (Deno.serve: 200 streams per\n" +
        "connection) and open one more whenever all have 200 calls in flight, up\n" +
        "to 64, so a burst reaches the instance at once and coalesces; grpc and\n" +
        `grpc-web go to the main port (${HTTP2_MAX_STREAMS} streams per connection) over this many`,
    },
    {
      name: "format",
      section: "Output",
      type: "enum",
      choices: FORMATS,
      default: "text",
      arg: "F",
      help: "text or json (one object on stdout)",
    },
    {
      name: "allow-errors",
      section: "Output",
      type: "bool",
      help: "Exit 0 even when requests failed",
    },
  ],
  epilogue: `Exit codes: 0 done, 1 requests failed (without --allow-errors) or the run could not
start (unreachable target), 2 bad flags, 130 interrupted (Ctrl-C stops sending, waits
for the requests in flight and prints the report; a second Ctrl-C quits at once).
Progress goes to stderr when it is a terminal.`,
});

/** The --help text of `deno task load`. */
export const HELP: string = helpText(LOAD);

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
  const parsed = parseCommand(LOAD, args, () => undefined);
  if (parsed.help) return { ...parseLoadArgs([]), help: true };
  const v = parsed.values;
  const { requests, rps, duration: durationMs } = v;
  if (durationMs !== undefined) {
    if (requests !== undefined) {
      throw new FlagError("--requests and --duration exclude each other: give one of them");
    }
    if (rps === undefined && v.concurrency === undefined) {
      throw new FlagError(
        "--duration needs --rps (open loop) or --concurrency (closed loop): all at once has no duration",
      );
    }
    if (rps !== undefined && Math.floor((rps * durationMs) / 1000) < 1) {
      throw new FlagError(`--rps ${rps} for --duration ${durationMs} ms sends no request`);
    }
  }
  const targets = v.targets;
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
  return {
    help: false,
    format: v.format,
    allowErrors: v["allow-errors"],
    options: {
      channels: v.channels,
      requests: requests ?? (durationMs === undefined ? DEFAULTS.requests : undefined),
      concurrency: v.concurrency,
      rps,
      durationMs,
      timeoutMs: v.timeout,
      connections: v.connections,
      protocol: v.protocol,
      routing: v.routing ?? DEFAULTS.routing,
      targets,
      gateway,
      method: v.method,
      warmup: v.warmup,
      workers: v.workers,
    },
  };
}
