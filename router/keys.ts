/**
 * Routing keys: which field of a request decides its instance, and which
 * methods are safe to send twice.
 *
 * Browser-safe.
 *
 * @module
 */
import type { DescMethod } from "@bufbuild/protobuf";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";

/**
 * Extracts the routing key of a call. `input` is the request message (or its
 * init object) for unary and server-streaming calls, and `undefined` for
 * client- and bidi-streaming calls. `undefined` means "no key": the call goes
 * to the default instance.
 */
export type KeyOf = (method: DescMethod, input: unknown) => bigint | undefined;

/**
 * A {@linkcode KeyOf} that reads the scalar field `localName` of the request,
 * for every method whose input message has such a field (unset means 0).
 * Methods without it are keyless.
 *
 * @example
 * ```ts
 * const byGuild = keyFromField("guildId");
 * ```
 */
export function keyFromField(localName: string): KeyOf {
  return (method, input) => {
    const fields = method.input.field;
    const field = Object.hasOwn(fields, localName) ? fields[localName] : undefined;
    if (field === undefined || field.fieldKind !== "scalar") return undefined;
    if (input === undefined || input === null) return undefined;
    const value = (input as Record<string, unknown>)[localName];
    switch (typeof value) {
      case "undefined":
        return 0n;
      case "bigint":
        return value;
      case "number":
        return Number.isInteger(value) ? BigInt(value) : undefined;
      case "string":
        try {
          return BigInt(value);
        } catch {
          return undefined;
        }
      default:
        return value === null ? 0n : undefined;
    }
  };
}

/** The default routing key: the request's `channelId` field, where the method has one. */
export const defaultKeyOf: KeyOf = keyFromField("channelId");

/**
 * Methods retried on UNAVAILABLE although their proto does not declare an
 * idempotency level: the original service's read, `messages.MessagesService/getMessage`.
 */
export const DEFAULT_IDEMPOTENT_METHODS: readonly string[] = Object.freeze([
  "messages.MessagesService/getMessage",
]);

/** `package.Service/Method`, the name used in {@linkcode RoutingTransportOptions.idempotentMethods}. */
export function methodName(method: DescMethod): string {
  return `${method.parent.typeName}/${method.name}`;
}

/**
 * Whether `method` may be sent twice: declared `NO_SIDE_EFFECTS` or
 * `IDEMPOTENT` in its proto, or listed in `extra` by name.
 */
export function isIdempotent(method: DescMethod, extra: ReadonlySet<string>): boolean {
  return method.idempotency === MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS ||
    method.idempotency === MethodOptions_IdempotencyLevel.IDEMPOTENT ||
    extra.has(methodName(method));
}
