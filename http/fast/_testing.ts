/**
 * Test helpers of the fast path's unit tests: a FastContext over no request,
 * and a request reader that counts what it was asked for.
 *
 * @module
 */
import type { DescMethod } from "@bufbuild/protobuf";
import { MessagesService } from "../../gen/dataservices/v1/messages_pb.ts";
import { FastContext, type RequestReader } from "./context.ts";

/** A reader over a plain object; counts calls so tests can see what was made. */
export function countingReader(
  headers: HeadersInit = {},
  url = "http://localhost/x",
): RequestReader<unknown> & { calls: { headers: number; url: number; hangup: number } } {
  const calls = { headers: 0, url: 0, hangup: 0 };
  return {
    calls,
    headers: () => {
      calls.headers++;
      return new Headers(headers);
    },
    url: () => {
      calls.url++;
      return url;
    },
  };
}

/** A context for `method` (default GetMessages) with no deadline and an empty request. */
export function testContext(
  method: DescMethod = MessagesService.method.getMessages,
  timeoutMs?: number,
): FastContext<unknown> {
  return new FastContext(method, "connect", "POST", timeoutMs, null, countingReader());
}
