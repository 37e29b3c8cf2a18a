/**
 * connect-es's universal handlers on `node:http`/`node:http2` requests, as
 * `connectNodeAdapter` from connect-node serves them (path to handler,
 * `universalRequestFromNodeRequest`, `universalResponseToNodeResponse`), but
 * over handlers the caller gives, so each can be wrapped first (see
 * request_body_guard.ts). The main port serves what the fast path leaves with it.
 *
 * @module
 */
import { Code, ConnectError, type ContextValues } from "@connectrpc/connect";
import type { UniversalHandler } from "@connectrpc/connect/protocol";
import {
  universalRequestFromNodeRequest,
  universalResponseToNodeResponse,
} from "@connectrpc/connect-node";
import type * as http from "node:http";
import type { NodeHandler } from "./one_port.ts";

/**
 * A node handler serving `handlers` by request path; other paths go to
 * `fallback`. A handler that fails after its answer started (the client went
 * away) is reported to `onError`, as connect-node logs it. `contextValues`
 * makes each call's context values (connect-node's option of that name).
 */
export function nodeAdapter(
  handlers: readonly UniversalHandler[],
  fallback: NodeHandler,
  onError: (error: unknown) => void = () => {},
  contextValues?: (req: http.IncomingMessage) => ContextValues,
): NodeHandler {
  const paths = new Map(handlers.map((h) => [h.requestPath, h]));
  return (req, res) => {
    const h = paths.get(req.url?.split("?", 2)[0] ?? "");
    if (h === undefined) return fallback(req, res);
    let uReq;
    try {
      uReq = universalRequestFromNodeRequest(
        req as never,
        res as never,
        undefined,
        contextValues?.(req as http.IncomingMessage),
      );
    } catch (e) {
      // connect-node needs an authority: an HTTP/1.x request without Host gets here.
      const r = res as http.ServerResponse;
      r.writeHead(400, { "content-type": "text/plain", connection: "close" });
      r.end(`bad request: ${e instanceof Error ? e.message : e}\n`);
      return;
    }
    h(uReq)
      .then((uRes) => universalResponseToNodeResponse(uRes, res as never))
      .catch((reason) => {
        if (ConnectError.from(reason).code !== Code.Aborted) onError(reason);
      });
  };
}
