import assert from "node:assert/strict";
import { Registry } from "prom-client";
import { registerProcessMetrics } from "./process_metrics.ts";

Deno.test("process metrics: what works under Deno is exported, with real values", async () => {
  const registry = new Registry();
  const removed = registerProcessMetrics(registry);
  const text = await registry.metrics();
  const value = (name: string) => {
    const m = new RegExp(`^${name} (\\S+)$`, "m").exec(text);
    assert.ok(m, `${name} is not exported`);
    return Number(m[1]);
  };
  assert.ok(value("process_resident_memory_bytes") > 1_000_000, "resident memory is real");
  assert.ok(value("process_cpu_seconds_total") > 0);
  assert.ok(value("nodejs_heap_size_used_bytes") > 0);
  assert.ok(Math.abs(value("process_start_time_seconds") - Date.now() / 1000) < 3600);
  for (const name of ["nodejs_gc_duration_seconds", "nodejs_active_handles_total"]) {
    assert.ok(removed.includes(name), name);
    assert.doesNotMatch(text, new RegExp(`^# TYPE ${name} `, "m"));
  }
  assert.ok(!removed.includes("process_resident_memory_bytes"));
});
