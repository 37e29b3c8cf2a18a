/**
 * The dashboard's arithmetic, apart from the DOM so it is unit-tested in Deno:
 * `GetStats` counters of the fleet and their differences (with the restart
 * rule of `lib/stats.ts`), per-second rates and the live series, the
 * figures of a storm, an instance's state, the route line, and readable
 * errors.
 *
 * Browser-safe: no DOM, no network, no `node:`.
 *
 * @module
 */
import { Code } from "@connectrpc/connect";
import {
  type CounterDelta,
  counterDelta,
  type Counters,
  type LatencySummary,
  summarize,
} from "../lib/stats.ts";

export type { Counters };

/** A counter snapshot of one instance, or why it could not be read. */
export interface Snapshot {
  /** Instance id in the router's list (`host:port`). */
  id: string;
  /** The counters, if GetStats answered. */
  counters?: Counters;
  /** `startedAt` of the instance in ms: a change means it restarted (counters reset). */
  startedAtMs?: number;
  /** Readable error, if GetStats failed. */
  error?: string;
}

/** Counters that are all 0 (mutable, for sums). */
export function zeroCounters(): { -readonly [K in keyof Counters]: number } {
  return { requests: 0, queries: 0, coalesced: 0, errors: 0, rejected: 0 };
}

/** The fields of a `GetStatsResponse` (bigints) as numbers. */
export function toCounters(s: {
  requests: bigint;
  queries: bigint;
  coalesced: bigint;
  errors: bigint;
  rejected: bigint;
}): Counters {
  return {
    requests: Number(s.requests),
    queries: Number(s.queries),
    coalesced: Number(s.coalesced),
    errors: Number(s.errors),
    rejected: Number(s.rejected),
  };
}

/** What changed between two readings of one instance (undefined if either failed). */
export function snapshotDelta(before: Snapshot, after: Snapshot): CounterDelta | undefined {
  if (before.counters === undefined || after.counters === undefined) return undefined;
  return counterDelta(
    { ...before.counters, startedAtMs: before.startedAtMs },
    { ...after.counters, startedAtMs: after.startedAtMs },
  );
}

/** What changed between two rounds of snapshots of every instance. */
export interface FleetDelta {
  /** Sum of the differences over the instances counted. */
  total: Counters;
  /** Difference per instance id (instances read both times). */
  perInstance: Map<string, Counters>;
  /** Instances that restarted in between: counted from their restart. */
  restarted: string[];
  /** Instances left out, with the reason (not read both times). */
  skipped: { id: string; reason: string }[];
}

/**
 * Sums the differences over every instance that answered both rounds (one
 * that restarted in between counts from its restart, and is listed in
 * `restarted`); lists the others in `skipped`.
 */
export function fleetDelta(before: readonly Snapshot[], after: readonly Snapshot[]): FleetDelta {
  const total = zeroCounters();
  const perInstance = new Map<string, Counters>();
  const restarted: string[] = [];
  const skipped: { id: string; reason: string }[] = [];
  const earlier = new Map(before.map((s) => [s.id, s]));
  for (const a of after) {
    const b = earlier.get(a.id);
    const d = b && snapshotDelta(b, a);
    if (d === undefined) {
      skipped.push({ id: a.id, reason: a.error ?? b?.error ?? "not read before the run" });
      continue;
    }
    if (d.restarted) restarted.push(a.id);
    perInstance.set(a.id, d.counters);
    for (const k of Object.keys(total) as (keyof Counters)[]) total[k] += d.counters[k];
  }
  return { total, perInstance, restarted, skipped };
}

/** Per-second rates between two snapshots `dtMs` apart. */
export interface Rates {
  requests: number;
  queries: number;
  /** The share of requests coalesced, 0..1; null without requests. */
  saved: number | null;
}

/** Per-second rates of counter differences `d` over `dtMs`. */
export function rates(d: Counters, dtMs: number): Rates {
  const s = dtMs > 0 ? 1000 / dtMs : 0;
  return {
    requests: d.requests * s,
    queries: d.queries * s,
    saved: d.requests > 0 ? Math.min(1, Math.max(0, d.coalesced / d.requests)) : null,
  };
}

/**
 * The rates of one instance between its previous reading and this one, or
 * undefined when either was not read. Over a restart the counts since the
 * restart stand for the whole interval (the rule of `lib/stats.ts`).
 */
export function rateBetween(
  prev: { snapshot: Snapshot; at: number } | undefined,
  snapshot: Snapshot,
  at: number,
): Rates | undefined {
  const d = prev && snapshotDelta(prev.snapshot, snapshot);
  return d && rates(d.counters, at - prev.at);
}

/** The live charts' data: one x per poll, one series per instance and figure. */
export class LiveSeries {
  readonly xs: number[] = [];
  readonly requests: (number | null)[][];
  readonly queries: (number | null)[][];
  /** Percent of requests coalesced. */
  readonly saved: (number | null)[][];

  /** @param points the most polls kept. */
  constructor(instances: number, readonly points: number) {
    const series = () => Array.from({ length: instances }, () => [] as (number | null)[]);
    this.requests = series();
    this.queries = series();
    this.saved = series();
  }

