/**
 * `deno task serve`: runs one data-service instance until SIGINT/SIGTERM.
 *
 * On the first signal readiness flips to NOT_SERVING, the instance keeps
 * serving for --drain-delay-ms (routers see it leave and move its channels:
 * no call is refused), then in-flight requests get up to --drain-ms to finish, the worker lease is released, HTTP/2 sessions
 * and the Cassandra clients close, and the process exits 0. A second signal
 * exits at once (code 130). An explicit --worker-id held by another running
 * instance exits with code 1.
 *
 * @module
 */
import { answerHelpAndErrors } from "../lib/flags.ts";
import { onShutdown } from "../lib/shutdown.ts";
import { parseConfig, SERVE } from "./config.ts";
import { startDataService } from "./app.ts";
import { createLogger } from "../lib/log.ts";
import { guardPeerGone } from "../lib/peer_gone.ts";

if (import.meta.main) {
  const config = answerHelpAndErrors(SERVE, () => parseConfig(Deno.args));
  if (typeof config === "number") Deno.exit(config);
  const log = createLogger({ service: "data-service", port: config.port });
  // A peer that hung up must not end the process through a node:http2-internal socket.
  guardPeerGone(log);
  let service: Awaited<ReturnType<typeof startDataService>> | undefined;
  // --worker-id held by another running instance: this one cannot mint ids; exit and say why.
  const onFatal = async (err: Error) => {
    log.error("cannot run as configured", { error: err.message });
    await service?.close(0).catch(() => {});
    Deno.exit(1);
  };
  try {
    service = await startDataService(config, { log, onFatal });
  } catch (err) {
    const e = err as Error & { code?: string };
    const msg = e.code === "EADDRINUSE"
      ? `port ${config.port} on ${config.host} is already in use`
      : e.message;
    log.error("failed to start", { error: msg });
    Deno.exit(1);
  }
  onShutdown({
    onFirst: async (signal) => {
      log.info("draining", { signal, drainMs: config.drainMs, delayMs: config.drainDelayMs });
      try {
        await service!.close(config.drainMs, config.drainDelayMs);
      } catch (err) {
        log.error("shutdown failed", { error: err });
        return 1;
      }
    },
    onSecond: (signal) => log.warn("second signal: exiting now", { signal }),
  });
}
