/**
 * `deno task bench:recovery`: how an instance lives through Cassandra
 * freezing (every byte stopped, connections open: a node under SIGSTOP) and
 * going away (connections closed and refused: a killed node). By default
 * without touching the shared Cassandra: the instance reaches a one-node
 * Cassandra through a {@linkcode FaultProxy} that injects the faults. With
 * `--cluster` and `--pids` (a cluster of your own, e.g. a second one started
 * with `DB_STATE_DIR` and `DB_IP_BASE`), the faults are real: SIGSTOP and
 * SIGCONT of every node, then SIGKILL and `--restart` (the cluster counts as
 * back once a LOCAL_QUORUM read answers).
 *
 * An instance runs as a child process; a steady load (a GetMessage of a new
 * key every 50 ms, a CreateMessage every 100 ms, each with a 60 s deadline so
 * that only the server bounds it) and a `/readyz` poll every 25 ms record
 * what callers see. For each fault it prints how long readiness took to flip,
 * the longest call made during the fault and its code, and, once the fault
 * is lifted, how long until a read and a write succeed again and readiness
 * is back.
 *
 * @module
 */
import cassandra from "cassandra-driver";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { MessagesService } from "../gen/dataservices/v1/messages_pb.ts";
import { contactPoints } from "../db/cluster.ts";
import { FaultProxy } from "../lib/fault_proxy.ts";
import { defineCommand, parseOrExitCode } from "../lib/flags.ts";
import { spawnInstance } from "./child.ts";

const COMMAND = defineCommand({
  name: "bench:recovery",
  summary: `Freezes and then cuts a one-node Cassandra under a data-service instance (through a
fault-injecting TCP proxy; the Cassandra itself is untouched) and measures readiness
flips, call bounds and the time to serve again.`,
  flags: [
    {
      name: "cassandra",
      type: "string",
      arg: "HOST:PORT",
      help: "The one-node Cassandra to put the proxy in front of",
      defaultHelp: "the running one (deno task db up)",
    },
    {
      name: "freeze",
      type: "duration",
      bare: "s",
      min: 1000,
      default: 12_000,
      help: "How long Cassandra stays frozen",
    },
    {
      name: "outage",
      type: "duration",
      bare: "s",
      min: 1000,
      default: 45_000,
      help: "How long Cassandra stays away (connections refused)",
    },
    {
      name: "faults",
      type: "list",
      arg: "LIST",
      default: ["freeze", "outage"],
      help: "Which faults to inject, in order: freeze, outage",
    },
    {
      name: "cluster",
      type: "list",
      arg: "LIST",
      default: [],
      help: "Contact points of a cluster of your own to fault with signals (needs --pids)",
    },
    {
      name: "pids",
      type: "list",
      arg: "LIST",
      default: [],
      help: "Its Cassandra JVMs: SIGSTOP/SIGCONT, then SIGKILL",
    },
    {
      name: "restart",
      type: "string",
      arg: "CMD",
      default: "",
      help: "Shell command that starts the killed cluster again (e.g. its db up)",
    },
    {
      name: "instance-dir",
      type: "string",
      arg: "DIR",
      default: "",
      help: "Run server/main.ts of another checkout (to measure a version before a change)",
    },
    {
      name: "out",
      type: "string",
      arg: "FILE",
      default: "",
      help: "Write the results as JSON here",
    },
    {
      name: "serve-args",
      type: "list",
      arg: "LIST",
      default: [],
      help: "More flags of deno task serve, comma-separated (e.g. --query-timeout-ms=2000)",
    },
  ],
});

/** Injects the two faults and lifts them; `lift` resolves with the time the fault ended. */
interface Faults {
  readonly contactPoints: string[];
  freeze(): Promise<void>;
  thaw(): Promise<number>;
  kill(): Promise<void>;
  revive(): Promise<number>;
  close(): Promise<void>;
}

