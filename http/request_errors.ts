/**
 * Errors reading a streaming request, as the client's mistake. connect-es
 * parses each message of a request stream as the handler reads it, and
 * reports a binary message it cannot parse ("parse binary: ..."), a
 * compressed message without an encoding and a torn compressed stream as
 * INTERNAL. An error that comes out of the request stream is about what the
 * client sent: this interceptor makes those INVALID_ARGUMENT. (Unary calls
 * are parsed before any interceptor runs; the fast path takes those.) One
 * stays INTERNAL, as the gRPC and Connect protocols and their conformance
 * suite require: a compressed message in a request without an encoding.
 *
 * @module
 */
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";

/** Maps INTERNAL errors from the request message stream to INVALID_ARGUMENT. */
export function requestErrorsInterceptor(): Interceptor {
  return (next) => (req) => {
    if (!req.stream) return next(req);
    return next({ ...req, message: clientErrors(req.message) });
  };
}

/** connect-es's message for a compressed envelope without a request encoding. */
const UNEXPECTED_COMPRESSED = /^received compressed envelope, but do not know how to decompress/;

async function* clientErrors<T>(messages: AsyncIterable<T>): AsyncIterable<T> {
  try {
    yield* messages;
  } catch (e) {
    if (
      e instanceof ConnectError && e.code === Code.Internal &&
      !UNEXPECTED_COMPRESSED.test(e.rawMessage)
    ) {
      throw new ConnectError(
        `invalid request message: ${e.rawMessage}`,
        Code.InvalidArgument,
        e.metadata,
        undefined,
        e,
      );
    }
    throw e;
  }
}
