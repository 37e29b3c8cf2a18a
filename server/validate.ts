/**
 * Input validation for the data RPCs. Every failure is a ConnectError with
 * code INVALID_ARGUMENT and a message that names the field and the rule.
 *
 * @module
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { HistoryQuery } from "./store.ts";

/** Limits on inputs; documented in README.md ("Limits"). */
export const LIMITS = {
  /** Default page size of GetMessages. */
  defaultLimit: 50,
  /** Largest page size of GetMessages. */
  maxLimit: 100,
  /** Longest message content, in characters (Unicode code points). */
  maxContentChars: 4000,
} as const;

function invalid(message: string): ConnectError {
  return new ConnectError(message, Code.InvalidArgument);
}

/** Requires `value > 0`. */
export function requirePositiveId(name: string, value: bigint): bigint {
  if (value <= 0n) throw invalid(`${name} must be > 0, got ${value}`);
  return value;
}

/** Validates and normalizes a GetMessages request. */
export function historyQuery(
  req: { channelId: bigint; before: bigint; after: bigint; limit: number },
): HistoryQuery {
  requirePositiveId("channel_id", req.channelId);
  if (req.before < 0n) throw invalid(`before must be >= 0 (0 = newest), got ${req.before}`);
  if (req.after < 0n) throw invalid(`after must be >= 0 (0 = no lower bound), got ${req.after}`);
  if (req.before > 0n && req.after > 0n && req.after >= req.before) {
    throw invalid(`after (${req.after}) must be smaller than before (${req.before})`);
  }
  if (req.limit < 0 || req.limit > LIMITS.maxLimit) {
    throw invalid(
      `limit must be 1..${LIMITS.maxLimit} (0 = default ${LIMITS.defaultLimit}), got ${req.limit}`,
    );
  }
  return {
    channelId: req.channelId,
    before: req.before,
    after: req.after,
    limit: req.limit === 0 ? LIMITS.defaultLimit : req.limit,
  };
}

/** Validates message content: 1..4000 characters. */
export function requireContent(content: string): string {
  const chars = [...content].length;
  if (chars === 0 || content.trim() === "") throw invalid("content must not be empty");
  if (chars > LIMITS.maxContentChars) {
    throw invalid(`content must be at most ${LIMITS.maxContentChars} characters, got ${chars}`);
  }
  return content;
}
