/**
 * A unary reply as the fast path builds it, independent of the transport
 * that writes it (Deno.serve, node:http2 stream, node:http).
 *
 * @module
 */

/** One response: status, content type, body, and the rarely present extras. */
export interface Reply {
  readonly status: number;
  readonly contentType: string;
  readonly body: Uint8Array;
  /** Headers besides content type and length (handler or error metadata); usually none. */
  readonly headers?: Headers;
  /**
   * HTTP trailers (gRPC only): the transport sends them after the body. For
   * a gRPC "trailers-only" reply (errors), the body is empty and
   * `trailersOnly` is set: the fields then travel in the headers.
   */
  readonly trailers?: Headers | Readonly<Record<string, string>>;
  readonly trailersOnly?: boolean;
}

/** Calls `fn` for each field of headers given either as `Headers` or a record. */
export function forEachField(
  fields: Headers | Readonly<Record<string, string>>,
  fn: (value: string, name: string) => void,
): void {
  if (fields instanceof Headers) {
    fields.forEach(fn);
    return;
  }
  for (const name in fields) fn(fields[name], name);
}

/** `reply` with `fields` added to its headers (the same reply when there are none). */
export function withFields(
  reply: Reply,
  fields: Readonly<Record<string, string>> | undefined,
): Reply {
  if (fields === undefined) return reply;
  const headers = new Headers(reply.headers);
  for (const name in fields) headers.set(name, fields[name]);
  return { ...reply, headers };
}
