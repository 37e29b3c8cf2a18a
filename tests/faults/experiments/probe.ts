/**
 * After an overload: how long until one instance answers a normal read
 * again (a GetMessage of an acknowledged write, straight to the instance).
 *
 * @module
 */
import { now } from "../clients.ts";
import type { ExperimentContext } from "../experiment.ts";
import type { Stack } from "../stack.ts";

/**
 * Calls GetMessage on `target` every 100 ms until one succeeds; `ms` is null
 * after `timeoutMs`, or at once when the instance has exited.
 */
export async function probeUntilOk(
  ctx: ExperimentContext,
  target: Stack["instances"][number],
  timeoutMs: number,
): Promise<{ ms: number | null }> {
  const t0 = now();
  const known = ctx.known.at(-1);
  const c = ctx.stack.directClient(ctx.stack.url(target));
  try {
    while (now() - t0 < timeoutMs && target.alive) {
      try {
        if (known) {
          await c.client.getMessage(
            { channelId: BigInt(known.channelId), messageId: BigInt(known.messageId) },
            { timeoutMs: 2000 },
          );
        } else {
          await c.client.getStats({}, { timeoutMs: 2000 });
        }
        return { ms: Math.round(now() - t0) };
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    return { ms: null };
  } finally {
    await c.close();
  }
}
