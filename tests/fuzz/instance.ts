/**
 * The fuzz test's server: one data-service instance over a MemoryStore in
 * its own process (so a crash is seen as an exit, and the fuzzing client
 * does not share its event loop), holding one known message. Prints one JSON
 * line `{ url, fastUrl, channelId, messageId }` once both listeners are
 * bound; stops when its standard input closes or on SIGTERM.
 *
 * `deno run -A tests/fuzz/instance.ts [--store-latency-ms N] [serve flags...]`
 *
 * @module
 */
import { createLogger } from "../../lib/log.ts";
import { guardPeerGone } from "../../lib/peer_gone.ts";
import { startMemoryInstance } from "../../server/_memory_instance.ts";
import { MemoryStore } from "../../server/memory_store.ts";

/** The message every normal call of the fuzz test reads. */
export const KNOWN = { channelId: 7n, messageId: 7001n, authorId: 3n, content: "known" };

if (import.meta.main) {
  guardPeerGone(createLogger({ service: "fuzz-instance" })); // as server/main.ts
  const args = [...Deno.args];
  const latency = args[0] === "--store-latency-ms" ? Number(args.splice(0, 2)[1]) : 0;
  const store = new MemoryStore({ messages: [KNOWN], latencyMs: latency });
  const svc = await startMemoryInstance({ store, args });
  console.log(JSON.stringify({
    url: svc.url,
    fastUrl: svc.fastUrl,
    channelId: String(KNOWN.channelId),
    messageId: String(KNOWN.messageId),
  }));
  const stop = async () => {
    await svc.close(0);
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGTERM", stop);
  // Ends when the parent closes our stdin (or dies).
  for await (const _ of Deno.stdin.readable) { /* ignore input */ }
  await stop();
}
