/**
 * The clients of the suite: the router client over the instances as users
 * get it (`createNodeRoutingTransport` with its default transport: binary
 * Connect over Deno's fetch to each instance's fast listener; jump hash,
 * health-aware failover) and a plain connect-node transport to one URL (the
 * gateway, or one instance; binary Connect over node:http2). With
 * `protocol: "connect"` (connect-node) the router's own process was aborted
 * by Deno 2.9.6's node:http2 client when an instance drained (SIGABRT, the
 * nghttp2 GOAWAY assertion of the performance issue).
 *
 * @module
 */
import { type Client, createClient } from "@connectrpc/connect";
import { createConnectTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { MessagesService } from "../../gen/dataservices/v1/messages_pb.ts";
import { createNodeRoutingTransport } from "../../router/node.ts";

/** A client and what closes its connections. */
export interface ClosableClient {
  client: Client<typeof MessagesService>;
  close(): Promise<void>;
}

/** A router client over `instances` (`host:port`, in router order). */
export async function routerClient(
  instances: string[],
  timeoutMs: number,
): Promise<ClosableClient> {
  const router = await createNodeRoutingTransport({ instances, defaultTimeoutMs: timeoutMs });
  return { client: createClient(MessagesService, router), close: () => router.close() };
}

/** A plain connect-node transport (one HTTP/2 connection) to `baseUrl`. */
export function directClient(baseUrl: string, timeoutMs: number): ClosableClient {
  const sessionManager = new Http2SessionManager(baseUrl);
  const transport = createConnectTransport({
    baseUrl,
    httpVersion: "2",
    sessionManager,
    defaultTimeoutMs: timeoutMs,
  });
  return {
    client: createClient(MessagesService, transport),
    close: () => Promise.resolve(sessionManager.abort()),
  };
}

/** Wall-clock milliseconds with sub-millisecond resolution, comparable across processes. */
export function now(): number {
  return performance.timeOrigin + performance.now();
}
