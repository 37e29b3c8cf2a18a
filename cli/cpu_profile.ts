/**
 * Summarizes a V8 `.cpuprofile` (what `deno run --cpu-prof` writes): self
 * time by function and by coarse category, largest first.
 *
 * A sample's time is the gap to the next sample's timestamp (the last one
 * runs to `endTime`), credited to the node it hit (self time, no callees).
 *
 * `(idle)` (the event loop waiting) is counted apart; shares are of the
 * busy rest. Categories (first match wins): `(garbage collector)` is gc;
 * `(program)` and `(root)` (native work outside JS) are native; `ext:deno_node/` and
 * `node:` scripts are node-compat JS; other `ext:` scripts are the deno
 * runtime; `@connectrpc/`, `@bufbuild/protobuf` and `prom-client` paths are
 * those libraries; other `node_modules` paths are other npm; `file:` URLs
 * under the project root are project code; functions without a script are
 * V8 builtins / native.
 *
 * @module
 */

/** The parts of a V8 CPU profile this module reads. */
export interface CpuProfile {
  readonly nodes: readonly {
    readonly id: number;
    readonly callFrame: {
      readonly functionName: string;
      readonly url: string;
      readonly lineNumber: number;
      readonly columnNumber?: number;
    };
    readonly children?: readonly number[];
  }[];
  /** Microseconds. */
  readonly startTime: number;
  readonly endTime: number;
  /** Node id of each sample. */
  readonly samples: readonly number[];
  /** Microseconds since the previous sample (the first: since startTime). */
  readonly timeDeltas: readonly number[];
}

export const CATEGORIES = [
  "idle",
  "gc",
  "native",
  "node-compat JS",
  "deno runtime",
  "connect-es",
  "protobuf-es",
  "prom-client",
  "other npm",
  "project",
  "v8 builtins/native",
  "other",
] as const;
export type Category = typeof CATEGORIES[number];

/** The category of a call frame; `root` is the project's `file://` URL prefix. */
export function categorize(functionName: string, url: string, root: string): Category {
  if (functionName === "(garbage collector)") return "gc";
  if (functionName === "(idle)" && url === "") return "idle";
  if (["(program)", "(root)"].includes(functionName) && url === "") return "native";
  if (url.startsWith("ext:deno_node/") || url.startsWith("node:")) return "node-compat JS";
  if (url.startsWith("ext:")) return "deno runtime";
  if (url.includes("/@connectrpc/")) return "connect-es";
  if (url.includes("/@bufbuild/protobuf")) return "protobuf-es";
  if (url.includes("/prom-client")) return "prom-client";
  if (url.includes("/node_modules/") || url.startsWith("npm:")) return "other npm";
  if (url.startsWith(root)) return "project";
  if (url === "") return "v8 builtins/native";
  return "other";
}

/** One row of a summary. */
export interface CostRow {
  readonly name: string;
  readonly ms: number;
  /** Share of the busy (not idle) time, 0..100. */
  readonly percent: number;
}

/** A profile summary. */
export interface ProfileSummary {
  /** Summarized time (after `sinceUs`), ms: busy + idle. */
  readonly totalMs: number;
  /** Time not spent idle, ms: what the shares are of. */
  readonly busyMs: number;
  /** `(idle)`: the event loop waiting for work, ms. */
  readonly idleMs: number;
  readonly samples: number;
  /** Every busy category with time, largest first. */
  readonly byCategory: readonly CostRow[];
  /** The `top` busy functions by self time, largest first: `name url:line [category]`. */
  readonly byFunction: readonly CostRow[];
}

/** Shortens a script URL: project files relative to `root`, npm packages from their name. */
export function shortUrl(url: string, root: string): string {
  const nm = url.lastIndexOf("/node_modules/");
  if (nm >= 0) return url.slice(nm + "/node_modules/".length);
  if (url.startsWith(root)) return url.slice(root.length);
  return url;
}

/**
 * Self time by category and by function.
 *
 * @param o.root `file://` URL of the project root (for project code and short names).
 * @param o.top how many functions to list (default 15).
 * @param o.sinceUs skip samples taken less than this long after the profile started
 *   (start-up and warm-up).
 * @param o.untilUs skip samples taken this long or longer after the profile started
 *   (shutdown).
 */
export function summarizeProfile(
  p: CpuProfile,
  o: { root: string; top?: number; sinceUs?: number; untilUs?: number },
): ProfileSummary {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const stamps: number[] = [];
  let t = p.startTime;
  for (const d of p.timeDeltas) stamps.push(t += d);
  const cat = new Map<string, number>();
  const fn = new Map<string, number>();
  let total = 0;
  let idle = 0;
  let count = 0;
  const from = p.startTime + (o.sinceUs ?? 0);
  const to = o.untilUs === undefined ? Infinity : p.startTime + o.untilUs;
  for (let i = 0; i < p.samples.length; i++) {
    if (stamps[i] < from || stamps[i] >= to) continue;
    const us = (i + 1 < stamps.length ? stamps[i + 1] : p.endTime) - stamps[i];
    if (us <= 0) continue;
    const node = byId.get(p.samples[i]);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const c = categorize(functionName, url, o.root);
    total += us;
    count++;
    if (c === "idle") {
      idle += us;
      continue;
    }
    const where = url ? ` ${shortUrl(url, o.root)}:${lineNumber + 1}` : "";
    const key = `${functionName || "(anonymous)"}${where} [${c}]`;
    cat.set(c, (cat.get(c) ?? 0) + us);
    fn.set(key, (fn.get(key) ?? 0) + us);
  }
  const busy = total - idle;
  const rows = (m: Map<string, number>) =>
    [...m].sort((a, b) => b[1] - a[1]).map(([name, us]) => ({
      name,
      ms: us / 1000,
      percent: busy ? (100 * us) / busy : 0,
    }));
  return {
    totalMs: total / 1000,
    busyMs: busy / 1000,
    idleMs: idle / 1000,
    samples: count,
    byCategory: rows(cat),
    byFunction: rows(fn).slice(0, o.top ?? 15),
  };
}

/** The summary as text: categories, then the top functions. */
export function formatProfileSummary(s: ProfileSummary): string {
  const line = (r: CostRow) =>
    `  ${r.percent.toFixed(1).padStart(5)}%  ${r.ms.toFixed(1).padStart(9)} ms  ${r.name}`;
  return [
    `CPU profile: ${s.busyMs.toFixed(0)} ms busy (self time, shares below) and ` +
    `${s.idleMs.toFixed(0)} ms idle, in ${s.samples} samples`,
    "By category:",
    ...s.byCategory.map(line),
    "Top functions:",
    ...s.byFunction.map(line),
  ].join("\n");
}
