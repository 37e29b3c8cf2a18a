/**
 * For unit tests: a real data-service instance (all protocols on an
 * ephemeral port) whose store is a {@linkcode MemoryStore}, so no Cassandra
 * is needed. Readiness is awaited with a deadline.
 *
 * @module
 */
import { withTimeout } from "../lib/wait.ts";
import { type DataService, startDataService } from "./app.ts";
import { parseConfig } from "./config.ts";
import { createLogger, type Logger } from "../lib/log.ts";
import { MemoryStore } from "./memory_store.ts";

/** Options of {@linkcode startMemoryInstance}. */
export interface MemoryInstanceOptions {
  /** More `deno task serve` flags. */
  readonly args?: readonly string[];
  /** Default: an empty MemoryStore. */
  readonly store?: MemoryStore;
  /** Default: a logger that drops every line. */
  readonly log?: Logger;
  /** Wait until ready (default true, at most 10 s). */
  readonly waitReady?: boolean;
}

/** Starts an instance on `127.0.0.1:0` over a MemoryStore. */
export async function startMemoryInstance(
  options: MemoryInstanceOptions = {},
): Promise<DataService & { store: MemoryStore }> {
  const store = options.store ?? new MemoryStore();
  const config = parseConfig(
    ["--port", "0", ...(options.args ?? [])],
    () => undefined,
  );
  const service = await startDataService(config, {
    store,
    log: options.log ?? createLogger({}, { level: "error", write: () => {} }),
  });
  if ((options.waitReady ?? true) && !service.readiness.ready) {
    const ready = Promise.withResolvers<void>();
    const off = service.readiness.onChange(() => service.readiness.ready && ready.resolve());
    try {
      await withTimeout(ready.promise, 10_000, `in-memory instance ${service.url} to be ready`);
    } catch (err) {
      await service.close(0);
      throw err;
    } finally {
      off();
    }
  }
  return Object.assign(service, { store });
}
