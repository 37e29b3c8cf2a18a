/**
 * Envelope flags of requests served by connect-es (streams, and what the
 * fast path does not take): a gRPC, gRPC-web or Connect-streaming request
 * message carries flags 0 or 1 (compressed) and nothing else. connect-es
 * reads flags 2–255 as ordinary messages (or, with bit 1 set, as compressed
 * ones); here a request whose body has any other flags fails with
 * INVALID_ARGUMENT before the envelope reaches connect-es, as the fast path
 * answers it (`unwrapUnary`).
 *
 * @module
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { UniversalHandler, UniversalServerRequest } from "@connectrpc/connect/protocol";

/** Enveloped request bodies: gRPC, gRPC-web, Connect streaming. */
const ENVELOPED = /^application\/(grpc|grpc-web|connect\+)/i;

/** `handler` with the flags of every request envelope checked. */
export function checkEnvelopeFlags(handler: UniversalHandler): UniversalHandler {
  const checked = (req: UniversalServerRequest) => {
    const type = req.header.get("content-type") ?? "";
    const body = req.body;
    if (
      !ENVELOPED.test(type) || body === null || typeof body !== "object" ||
      !(Symbol.asyncIterator in body)
    ) {
      return handler(req);
    }
    return handler({ ...req, body: flagsChecked(body as AsyncIterable<Uint8Array>) });
  };
  return Object.assign(checked, {
    protocolNames: handler.protocolNames,
    service: handler.service,
    method: handler.method,
    requestPath: handler.requestPath,
    allowedMethods: handler.allowedMethods,
    supportedContentType: handler.supportedContentType,
  });
}

/** Passes the bytes through unchanged, following envelope boundaries; throws on bad flags. */
async function* flagsChecked(body: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
  // The current envelope's 5-byte prefix as it arrives, then the bytes of its message.
  let header = new Uint8Array(5);
  let headerHave = 0;
  let messageLeft = 0;
  for await (const chunk of body) {
    let at = 0;
    while (at < chunk.length) {
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
}
