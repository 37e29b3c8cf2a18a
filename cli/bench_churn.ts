/**
 * `deno task bench:churn`: issue 9's churn run. Against the instances
 * `deno task start` runs (supervised: a crashed instance is started again on
 * its port), h2load bursts at full speed on every protocol and listener, each
 * killed after 1-3 s so its connections close mid-burst, over and over; at
 * the same time the router client (the load CLI's, in this process) sends
 * reads at a steady rate and counts what callers saw. Every second each
 * instance's `GetStats.startedAt` is read: a new value is a restart.
 *
 * ```sh
 * deno task start &                  # supervised instances on 50051/50052 (+1000 fast)
 * deno task bench:churn --duration 10m
 * ```
 *
 * @module
 */
import { answerHelpAndErrors, defineCommand, parseCommand } from "../lib/flags.ts";
import { LOCAL_TARGETS } from "../lib/defaults.ts";
import { bodyFile } from "./bench_rpc_bodies.ts";
import { h2loadArgs, type HttpVersion, type RpcProtocol } from "./bench_rpc_cases.ts";
import { runLoad } from "./load.ts";

/** `deno task bench:churn`. */
export const CHURN = defineCommand({
  name: "bench:churn",
  summary: "h2load bursts on every protocol, killed mid-burst over and over, against the\n" +
    "instances of deno task start, while the router client reads at a steady rate;\n" +
    "counts instance restarts and what the router client's callers saw.",
  flags: [
    {
      name: "duration",
      type: "duration",
      bare: "s",
      above: 0,
      default: 600_000,
      help: "How long to churn",
    },
    {
      name: "rps",
      type: "number",
      above: 0,
      default: 300,
      help: "Reads per second of the router client",
    },
    {
      name: "targets",
      type: "list",
      default: LOCAL_TARGETS,
      help: "The instances (host:port of their main ports; fast listeners at +1000)",
    },
  ],
});

/** The burst kinds, in turn: protocol, HTTP version, listener. */
const KINDS: readonly [RpcProtocol, HttpVersion, "main" | "fast"][] = [
  ["grpc", "h2c", "main"],
  ["connect-proto", "h2c", "main"],
  ["grpc-web", "h2c", "main"],
  ["connect-json", "h1", "main"],
  ["connect-proto", "h2c", "fast"],
  ["grpc-web", "h2c", "fast"],
];

async function startedAt(target: string): Promise<string | undefined> {
  try {
    const res = await fetch(`http://${target}/dataservices.v1.MessagesService/GetStats`, {
      method: "POST",
      headers: { "content-type": "application/json", "connect-timeout-ms": "1000" },
      body: "{}",
      signal: AbortSignal.timeout(1500),
    });
    if (!res.ok) {
      await res.body?.cancel();
      return undefined;
    }
    return (await res.json()).startedAt;
  } catch {
    return undefined;
  }
}

if (import.meta.main) {
  const parsed = answerHelpAndErrors(CHURN, () => parseCommand(CHURN, Deno.args, () => undefined));
  if (typeof parsed === "number") Deno.exit(parsed);
  const { duration, rps, targets } = parsed.values;
  const dir = await Deno.makeTempDir({ prefix: "churn-" });
  const bodies = new Map<RpcProtocol, string | undefined>();
  for (const [p] of KINDS) bodies.set(p, await bodyFile(dir, p));
  const end = performance.now() + duration;

  // Restarts: a new startedAt; downtime: seconds without an answer.
  const seen = new Map<string, string>();
  const restarts = new Map<string, number>(targets.map((t) => [t, 0]));
  const silentSeconds = new Map<string, number>(targets.map((t) => [t, 0]));
  const watch = (async () => {
    while (performance.now() < end + 2000) {
      for (const t of targets) {
        const s = await startedAt(t);
        if (s === undefined) silentSeconds.set(t, silentSeconds.get(t)! + 1);
        else if (seen.has(t) && seen.get(t) !== s) restarts.set(t, restarts.get(t)! + 1);
        if (s !== undefined) seen.set(t, s);
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  })();

  const rounds: Record<string, number> = {};
  const churn = (async () => {
    let k = 0;
    while (performance.now() < end) {
      const [protocol, http, port] = KINDS[k % KINDS.length];
      const target = targets[Math.floor(k / KINDS.length) % targets.length];
      k++;
      const [host, p] = target.split(":");
      const base = `http://${host}:${port === "fast" ? Number(p) + 1000 : Number(p)}`;
      const args = h2loadArgs(protocol, http, {
        baseUrl: base,
        total: 10_000_000,
        bodyFile: bodies.get(protocol),
      });
      const child = new Deno.Command("h2load", { args, stdout: "null", stderr: "null" }).spawn();
      await new Promise((r) => setTimeout(r, 1000 + Math.random() * 2000));
      try {
        child.kill("SIGKILL"); // every connection closed at once, mid-burst
      } catch { /* gone */ }
      await child.status;
      const name = `${protocol}/${http}/${port}`;
      rounds[name] = (rounds[name] ?? 0) + 1;
    }
  })();

  const report = await runLoad({
    targets,
    rps,
    durationMs: duration,
    method: "message",
    workers: 1,
    timeoutMs: 10_000,
  });
  await churn;
  await watch;
  await Deno.remove(dir, { recursive: true });
  console.log(JSON.stringify(
    {
      durationS: duration / 1000,
      burstsKilledMidway: rounds,
      restartsByInstance: Object.fromEntries(restarts),
      secondsWithoutAnAnswer: Object.fromEntries(silentSeconds),
      routerClient: {
        sent: report.client.sent,
        ok: report.client.succeeded,
        failed: report.client.failed,
        errors: report.client.errors,
        samples: report.client.errorSamples,
        latencyMs: report.latencyMs,
        healthChanges: report.notes.filter((n) => n.includes("health")),
      },
    },
    null,
    2,
  ));
}
