/**
 * A load in a process of its own. The suite's clients run on Deno's
 * `node:http2`, which has crashed the whole process (SIGSEGV in libc `free`,
 * an nghttp2 assertion) while an instance went away under load; in a worker
 * such a crash ends that load only, and is recorded. The worker streams one
 * JSON line per finished call and per acknowledged write on stdout, so
 * nothing is lost up to a crash; SIGTERM stops a mixed load (calls in flight
 * finish), a write burst ends by itself.
 *
 * @module
 */
import { type ClosableClient, directClient, routerClient } from "./clients.ts";
import { type AckedWrite, type OpRecord, runWriteBurst, seeded, startMixedLoad } from "./load.ts";
import { TextLineStream } from "../../cli/text_lines.ts";

/** What a worker runs. */
export interface LoadSpec {
  experiment: string;
  /** The router client over instances, or plain transports to one URL. */
  target:
    | { kind: "router"; instances: string[] }
    | { kind: "direct"; url: string; connections: number };
  load:
    | { kind: "mixed"; concurrency: number; writeRatio: number; channels: number }
    | { kind: "write-burst"; count: number };
  /** Decimal string (bigint). */
  firstChannel: string;
  seed: number;
  /** First sequence number of this load's writes. */
  seqStart: number;
  timeoutMs: number;
  /** JSONL file of writes acknowledged before (reads pick from them). */
  knownFile: string;
}

/** A line of a worker's output. */
export type WorkerLine =
  | ({ t: "op" } & OpRecord)
  | ({ t: "ack" } & AckedWrite)
  | { t: "ready" }
  | { t: "done" };

/** A running worker, seen from the runner. */
export interface LoadWorker {
  readonly records: OpRecord[];
  readonly acked: AckedWrite[];
  /** Resolves once the worker's clients exist (it has started calling). */
  readonly ready: Promise<void>;
  /** Resolves when the worker has exited: its exit code or signal. */
  readonly exited: Promise<string>;
  /** Stops a mixed load and resolves with how the worker ended. */
  stop(): Promise<string>;
}

/** Starts `deno run -A tests/faults/load_worker.ts <spec>`. */
export function spawnLoad(spec: LoadSpec, onAck: (w: AckedWrite) => void): LoadWorker {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("./load_worker.ts", import.meta.url).pathname,
      JSON.stringify(spec),
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const records: OpRecord[] = [];
  const acked: AckedWrite[] = [];
  const ready = Promise.withResolvers<void>();
  const reading = (async () => {
    const lines = child.stdout.pipeThrough(new TextDecoderStream()).pipeThrough(
      new TextLineStream(),
    );
    for await (const line of lines) {
      let m: WorkerLine;
      try {
        m = JSON.parse(line);
      } catch {
        continue;
      }
      if (m.t === "op") {
        records.push({
          kind: m.kind,
          start: m.start,
          end: m.end,
          code: m.code,
          message: m.message,
        });
      } else if (m.t === "ack") {
        const { t: _, ...w } = m;
        acked.push(w);
        onAck(w);
      } else if (m.t === "ready") ready.resolve();
    }
  })();
  const exited = child.status.then(async (s) => {
    await reading.catch(() => {});
    ready.resolve(); // never hang on a worker that died before it was ready
    return s.signal ? `signal ${s.signal}` : `exit ${s.code}`;
  });
  return {
    records,
    acked,
    ready: ready.promise,
    exited,
    stop() {
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
      return exited;
    },
  };
}

async function main(spec: LoadSpec): Promise<void> {
  const encoder = new TextEncoder();
  const emit = (m: WorkerLine) => Deno.stdout.writeSync(encoder.encode(JSON.stringify(m) + "\n"));
  const known: Pick<AckedWrite, "channelId" | "messageId">[] = [];
  try {
    for (const line of (await Deno.readTextFile(spec.knownFile)).split("\n")) {
      if (line) known.push(JSON.parse(line));
    }
  } catch { /* no writes yet */ }
  const clients: ClosableClient[] = spec.target.kind === "router"
    ? [await routerClient(spec.target.instances, spec.timeoutMs)]
    : Array.from(
      { length: spec.target.connections },
      () => directClient((spec.target as { url: string }).url, spec.timeoutMs),
    );
  const seq = { next: spec.seqStart };
  const onAck = (w: AckedWrite) => emit({ t: "ack", ...w });
  const onRecord = (r: OpRecord) => emit({ t: "op", ...r });
  const stop = Promise.withResolvers<void>();
  Deno.addSignalListener("SIGTERM", () => stop.resolve());
  emit({ t: "ready" });
  if (spec.load.kind === "write-burst") {
    await runWriteBurst(clients.map((c) => c.client), {
      experiment: spec.experiment,
      count: spec.load.count,
      firstChannel: BigInt(spec.firstChannel),
      seq,
      timeoutMs: spec.timeoutMs,
      onAck,
      onRecord,
    });
  } else {
    const load = startMixedLoad(clients[0].client, {
      experiment: spec.experiment,
      concurrency: spec.load.concurrency,
      writeRatio: spec.load.writeRatio,
      channels: spec.load.channels,
      firstChannel: BigInt(spec.firstChannel),
      known,
      seq,
      onAck,
      onRecord,
      rng: seeded(spec.seed),
      timeoutMs: spec.timeoutMs,
    });
    await stop.promise;
    await load.stop();
  }
  for (const c of clients) await c.close();
  emit({ t: "done" });
  Deno.exit(0);
}

if (import.meta.main) await main(JSON.parse(Deno.args[0]) as LoadSpec);
