/**
 * prom-client's default process and runtime metrics (`collectDefaultMetrics`),
 * as far as they work under Deno 2.9.6, checked one by one:
 *
 * - work: `process_cpu_user_seconds_total`, `process_cpu_system_seconds_total`,
 *   `process_cpu_seconds_total`, `process_start_time_seconds`, the
 *   `nodejs_eventloop_lag_*` gauges, `nodejs_active_resources{,_total}`,
 *   `nodejs_heap_size_{total,used}_bytes`, `nodejs_external_memory_bytes`,
 *   `nodejs_heap_space_size_{total,used,available}_bytes`, and
 *   `nodejs_version_info` (the Node.js version Deno's compatibility layer
 *   reports, not Deno's).
 * - read `/proc/self`, which Deno allows only with `--allow-all` (not with
 *   `--allow-read`): `process_resident_memory_bytes`,
 *   `process_virtual_memory_bytes`, `process_heap_bytes`, `process_open_fds`,
 *   `process_max_fds` report 0 or nothing otherwise. Without that access they
 *   are removed, and `process_resident_memory_bytes` comes from
 *   `Deno.memoryUsage().rss` instead (no permission needed).
 * - never work, removed: `nodejs_gc_duration_seconds` (Deno emits no `gc`
 *   performance entries), `nodejs_active_handles{,_total}` and
 *   `nodejs_active_requests{,_total}` (Deno's `process._getActiveHandles` and
 *   `_getActiveRequests` return nothing).
 *
 * @module
 */
import { collectDefaultMetrics, Gauge, type Registry } from "prom-client";

/** Metrics that read `/proc/self` (need `--allow-all` under Deno). */
const FROM_PROC = [
  "process_resident_memory_bytes",
  "process_virtual_memory_bytes",
  "process_heap_bytes",
  "process_open_fds",
  "process_max_fds",
] as const;

/** Default metrics that never report anything under Deno 2.9.6. */
const NEVER = [
  "nodejs_gc_duration_seconds",
  "nodejs_active_handles",
  "nodejs_active_handles_total",
  "nodejs_active_requests",
  "nodejs_active_requests_total",
] as const;

/** Whether this process may read `/proc/self` (Deno: only with `--allow-all`). */
function procReadable(): boolean {
  try {
    Deno.readTextFileSync("/proc/self/limits");
    return true;
  } catch {
    return false;
  }
}

/**
 * Registers the default metrics that work on `registry`; returns the names of
 * those left out (see the module doc).
 */
export function registerProcessMetrics(registry: Registry): string[] {
  collectDefaultMetrics({ register: registry });
  const removed: string[] = [...NEVER];
  if (!procReadable()) removed.push(...FROM_PROC);
  for (const name of removed) registry.removeSingleMetric(name);
  if (registry.getSingleMetric("process_resident_memory_bytes") === undefined) {
    new Gauge({
      name: "process_resident_memory_bytes",
      help: "Resident memory size in bytes (Deno.memoryUsage().rss).",
      registers: [registry],
      collect() {
        this.set(Deno.memoryUsage().rss);
      },
    });
    return removed.filter((n) => n !== "process_resident_memory_bytes");
  }
  return removed;
}
