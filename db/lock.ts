/**
 * Serializes `up`/`down`/`clean` between processes sharing a state directory.
 *
 * @module
 */
import type { Settings } from "./settings.ts";

/** Runs `fn` holding an exclusive flock on `<state>/.lock` (says so after 1 s of waiting). */
export async function withLock<T>(s: Settings, fn: () => Promise<T>): Promise<T> {
  await Deno.mkdir(s.stateDir, { recursive: true });
  const f = await Deno.open(`${s.stateDir}/.lock`, { create: true, write: true });
  const note = setTimeout(() => s.log("db: waiting for another db command to finish..."), 1000);
  try {
    await f.lock(true);
    clearTimeout(note);
    return await fn();
  } finally {
    clearTimeout(note);
    f.close();
  }
}
