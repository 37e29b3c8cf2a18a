/**
 * Request validation from the proto: the protovalidate rules
 * (`buf.validate`) written in the `.proto` files, enforced on both serving
 * paths with one validator. connect-es calls go through
 * `@connectrpc/validate`'s interceptor; the fast unary path, which runs no
 * interceptors, calls {@linkcode RequestValidation.validate} after decoding.
 * Both answer an invalid request the same way: INVALID_ARGUMENT, the
 * validator's message, and a `buf.validate.Violations` error detail whose
 * violations name the field (`field.elements[].field_name`) and the rule
 * (`rule_id`).
 *
 * @module
 */
import type { DescMethod, Message } from "@bufbuild/protobuf";
import { createValidator, type Validator, violationsToProto } from "@bufbuild/protovalidate";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { createValidateInterceptor } from "@connectrpc/validate";

/** Checks a decoded request message; returns the error to answer with, if it is invalid. */
export type ValidateRequest = (method: DescMethod, message: Message) => ConnectError | undefined;

/** One validator, in the two shapes the serving paths need. */
export interface RequestValidation {
  /** For the connect-es router (every call that does not take the fast path, streams included). */
  readonly interceptor: Interceptor;
  /** For the fast path ({@linkcode UnaryEngine}'s `validate` option). */
  readonly validate: ValidateRequest;
}

/**
 * Builds the validation of both paths around one validator (made once: it
 * caches a plan per message type, so a call costs only the checks its
 * message's rules ask for; a message without rules costs a lookup).
 */
export function requestValidation(validator: Validator = createValidator()): RequestValidation {
  return {
    interceptor: createValidateInterceptor({ validator }),
    validate(method, message) {
      const result = validator.validate(method.input, message);
      if (result.kind === "valid") return undefined;
      // As @connectrpc/validate's interceptor answers, so both paths say the same.
      const details = [];
      if (result.violations) {
        const [value, desc] = violationsToProto(result.violations);
        details.push({ desc, value });
      }
      return new ConnectError(
        result.error.message,
        Code.InvalidArgument,
        undefined,
        details,
        result.error,
      );
    },
  };
}
