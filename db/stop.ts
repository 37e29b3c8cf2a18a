/**
 * `db down` and `db clean`: stop every Cassandra of ours, and wipe its state.
 *
 * @module
 */
import { composeDown, dockerAnswers, readComposeMarker } from "./compose.ts";
import { kill, sleep } from "./jvm.ts";
import { withLock } from "./lock.ts";
import { seconds } from "./logs.ts";
import { DbError, type Settings, settingsFromEnv } from "./settings.ts";
import { clusterDir, isOurNode, knownSizes, nodeStates, ourProcesses } from "./state.ts";

/**
 * Stops every Cassandra of ours: the pids recorded in the state directory and
 * any other live CassandraDaemon whose node directory is below it (verified
 * through /proc/<pid>/cmdline). SIGTERM, wait up to `graceMs`, then SIGKILL.
 * Returns the pids stopped. Also removes compose services started by `up`.
 */
export async function down(
  settings: Settings = settingsFromEnv(),
  graceMs = 30_000,
): Promise<number[]> {
  const s = settings;
  return await withLock(s, async () => {
    if (await readComposeMarker(s) && await dockerAnswers()) await composeDown(s);
    const procs = new Map<number, string>();
    for (const n of await knownSizes(s)) {
      for (const x of await nodeStates(s, n)) if (x.alive) procs.set(x.pid!, x.dir);
    }
    for (const p of await ourProcesses(s)) procs.set(p.pid, p.dir);
    if (procs.size === 0) {
      s.log("db: no Cassandra of ours is running");
    } else {
      await stopAll(s, procs, graceMs);
    }
    for (const dir of procs.values()) await Deno.remove(`${dir}/cassandra.pid`).catch(() => {});
    return [...procs.keys()];
  });
}

/** SIGTERM to every pid, SIGKILL to those alive after `graceMs`; throws if one survives. */
async function stopAll(s: Settings, procs: Map<number, string>, graceMs: number): Promise<void> {
  const t0 = Date.now();
  s.log(`db: stopping ${[...procs.keys()].map((p) => `pid ${p}`).join(", ")} (SIGTERM)`);
  for (const pid of procs.keys()) kill(pid, "SIGTERM");
  const alive = async () => {
    const left: number[] = [];
    for (const [pid, dir] of procs) if (await isOurNode(pid, dir)) left.push(pid);
    return left;
  };
  let left = await alive();
  while (left.length && Date.now() - t0 < graceMs) {
    await sleep(200);
    left = await alive();
  }
  if (left.length) {
    s.log(`db: still alive after ${seconds(graceMs)}, SIGKILL ${left.join(", ")}`);
    for (const pid of left) kill(pid, "SIGKILL");
    const t1 = Date.now();
    while ((left = await alive()).length && Date.now() - t1 < 10_000) await sleep(100);
    if (left.length) throw new DbError(`Could not stop pid ${left.join(", ")}`);
  }
  s.log(`db: stopped in ${seconds(Date.now() - t0)}`);
}

/** `down`, then deletes every cluster's state (`<state>/n*`); keeps the jars. */
export async function clean(settings: Settings = settingsFromEnv()): Promise<void> {
  const s = settings;
  await down(s);
  await withLock(s, async () => {
    for (const n of await knownSizes(s)) {
      await Deno.remove(clusterDir(s, n), { recursive: true });
      s.log(`db: removed ${clusterDir(s, n)}`);
    }
  });
}
