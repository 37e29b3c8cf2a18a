/**
 * Strict integers in request JSON. protobuf-es reads an int64 from any string
 * `BigInt()` accepts (`"0x10"` is 16, `" 1"` and `"1 "` are 1, `""` is 0) and
 * an int32 from any string `Number()` accepts, and a JSON number above 2^53
 * has already been rounded by `JSON.parse`. A client that sends such a value
 * made a mistake the server must not guess about.
 *
 * The rule, for every integer field (int32, uint32, sint32, fixed32,
 * sfixed32 and their 64-bit kinds, also in lists, map keys and values,
 * nested messages and the Int32/UInt32/Int64/UInt64 wrappers): a JSON string
 * must be a plain decimal integer (`-?(0|[1-9][0-9]*)`), a JSON number must
 * be an integer, and for 64-bit fields a safe one (|n| ≤ 2^53 − 1; larger
 * values must be sent as strings, as the protobuf JSON mapping writes them).
 * Ranges and every other type are left to protobuf-es.
 *
 * @module
 */
import { type DescField, type DescMessage, ScalarType } from "@bufbuild/protobuf";

const INT64 = new Set<ScalarType>([
  ScalarType.INT64,
  ScalarType.UINT64,
  ScalarType.SINT64,
  ScalarType.FIXED64,
  ScalarType.SFIXED64,
]);
const INT32 = new Set<ScalarType>([
  ScalarType.INT32,
  ScalarType.UINT32,
  ScalarType.SINT32,
  ScalarType.FIXED32,
  ScalarType.SFIXED32,
]);
/** Wrappers whose JSON form is the bare integer. */
const WRAPPERS: Readonly<Record<string, ScalarType>> = {
  "google.protobuf.Int64Value": ScalarType.INT64,
  "google.protobuf.UInt64Value": ScalarType.UINT64,
  "google.protobuf.Int32Value": ScalarType.INT32,
  "google.protobuf.UInt32Value": ScalarType.UINT32,
};
const DECIMAL = /^-?(?:0|[1-9][0-9]*)$/;

const byJsonKey = new WeakMap<DescMessage, Map<string, DescField>>();

/** Fields by every key protobuf JSON accepts for them (JSON name and proto name). */
function fieldsOf(desc: DescMessage): Map<string, DescField> {
  let m = byJsonKey.get(desc);
  if (m === undefined) {
    m = new Map();
    for (const f of desc.fields) {
      m.set(f.jsonName, f);
      m.set(f.name, f);
    }
    byJsonKey.set(desc, m);
  }
  return m;
}

/**
 * What is wrong with the integers of `json` (parsed request JSON for
 * `desc`), or undefined when they follow the rule. Looks only at keys
 * present; values of other shapes are left to protobuf-es.
 */
export function jsonIntegerProblem(desc: DescMessage, json: unknown): string | undefined {
  return message(desc, json, 0);
}

/** Nesting deeper than this is left to protobuf-es (which has its own limit). */
const MAX_DEPTH = 64;

function message(desc: DescMessage, json: unknown, depth: number): string | undefined {
  if (json === null || typeof json !== "object" || Array.isArray(json) || depth > MAX_DEPTH) {
    return undefined;
  }
  const fields = fieldsOf(desc);
  for (const key in json) {
    const field = fields.get(key);
    const value = (json as Record<string, unknown>)[key];
    if (field === undefined || value === null) continue;
    const problem = fieldValue(field, value, depth);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

function fieldValue(field: DescField, value: unknown, depth: number): string | undefined {
  switch (field.fieldKind) {
    case "scalar":
      return scalar(field, field.scalar, value);
    case "message":
      return nested(field, field.message, value, depth);
    case "list":
      if (!Array.isArray(value)) return undefined;
      for (const item of value) {
        const p = field.listKind === "scalar"
          ? scalar(field, field.scalar, item)
          : field.listKind === "message"
          ? nested(field, field.message, item, depth)
          : undefined;
        if (p !== undefined) return p;
      }
      return undefined;
    case "map":
      if (value === null || typeof value !== "object" || Array.isArray(value)) return undefined;
      for (const [k, v] of Object.entries(value)) {
        if ((INT64.has(field.mapKey) || INT32.has(field.mapKey)) && !DECIMAL.test(k)) {
          return `${name(field)}: map key ${show(k)} is not a decimal integer`;
        }
        const p = field.mapKind === "scalar"
          ? scalar(field, field.scalar, v)
          : field.mapKind === "message"
          ? nested(field, field.message, v, depth)
          : undefined;
        if (p !== undefined) return p;
      }
      return undefined;
    default:
      return undefined;
  }
}

function nested(
  field: DescField,
  desc: DescMessage,
  value: unknown,
  depth: number,
): string | undefined {
  const wrapped = WRAPPERS[desc.typeName];
  if (wrapped !== undefined) return scalar(field, wrapped, value);
  // Other well-known types have JSON forms of their own (Any, Struct, Timestamp...).
  if (desc.typeName.startsWith("google.protobuf.")) return undefined;
  return message(desc, value, depth + 1);
}

function scalar(field: DescField, type: ScalarType, value: unknown): string | undefined {
  const wide = INT64.has(type);
  if (!wide && !INT32.has(type)) return undefined;
  if (typeof value === "string") {
    return DECIMAL.test(value)
      ? undefined
      : `${name(field)}: ${show(value)} is not a decimal integer string`;
  }
  if (typeof value === "number") {
    if (wide && !Number.isSafeInteger(value) && Number.isInteger(value)) {
      return `${name(field)}: ${value} is past 2^53 and loses precision as a JSON number; ` +
        `send 64-bit integers as decimal strings`;
    }
    if (!Number.isInteger(value)) return `${name(field)}: ${value} is not an integer`;
  }
  return undefined;
}

function name(field: DescField): string {
  return `field ${field.parent.typeName}.${field.name}`;
}

function show(s: string): string {
  return JSON.stringify(s.length > 24 ? `${s.slice(0, 24)}…` : s);
}
