/**
 * The gateway's `GetHotKeys`: the fleet's view rather than one instance's.
 * Each live instance is asked (through its own transport, in parallel, with
 * the caller's deadline) and the answers are merged by
 * {@linkcode mergeHotKeys}. An instance that does not answer is left out and
 * named in the `instance` field, so a partial view says it is partial;
 * UNAVAILABLE only when no instance answers.
 *
 * @module
 */
import { Code, ConnectError, createClient, type HandlerContext } from "@connectrpc/connect";
import {
  type GetHotKeysRequest,
  type GetHotKeysResponse,
  MessagesService,
} from "../gen/dataservices/v1/messages_pb.ts";
import { mergeHotKeys } from "../router/hot_keys.ts";
import type { RoutingTransport } from "../router/transport.ts";

/** The default length of the lists (as an instance's). */
const DEFAULT_LIMIT = 10;

/** `getHotKeys` for the gateway's MessagesService: every live instance, merged. */
export function fleetHotKeys(
  router: RoutingTransport,
): (req: GetHotKeysRequest, ctx: HandlerContext) => Promise<GetHotKeysResponse> {
  return async (req, ctx) => {
    const live = router.instances.filter((i) => i.up);
    const timeoutMs = ctx.timeoutMs();
    const answers = await Promise.allSettled(
      live.map((i) =>
        createClient(MessagesService, router.transportFor(i.id)).getHotKeys(req, {
          signal: ctx.signal,
          timeoutMs,
        })
      ),
    );
    const got: GetHotKeysResponse[] = [];
    const missing: string[] = [];
    answers.forEach((a, n) => {
      if (a.status === "fulfilled") got.push(a.value);
      else missing.push(live[n].id);
    });
    if (got.length === 0) {
      const why = answers.find((a) => a.status === "rejected") as PromiseRejectedResult | undefined;
      throw new ConnectError(
        `no instance answered GetHotKeys (${live.length} live)`,
        Code.Unavailable,
        undefined,
        undefined,
        why?.reason,
      );
    }
    const merged = mergeHotKeys(got, req.limit === 0 ? DEFAULT_LIMIT : req.limit);
    if (missing.length > 0) merged.instance += ` (no answer: ${missing.join(", ")})`;
    return merged;
  };
}
