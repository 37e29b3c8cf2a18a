/**
 * For tests that kill an instance (SIGKILL, SIGTERM): `server/main.ts` over
 * a {@linkcode MemoryStore} instead of Cassandra, as a process. Takes the
 * flags of `deno task serve` (`--port 0` by default); logs JSON lines on
 * stderr like an instance (`"msg":"listening"` with its URL), drains on the
 * first SIGINT/SIGTERM. Not a command of the project.
 *
 * @module
 */
import { createLogger } from "../lib/log.ts";
import { onShutdown } from "../lib/shutdown.ts";
import { guardPeerGone } from "../lib/peer_gone.ts";
import { startMemoryInstance } from "./_memory_instance.ts";

if (import.meta.main) {
  const log = createLogger({ service: "memory-instance" }, { level: "info" });
  guardPeerGone(log); // as server/main.ts
  const service = await startMemoryInstance({ args: Deno.args, log });
  onShutdown({ onFirst: () => service.close() });
}