/** Faults through a proxy in front of a one-node Cassandra. */
async function proxyFaults(target: string): Promise<Faults> {
  const [hostname, port = "9042"] = target.split(":");
  const proxy = await FaultProxy.start({ hostname, port: Number(port) });
  return {
    contactPoints: [proxy.address],
    freeze: () => Promise.resolve(proxy.freeze()),
    thaw: () => Promise.resolve((proxy.thaw(), performance.now())),
    kill: () => proxy.down(),
    revive: async () => (await proxy.up(), performance.now()),
    close: () => proxy.close(),
  };
}

/** Real faults: signals to the JVMs of a cluster of one's own, and a restart command. */
function signalFaults(contactPoints: string[], pids: number[], restart: string): Faults {
  const signal = (sig: Deno.Signal) => {
    for (const pid of pids) Deno.kill(pid, sig);
  };
  let restarting: Promise<Deno.CommandOutput> | undefined;
  return {
    contactPoints,
    freeze: () => Promise.resolve(signal("SIGSTOP")),
    thaw: () => Promise.resolve((signal("SIGCONT"), performance.now())),
    kill: () => Promise.resolve(signal("SIGKILL")),
    async revive() {
      if (!restart) throw new Error("--restart is needed to bring a killed cluster back");
      restarting = new Deno.Command("bash", { args: ["-c", restart], stdout: "null" }).output();
      // Back when a read at LOCAL_QUORUM answers, from a new client each time (no backoff).
      for (;;) {
        const c = new cassandra.Client({
          contactPoints,
          localDataCenter: "datacenter1",
          socketOptions: { connectTimeout: 500, readTimeout: 1000 },
        });
        try {
          await c.execute("SELECT channel_id FROM dataservices.messages LIMIT 1", [], {
            consistency: cassandra.types.consistencies.localQuorum,
          });
          return performance.now();
        } catch {
          await sleep(100);
        } finally {
          await c.shutdown().catch(() => {});
        }
      }
    },
    async close() {
      await restarting;
    },
  };
}

interface Call {
  readonly op: "read" | "write";
  readonly start: number;
  end?: number;
  code?: string;
}

