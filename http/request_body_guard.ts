/**
 * The request body of calls served by connect-es (streams, and what the
 * fast path does not take), checked as connect-es reads it:
 *
 * - envelope flags: a gRPC, gRPC-web or Connect-streaming request message
 *   carries flags 0 or 1 (compressed) and nothing else. connect-es reads
 *   flags 2–255 as ordinary messages (or, with bit 0 set, as compressed
 *   ones); here they fail with INVALID_ARGUMENT, as the fast path answers
 *   them (`unwrapUnary`);
 * - timeouts: a `grpc-timeout` or `connect-timeout-ms` longer than a timer
 *   can wait (`MAX_TIMEOUT_MS`, about 24.8 days) is dropped (no deadline):
 *   connect-es would arm a `setTimeout` that fires at once and fail the
 *   call with DEADLINE_EXCEEDED;
 * - arrival: a method whose request is one message (unary, server-streaming)
 *   must receive its whole body within `bodyTimeoutMs` of its head, as on
 *   the fast path (body_deadline.ts); past it the call fails with
 *   DEADLINE_EXCEEDED instead of waiting for ever, and an HTTP/1.1 answer
 *   closes its connection. Client and bidi streams are not bounded here.
 *
 * @module
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { UniversalHandler, UniversalServerRequest } from "@connectrpc/connect/protocol";
import { BodyDeadline, bodyTimeoutError } from "./fast/body_deadline.ts";
import { MAX_TIMEOUT_MS } from "./fast/context.ts";

/** Enveloped request bodies: gRPC, gRPC-web, Connect streaming. */
const ENVELOPED = /^application\/(grpc|grpc-web|connect\+)/i;

/** Options of {@linkcode guardRequestBody}. */
export interface BodyGuardOptions {
  /** Bound on a one-message request's body arrival (ms); 0 = none. */
  readonly bodyTimeoutMs: number;
}

/** `handler` with its request bodies checked (see the module doc). */
export function guardRequestBody(handler: UniversalHandler, o: BodyGuardOptions): UniversalHandler {
  const kind = handler.method.methodKind;
  const timeoutMs = kind === "client_streaming" || kind === "bidi_streaming" ? 0 : o.bodyTimeoutMs;
  const guarded = async (request: UniversalServerRequest) => {
    const req = withoutEndlessTimeout(request);
    const body = req.body;
    if (body === null || typeof body !== "object" || !(Symbol.asyncIterator in body)) {
      return handler(req);
    }
    const flags = ENVELOPED.test(req.header.get("content-type") ?? "");
    if (!flags && timeoutMs <= 0) return handler(req);
    const state = { timedOut: false };
    const res = await handler({
      ...req,
      body: checked(body as AsyncIterable<Uint8Array>, flags, timeoutMs, state),
    });
    if (state.timedOut && req.httpVersion.startsWith("1")) {
      // The rest of the body may never come: the connection carries no other request.
      res.header?.set("connection", "close");
    }
    return res;
  };
  return Object.assign(guarded, {
    protocolNames: handler.protocolNames,
    service: handler.service,
    method: handler.method,
    requestPath: handler.requestPath,
    allowedMethods: handler.allowedMethods,
    supportedContentType: handler.supportedContentType,
  });
}

/** Passes the bytes through unchanged; throws on bad envelope flags or when the deadline passes. */
async function* checked(
  body: AsyncIterable<Uint8Array>,
  flags: boolean,
  timeoutMs: number,
  state: { timedOut: boolean },
): AsyncIterable<Uint8Array> {
  const it = body[Symbol.asyncIterator]();
  let stop: ((e: ConnectError) => void) | undefined;
  const deadline = timeoutMs > 0
    ? new BodyDeadline(timeoutMs, () => {
      state.timedOut = true;
      stop?.(bodyTimeoutError(timeoutMs));
    })
    : undefined;
  const stopped = deadline && new Promise<ConnectError>((resolve) => stop = resolve);
  // The current envelope's 5-byte prefix as it arrives, then the bytes of its message.
  let header = new Uint8Array(5);
  let headerHave = 0;
  let messageLeft = 0;
  try {
    for (;;) {
      const next = it.next();
      const r = stopped === undefined ? await next : await Promise.race([next, stopped]);
      if (r instanceof ConnectError) {
        next.catch(() => {});
        throw r;
      }
      if (r.done) return;
      const chunk = r.value;
      let at = 0;
      while (flags && at < chunk.length) {
        if (messageLeft > 0) {
          const n = Math.min(messageLeft, chunk.length - at);
          messageLeft -= n;
          at += n;
          continue;
        }
        header[headerHave++] = chunk[at++];
        if (headerHave < 5) continue;
        if (header[0] > 1) {
          throw new ConnectError(
            `protocol error: invalid envelope flags ${header[0]} in a request`,
            Code.InvalidArgument,
          );
        }
        messageLeft = ((header[1] << 24) | (header[2] << 16) | (header[3] << 8) | header[4]) >>> 0;
        header = new Uint8Array(5);
        headerHave = 0;
      }
      yield chunk;
    }
  } finally {
    deadline?.cancel();
    it.return?.()?.catch(() => {});
  }
}

const GRPC_UNIT_MS: Readonly<Record<string, number>> = {
  H: 3_600_000,
  M: 60_000,
  S: 1000,
  m: 1,
  u: 0.001,
  n: 0.000001,
};

/** `req` without a well-formed timeout header whose value no timer can wait for. */
function withoutEndlessTimeout(req: UniversalServerRequest): UniversalServerRequest {
  const grpc = req.header.get("grpc-timeout");
  const m = grpc === null ? null : /^(\d{1,8})([HMSmun])$/.exec(grpc);
  const connect = req.header.get("connect-timeout-ms");
  const endless = (m !== null && Number(m[1]) * GRPC_UNIT_MS[m[2]] > MAX_TIMEOUT_MS) ||
    (connect !== null && /^\d{1,10}$/.test(connect) && Number(connect) > MAX_TIMEOUT_MS);
  if (!endless) return req;
  // A copy: a fetch Request's headers are immutable.
  const header = new Headers(req.header);
  header.delete(m !== null ? "grpc-timeout" : "connect-timeout-ms");
  return { ...req, header };
}
