/**
 * What the suite watches beside the load: the resident memory of the
 * instances (from /proc) and an HTTP endpoint (`/healthz`, `/readyz`) polled
 * every 100 ms.
 *
 * @module
 */
import { now } from "./clients.ts";

/** Resident set size of `pid` in MB from /proc/<pid>/status, or undefined if it is gone. */
export async function rssMb(pid: number): Promise<number | undefined> {
  try {
    const status = await Deno.readTextFile(`/proc/${pid}/status`);
    const m = status.match(/^VmRSS:\s+(\d+) kB$/m);
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Samples the RSS of named processes every `everyMs`; pids are asked each time
 * (restarts). `stop()` gives each process's peak, and its first sample under
 * `<name>@start` (memory an experiment inherited from the one before).
 */
export function sampleRss(
  pids: () => Record<string, number | undefined>,
  everyMs = 100,
): { stop(): Promise<Record<string, number>> } {
  const peak: Record<string, number> = {};
  let running = true;
  const loop = (async () => {
    while (running) {
      for (const [name, pid] of Object.entries(pids())) {
        const mb = pid === undefined ? undefined : await rssMb(pid);
        if (mb === undefined) continue;
        peak[`${name}@start`] ??= Math.round(mb);
        peak[name] = Math.max(peak[name] ?? 0, Math.round(mb));
      }
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return peak;
    },
  };
}

/** One poll of an endpoint: when it started ({@link now}), its HTTP status (0: no answer), how long it took. */
export interface Poll {
  at: number;
  status: number;
  ms: number;
}

/** Polls `url` every `everyMs` (each poll times out after `timeoutMs`) until stopped. */
export function pollHttp(
  url: string,
  everyMs = 100,
  timeoutMs = 1000,
): { stop(): Promise<Poll[]> } {
  const polls: Poll[] = [];
  let running = true;
  const client = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
  const loop = (async () => {
    while (running) {
      const at = now();
      let status = 0;
      try {
        const r = await fetch(url, { client, signal: AbortSignal.timeout(timeoutMs) });
        await r.body?.cancel();
        status = r.status;
      } catch { /* no answer */ }
      polls.push({ at, status, ms: now() - at });
      const wait = everyMs - (now() - at);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      client.close();
      return polls;
    },
  };
}

/**
 * The longest time between two 200 answers in `polls` (from the first poll's
 * start, to the last poll's end): how long the endpoint stopped answering.
 */
export function longestSilenceMs(polls: Poll[]): number {
  let worst = 0;
  let lastOk: number | undefined = polls[0]?.at;
  for (const p of polls) {
    if (p.status === 200) {
      if (lastOk !== undefined) worst = Math.max(worst, p.at + p.ms - lastOk);
      lastOk = p.at + p.ms;
    }
  }
  const last = polls.at(-1);
  if (last && lastOk !== undefined) worst = Math.max(worst, last.at + last.ms - lastOk);
  return Math.round(worst);
}

/** Milliseconds from `since` to the first poll that started after it and did not answer 200. */
export function firstNot200After(polls: Poll[], since: number): number | undefined {
  const p = polls.find((x) => x.at >= since && x.status !== 200);
  return p === undefined ? undefined : Math.round(p.at + p.ms - since);
}
