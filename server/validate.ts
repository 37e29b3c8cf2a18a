/**
 * What input handling is left to the service code once the proto's rules
 * have run (`proto/dataservices/v1/messages.proto`, enforced by
 * `http/validation.ts` before an implementation is called): the default page
 * size, and the id checks of the original's `messages.MessagesService`, whose
 * proto is its wire contract and carries no rules. Failures are ConnectErrors
 * with code INVALID_ARGUMENT and a message that names the field and the rule.
 *
 * @module
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { HistoryQuery } from "./store.ts";

/**
 * Limits the proto's rules cannot express; the others (limit 0..100, content
 * 1..4,000 characters) are rules of the proto. Documented in README.md ("Limits").
 */
export const LIMITS = {
  /** Page size of GetMessages when the request says 0. */
  defaultLimit: 50,
} as const;

/** Requires `value > 0` (for messages without rules: the original's API). */
export function requirePositiveId(name: string, value: bigint): bigint {
  if (value <= 0n) {
    throw new ConnectError(`${name} must be > 0, got ${value}`, Code.InvalidArgument);
  }
  return value;
}

/** A validated GetMessages request as a store query: limit 0 becomes the default. */
export function historyQuery(
  req: { channelId: bigint; before: bigint; after: bigint; limit: number },
): HistoryQuery {
  return {
    channelId: req.channelId,
    before: req.before,
    after: req.after,
    limit: req.limit === 0 ? LIMITS.defaultLimit : req.limit,
  };
}