  /** Adds one poll at `atSeconds`: a rate per instance (undefined: a gap). */
  push(atSeconds: number, perInstance: readonly (Rates | undefined)[]): void {
    this.xs.push(atSeconds);
    perInstance.forEach((r, i) => {
      this.requests[i].push(r ? r.requests : null);
      this.queries[i].push(r ? r.queries : null);
      this.saved[i].push(r && r.saved !== null ? r.saved * 100 : null);
    });
    while (this.xs.length > this.points) {
      this.xs.shift();
      for (const s of [...this.requests, ...this.queries, ...this.saved]) s.shift();
    }
  }
}

/** How the live table shows an instance. */
export type InstanceState = "up" | "not-serving" | "down";

/**
 * An instance's state from its GetStats reading and the router's view:
 * unreadable stats are "down", except a deadline while this page's calls to
 * it keep succeeding (its connections are busy: a storm); readable but not
 * routed is "not-serving" (the caller asks /readyz why).
 */
export function instanceState(
  read: { counters?: Counters; code?: Code; error?: string },
  routed: boolean,
  answeredRecently: boolean,
): { state: InstanceState; note: string } {
  if (read.counters === undefined && read.code === Code.DeadlineExceeded && answeredRecently) {
    return {
      state: "up",
      note: "stats delayed: this page's connections to the instance are busy (a storm?)",
    };
  }
  if (read.counters === undefined) return { state: "down", note: read.error ?? "unreachable" };
  if (!routed) return { state: "not-serving", note: "" };
  return { state: "up", note: "" };
}

/** What a storm of `sent` reads did, ready to show. */
export interface StormFigures {
  readonly sent: number;
  readonly ok: number;
  readonly failed: number;
  readonly requests: number;
  readonly queries: number;
  readonly saved: number;
  readonly coalesced: number;
  /** Queries per request counted by the servers; undefined without requests. */
  readonly queriesPerRequest?: number;
  readonly wallMs: number;
  readonly requestsPerSecond: number;
  readonly latency?: LatencySummary;
  /** Lines under the figures: where the requests went, who was not counted, failures. */
  readonly notes: readonly string[];
}

/** The figures of a storm from the client's counts and the fleet's GetStats deltas. */
export function stormFigures(input: {
  sent: number;
  ok: number;
  wallMs: number;
  latencies: ArrayLike<number>;
  delta: FleetDelta;
  failures: ReadonlyMap<string, number>;
  format?: (n: number) => string;
}): StormFigures {
  const { total } = input.delta;
  const f = input.format ?? String;
  return {
    sent: input.sent,
    ok: input.ok,
    failed: input.sent - input.ok,
    requests: total.requests,
    queries: total.queries,
    saved: total.requests - total.queries,
    coalesced: total.coalesced,
    queriesPerRequest: total.requests > 0 ? total.queries / total.requests : undefined,
    wallMs: input.wallMs,
    requestsPerSecond: input.wallMs > 0 ? input.sent / (input.wallMs / 1000) : 0,
    latency: summarize(input.latencies),
    notes: [
      ...[...input.delta.perInstance].filter(([, d]) => d.requests > 0)
        .map(([id, d]) => `${id}: ${f(d.requests)} requests, ${f(d.queries)} queries`),
      ...input.delta.restarted.map((id) => `${id} restarted during the run: counted from then`),
      ...input.delta.skipped.map((s) => `${s.id} not counted (${s.reason})`),
      ...[...input.failures].map(([code, c]) => `${f(c)} failed with ${code}`),
    ],
  };
}

/**
 * Parses a channel id typed by a user.
 *
 * @throws {Error} with a readable message unless it is a whole number in 1..2^63-1.
 */
export function parseChannelId(text: string): bigint {
  const t = text.trim();
  let id: bigint;
  try {
    if (t === "") throw new Error();
    id = BigInt(t);
  } catch {
    throw new Error(`"${t}" is not a channel id: type a whole number > 0`);
  }
  if (id <= 0n || id >= 2n ** 63n) throw new Error(`Channel id must be 1..2^63-1, got ${t}`);
  return id;
}

/** The route line under the channel input: where a read of `channel` goes, and why. */
export function routeLine(input: {
  channel: bigint;
  viaGateway: boolean;
  owner: string;
  target: string;
  instances: number;
}): { text: string; value: string } {
  const n = input.instances;
  const hash = `jump hash over ${n} instance${n === 1 ? "" : "s"}`;
  if (input.viaGateway) {
    return {
      text: `channel ${input.channel} → gateway → ${input.owner} (owner by ${hash})`,
      value: "gateway",
    };
  }
  return {
    text: input.target === input.owner
      ? `channel ${input.channel} → ${input.owner} (owner by ${hash})`
      : `channel ${input.channel} → ${input.target} (fallback: owner ${input.owner} is down)`,
    value: input.target,
  };
}

/** One sentence for an error of a call that reached a server (by its Connect code). */
export function describeError(code: Code, rawMessage: string): string {
  switch (code) {
    case Code.Unavailable:
      return /cassandra|store|host/i.test(rawMessage)
        ? `Cassandra unavailable: ${rawMessage}`
        : `service unavailable: ${rawMessage}`;
    case Code.ResourceExhausted:
      return `server busy (a coalescing or query cap was reached): ${rawMessage}`;
    case Code.DeadlineExceeded:
      return `timed out: ${rawMessage}`;
    case Code.InvalidArgument:
      return `invalid request: ${rawMessage}`;
    default:
      return `${Code[code] ?? "error"}: ${rawMessage}`;
  }
}
