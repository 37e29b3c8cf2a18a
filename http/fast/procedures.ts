/**
 * The unary procedures the fast path serves, by HTTP path, with their
 * message codecs.
 *
 * A procedure's codec decodes requests (a malformed body is the caller's
 * mistake: `INVALID_ARGUMENT`, where connect-es answers `INTERNAL` for binary;
 * JSON integers must be decimal strings or safe integers, see json_integers.ts)
 * and encodes responses once per response object: coalesced callers share one
 * response message, so on a hot key the encoding is done once per query, not
 * once per caller. Handlers must not change a message after returning it.
 *
 * @module
 */
import {
  create,
  type DescMessage,
  type DescMethodUnary,
  type DescService,
  fromBinary,
  fromJson,
  isMessage,
  type JsonReadOptions,
  type JsonWriteOptions,
  type Message,
  toBinary,
  toJsonString,
} from "@bufbuild/protobuf";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { jsonIntegerProblem } from "./json_integers.ts";

/** A unary implementation as connect-es declares it, for any message types. */
// deno-lint-ignore no-explicit-any
export type AnyUnaryImpl = (request: any, context: HandlerContext) => unknown;

/** One unary method the fast path serves. */
export interface Procedure {
  /** `/package.Service/Method`. */
  readonly path: string;
  readonly method: DescMethodUnary;
  readonly impl: AnyUnaryImpl;
  /** Declared `NO_SIDE_EFFECTS`: Connect GET is allowed. */
  readonly noSideEffects: boolean;
  /** Decodes a request; throws INVALID_ARGUMENT on malformed input. */
  decode(bytes: Uint8Array, binary: boolean): Message;
  /** Encodes a response (normalizing an init object first); cached per response object. */
  encode(output: unknown, binary: boolean): Uint8Array;
}

const textDecoder = new TextDecoder("utf-8", { fatal: true });
const textEncoder = new TextEncoder();

/** JSON options of the codecs (connect-es's defaults: unknown fields are ignored). */
export type JsonOptions = Partial<JsonReadOptions & JsonWriteOptions>;

class UnaryProcedure implements Procedure {
  readonly path: string;
  readonly noSideEffects: boolean;
  #binary = new WeakMap<object, Uint8Array>();
  #json = new WeakMap<object, Uint8Array>();
  #jsonOptions: JsonOptions;

  constructor(
    readonly method: DescMethodUnary,
    readonly impl: AnyUnaryImpl,
    jsonOptions: JsonOptions,
  ) {
    this.path = `/${method.parent.typeName}/${method.name}`;
    this.noSideEffects = method.idempotency === MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS;
    this.#jsonOptions = { ignoreUnknownFields: true, ...jsonOptions };
  }

  decode(bytes: Uint8Array, binary: boolean): Message {
    const schema = this.method.input;
    try {
      if (binary) return fromBinary(schema, bytes);
      const json = JSON.parse(textDecoder.decode(bytes));
      const problem = jsonIntegerProblem(schema, json);
      if (problem !== undefined) throw new Error(problem);
      return fromJson(schema, json, this.#jsonOptions);
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      throw new ConnectError(
        `cannot decode ${schema.typeName} from ${binary ? "binary" : "JSON"}: ${why}`,
        Code.InvalidArgument,
      );
    }
  }

  encode(output: unknown, binary: boolean): Uint8Array {
    const cache = binary ? this.#binary : this.#json;
    const key = output as object;
    let bytes = cache.get(key);
    if (bytes === undefined) {
      const message = normalize(this.method.output, output);
      try {
        bytes = binary
          ? toBinary(this.method.output, message)
          : textEncoder.encode(toJsonString(this.method.output, message, this.#jsonOptions));
      } catch (e) {
        throw ConnectError.from(e, Code.Internal);
      }
      cache.set(key, bytes);
    }
    return bytes;
  }
}

function normalize(schema: DescMessage, output: unknown): Message {
  if (isMessage(output, schema)) return output;
  if (output === null || typeof output !== "object") {
    throw new ConnectError(`handler returned no ${schema.typeName}`, Code.Internal);
  }
  return create(schema, output as never);
}

/** Unary procedures by path; what is not here goes to the fallback handler. */
export class ProcedureTable {
  #byPath = new Map<string, Procedure>();
  #jsonOptions: JsonOptions;

  /** @param jsonOptions for the JSON codecs, e.g. a registry for `google.protobuf.Any`. */
  constructor(jsonOptions: JsonOptions = {}) {
    this.#jsonOptions = jsonOptions;
  }

  /**
   * Adds every unary method of `service` that `impl` implements (streaming
   * methods are left to the fallback).
   */
  add<S extends DescService>(service: S, impl: Partial<ServiceImpl<S>>): this {
    const fns = impl as Record<string, AnyUnaryImpl | undefined>;
    for (const method of service.methods) {
      if (method.methodKind !== "unary") continue;
      const fn = fns[method.localName];
      if (typeof fn !== "function") continue;
      const p = new UnaryProcedure(method as DescMethodUnary, fn.bind(impl), this.#jsonOptions);
      this.#byPath.set(p.path, p);
    }
    return this;
  }

  /** The procedure at `path` (`/package.Service/Method`), if served here. */
  get(path: string): Procedure | undefined {
    return this.#byPath.get(path);
  }

  /** Every path served. */
  paths(): string[] {
    return [...this.#byPath.keys()];
  }
}