interface Outcome {
  readonly fault: "freeze" | "outage";
  readonly durationMs: number;
  /** From the fault to the first /readyz 503. */
  readonly notReadyAfterMs: number | null;
  /** Calls started during the fault: the longest of each op and the codes seen. */
  readonly during: Record<string, { calls: number; maxMs: number; codes: Record<string, number> }>;
  /**
   * From lifting the fault (thawed; the proxy up, or the cluster answering a
   * LOCAL_QUORUM read) to the end of the first successful call started after it.
   */
  readonly readOkAfterMs: number | null;
  readonly writeOkAfterMs: number | null;
  /** From lifting the fault to the first /readyz 200. */
  readonly readyAfterMs: number | null;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<number> {
  const parsed = parseOrExitCode(COMMAND, Deno.args, { env: () => undefined });
  if (typeof parsed === "number") return parsed;
  const opts = parsed.values;
  let faults: Faults;
  if (opts.cluster.length > 0) {
    if (opts.pids.length === 0) throw new Error("--cluster needs --pids");
    faults = signalFaults(opts.cluster, opts.pids.map(Number), opts.restart);
  } else {
    let target = opts.cassandra;
    if (!target) {
      const info = await contactPoints();
      if (!info) throw new Error("no Cassandra running: deno task db up, or --cassandra HOST:PORT");
      if (info.nodes !== 1) {
        throw new Error("the proxy works in front of a one-node Cassandra only");
      }
      target = info.contactPoints[0];
    }
    faults = await proxyFaults(target);
  }
  const instance = spawnInstance("data-service", {
    host: "127.0.0.1",
    port: 0,
    cassandra: { contactPoints: faults.contactPoints, localDataCenter: "datacenter1" },
    extraArgs: ["--fast-port", "off", ...opts["serve-args"]],
    cwd: opts["instance-dir"] || undefined,
    // The instance's own account (lease, readiness) on stderr, beside the figures on stdout.
    onLine: (line) => line.includes('"level":"debug"') || console.error(line),
  });
  const outcomes: Outcome[] = [];
  let session: Http2SessionManager | undefined;
  try {
    const url = await instance.ready("/readyz", 120_000);
    session = new Http2SessionManager(url);
    const api = createClient(
      MessagesService,
      createConnectTransport({ baseUrl: url, httpVersion: "2", sessionManager: session }),
    );
    // A write first: an instance that cannot mint ids yet is not ready to be measured.
    for (let i = 0;; i++) {
      try {
        await api.createMessage({ channelId: 1n, authorId: 1n, content: "warm-up" });
        break;
      } catch (err) {
        if (i >= 100) throw err;
        await sleep(100);
      }
    }
    const calls: Call[] = [];
    const readyz: { t: number; ok: boolean }[] = [];
    let running = true;
    const record = async (op: Call["op"], fn: () => Promise<unknown>) => {
      const call: Call = { op, start: performance.now() };
      calls.push(call);
      try {
        await fn();
        call.code = "ok";
      } catch (err) {
        const code = ConnectError.from(err).code;
        // A read of a key that does not exist answered: Cassandra served it.
        call.code = code === Code.NotFound ? "ok" : Code[code];
      }
      call.end = performance.now();
    };
    const loops = [
      (async () => {
        let k = 0n;
        while (running) {
          const channelId = 1_000_000n + k++;
          record("read", () => api.getMessage({ channelId, messageId: 1n }, { timeoutMs: 60_000 }));
          await sleep(50);
        }
      })(),
      (async () => {
        while (running) {
          record("write", () =>
            api.createMessage({ channelId: 7n, authorId: 1n, content: "x" }, {
              timeoutMs: 60_000,
            }));
          await sleep(100);
        }
      })(),
      (async () => {
        while (running) {
          const t = performance.now();
          try {
            const r = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1000) });
            await r.body?.cancel();
            readyz.push({ t, ok: r.ok });
          } catch {
            readyz.push({ t, ok: false });
          }
          await sleep(25);
        }
      })(),
    ];
    const measure = async (
      fault: Outcome["fault"],
      durationMs: number,
      inject: () => Promise<void>,
      lift: () => Promise<number>,
    ) => {
      await sleep(2000);
      const t0 = performance.now();
      await inject();
      await sleep(durationMs);
      const t1 = await lift();
      // Long enough for the slowest call started during the fault to end.
      await sleep(25_000);
      const firstOk = (op: Call["op"]) => {
        const c = calls.find((c) => c.op === op && c.start >= t1 && c.code === "ok");
        return c?.end !== undefined ? Math.round(c.end - t1) : null;
      };
      const during: Outcome["during"] = {};
      for (const c of calls.filter((c) => c.start >= t0 && c.start < t1)) {
        const d = during[c.op] ??= { calls: 0, maxMs: 0, codes: {} };
        d.calls++;
        d.maxMs = Math.max(d.maxMs, Math.round((c.end ?? performance.now()) - c.start));
        const code = c.code ?? "pending";
        d.codes[code] = (d.codes[code] ?? 0) + 1;
      }
      const notReady = readyz.find((r) => r.t >= t0 && !r.ok);
      const ready = readyz.find((r) => r.t >= t1 && r.ok);
      outcomes.push({
        fault,
        durationMs,
        notReadyAfterMs: notReady ? Math.round(notReady.t - t0) : null,
        during,
        readOkAfterMs: firstOk("read"),
        writeOkAfterMs: firstOk("write"),
        readyAfterMs: ready ? Math.round(ready.t - t1) : null,
      });
      console.log(JSON.stringify(outcomes.at(-1)));
    };
    for (const fault of opts.faults) {
      if (fault === "freeze") {
        await measure("freeze", opts.freeze, () => faults.freeze(), () => faults.thaw());
      } else if (fault === "outage") {
        await measure("outage", opts.outage, () => faults.kill(), () => faults.revive());
      } else {
        throw new Error(`unknown fault ${JSON.stringify(fault)}: freeze or outage`);
      }
    }
    running = false;
    await Promise.all(loops);
  } finally {
    session?.abort();
    await instance.stop(5000);
    await faults.close();
  }
  if (opts.out) await Deno.writeTextFile(opts.out, JSON.stringify(outcomes, null, 2) + "\n");
  return 0;
}

if (import.meta.main) Deno.exit(await main());
