/**
 * `deno task serve`: runs one data-service instance until SIGINT/SIGTERM.
 *
 * On the first signal readiness flips to NOT_SERVING, in-flight requests get
 * up to --drain-ms to finish, HTTP/2 sessions and the Cassandra client close,
 * and the process exits 0. A second signal exits at once (code 130).
 *
 * @module
 */
import { ConfigError, helpText, parseConfig } from "./config.ts";
import { startDataService } from "./app.ts";
import { createLogger } from "./log.ts";

if (import.meta.main) {
  let config;
  try {
    config = parseConfig(Deno.args);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(`error: ${err.message}\nRun with --help for the list of options.`);
    Deno.exit(2);
  }
  if (config.help) {
    console.log(helpText());
    Deno.exit(0);
  }
  const log = createLogger({ service: "data-service", port: config.port });
  let service;
  try {
    service = await startDataService(config, { log });
  } catch (err) {
    const e = err as Error & { code?: string };
    const msg = e.code === "EADDRINUSE"
      ? `port ${config.port} on ${config.host} is already in use`
      : e.message;
    log.error("failed to start", { error: msg });
    Deno.exit(1);
  }
  let stopping = false;
  const onSignal = (signal: Deno.Signal) => () => {
    if (stopping) {
      log.warn("second signal: exiting now", { signal });
      Deno.exit(130);
    }
    stopping = true;
    log.info("draining", { signal, drainMs: config.drainMs });
    service.close().then(() => Deno.exit(0), (err) => {
      log.error("shutdown failed", { error: err });
      Deno.exit(1);
    });
  };
  for (const s of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(s, onSignal(s));
}
