/**
 * The caller's address as the server saw it (`ip:port`, IPv6 in brackets),
 * for access logs, on every serving path: the fast path reads it from the
 * request through its {@linkcode RequestReader} (only when asked); the
 * connect-es path on the main port gets it as a context value set by
 * `serving.ts`. connect-es calls on the fast listener (streams, compressed
 * requests) have none: `Deno.serve` hands the address to the handler, and
 * connect-es's fetch adapter does not pass it on.
 *
 * @module
 */
import { createContextKey, type HandlerContext } from "@connectrpc/connect";
import { FastContext } from "./fast/context.ts";

/** The context value that carries the caller's address on the connect-es path. */
export const PEER = createContextKey<string | undefined>(undefined, {
  description: "the caller's address (ip:port)",
});

/** `ip:port`, with an IPv6 address in brackets; undefined without an address. */
export function formatPeer(
  address: string | undefined,
  port: number | undefined,
): string | undefined {
  if (address === undefined || address === "") return undefined;
  const host = address.includes(":") ? `[${address}]` : address;
  return port === undefined ? host : `${host}:${port}`;
}

/** The address of a node socket (or undefined when it has none, e.g. destroyed). */
export function socketPeer(
  socket: { remoteAddress?: string; remotePort?: number } | null | undefined,
): string | undefined {
  return socket ? formatPeer(socket.remoteAddress, socket.remotePort) : undefined;
}

/** The caller's address of a call on either path, if the server knows it. */
export function peerOf(ctx: HandlerContext): string | undefined {
  return ctx instanceof FastContext ? ctx.peer : ctx.values.get(PEER);
}
