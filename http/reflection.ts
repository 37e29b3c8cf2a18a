/**
 * gRPC server reflection (`grpc.reflection.v1.ServerReflection` and its
 * predecessor `grpc.reflection.v1alpha`) for the services a server serves,
 * over protobuf-es's descriptors: the generated code embeds each file's
 * descriptor, so the server describes itself without a descriptor set on
 * disk. This is what lets `grpcurl list`, `grpcurl describe` and `buf curl`
 * work without `--proto` / `--schema`.
 *
 * Answers as grpc-go's reflection server does: the file asked for first, then
 * those of its dependencies that this stream has not received yet; unknown
 * names get an `error_response` with NOT_FOUND and the stream goes on.
 * (connect-es has no reflection package, see connectrpc/connect-es#507.)
 *
 * @module
 */
import {
  create,
  type DescExtension,
  type DescFile,
  type DescMessage,
  type DescService,
  toBinary,
} from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import * as v1 from "../gen/grpc/reflection/v1/reflection_pb.ts";
import * as v1alpha from "../gen/grpc/reflection/v1alpha/reflection_pb.ts";
import type { Registration } from "./serving.ts";

/** Both versions of the reflection service. */
export const REFLECTION_SERVICES: readonly DescService[] = [
  v1.ServerReflection,
  v1alpha.ServerReflection,
];

/** Everything a reflection answer looks up, built once per server. */
export class ReflectionIndex {
  /** Fully qualified service names, sorted. */
  readonly serviceNames: readonly string[];
  #files = new Map<string, DescFile>();
  #symbols = new Map<string, DescFile>();
  #extensions = new Map<string, Map<number, DescExtension>>();
  #encoded = new Map<DescFile, Uint8Array>();

  /** @param services what the server serves; their files' dependencies are indexed too. */
  constructor(services: readonly DescService[]) {
    this.serviceNames = [...new Set(services.map((s) => s.typeName))].sort();
    for (const s of services) this.#addFile(s.file);
  }

  /** The file named `name` (as in an import: "dataservices/v1/messages.proto"). */
  fileByName(name: string): DescFile | undefined {
    return this.#files.get(name);
  }

  /** The file that defines the fully qualified `symbol` (a leading dot is allowed). */
  fileContainingSymbol(symbol: string): DescFile | undefined {
    return this.#symbols.get(symbol.startsWith(".") ? symbol.slice(1) : symbol);
  }

  /** The extension numbered `number` of message type `typeName`. */
  extension(typeName: string, number: number): DescExtension | undefined {
    return this.#extensions.get(typeName)?.get(number);
  }

  /** The known extension numbers of message type `typeName`, or undefined for an unknown type. */
  extensionNumbers(typeName: string): number[] | undefined {
    const file = this.fileContainingSymbol(typeName);
    if (file === undefined) return undefined;
    return [...(this.#extensions.get(typeName)?.keys() ?? [])].sort((a, b) => a - b);
  }

  /**
   * `file` serialized, then its dependencies (breadth first) that are not in
   * `sent`; adds what it returns to `sent`.
   */
  withDependencies(file: DescFile, sent: Set<string>): Uint8Array[] {
    const out: Uint8Array[] = [];
    const queue = [file];
    for (let f = queue.shift(); f !== undefined; f = queue.shift()) {
      const name = f.proto.name;
      if (out.length === 0 || !sent.has(name)) {
        sent.add(name);
        out.push(this.#encode(f));
      }
      queue.push(...f.dependencies);
    }
    return out;
  }

  #encode(file: DescFile): Uint8Array {
    let bytes = this.#encoded.get(file);
    if (bytes === undefined) {
      bytes = toBinary(FileDescriptorProtoSchema, file.proto);
      this.#encoded.set(file, bytes);
    }
    return bytes;
  }

  #addFile(file: DescFile): void {
    if (this.#files.has(file.proto.name)) return;
    this.#files.set(file.proto.name, file);
    for (const dep of file.dependencies) this.#addFile(dep);
    const symbol = (name: string) => this.#symbols.set(name, file);
    const enums = (list: DescFile["enums"]) => {
      for (const e of list) {
        symbol(e.typeName);
        // Enum values are scoped like siblings of their enum.
        const parent = e.typeName.slice(0, e.typeName.length - e.name.length);
        for (const v of e.values) symbol(parent + v.name);
      }
    };
    const extensions = (list: readonly DescExtension[]) => {
      for (const x of list) {
        symbol(x.typeName);
        let byNumber = this.#extensions.get(x.extendee.typeName);
        if (byNumber === undefined) this.#extensions.set(x.extendee.typeName, byNumber = new Map());
        byNumber.set(x.number, x);
      }
    };
    const messages = (list: readonly DescMessage[]) => {
      for (const m of list) {
        symbol(m.typeName);
        for (const f of m.fields) symbol(`${m.typeName}.${f.name}`);
        for (const o of m.oneofs) symbol(`${m.typeName}.${o.name}`);
        enums(m.nestedEnums);
        extensions(m.nestedExtensions);
        messages(m.nestedMessages);
      }
    };
    messages(file.messages);
    enums(file.enums);
    extensions(file.extensions);
    for (const s of file.services) {
      symbol(s.typeName);
      for (const m of s.methods) symbol(`${s.typeName}.${m.name}`);
    }
  }
}

/** The response message types of one version. */
interface Schemas {
  readonly response: typeof v1.ServerReflectionResponseSchema;
  readonly files: typeof v1.FileDescriptorResponseSchema;
  readonly extensionNumbers: typeof v1.ExtensionNumberResponseSchema;
  readonly services: typeof v1.ListServiceResponseSchema;
  readonly error: typeof v1.ErrorResponseSchema;
}

const V1: Schemas = {
  response: v1.ServerReflectionResponseSchema,
  files: v1.FileDescriptorResponseSchema,
  extensionNumbers: v1.ExtensionNumberResponseSchema,
  services: v1.ListServiceResponseSchema,
  error: v1.ErrorResponseSchema,
};

/**
 * v1alpha has the same messages, fields and numbers under another package:
 * one implementation serves both, typed as v1 (the messages it makes carry
 * their own version's type names).
 */
const V1ALPHA = {
  response: v1alpha.ServerReflectionResponseSchema,
  files: v1alpha.FileDescriptorResponseSchema,
  extensionNumbers: v1alpha.ExtensionNumberResponseSchema,
  services: v1alpha.ListServiceResponseSchema,
  error: v1alpha.ErrorResponseSchema,
} as unknown as Schemas;

/** The response to one request. */
export function answer(
  index: ReflectionIndex,
  req: v1.ServerReflectionRequest,
  sent: Set<string>,
  schemas: Schemas = V1,
): v1.ServerReflectionResponse {
  const respond = (messageResponse: v1.ServerReflectionResponse["messageResponse"]) =>
    create(schemas.response, { validHost: req.host, originalRequest: req, messageResponse });
  const notFound = (what: string) =>
    respond({
      case: "errorResponse",
      value: create(schemas.error, { errorCode: Code.NotFound, errorMessage: `${what} not found` }),
    });
  const files = (file: DescFile | undefined, what: string) =>
    file === undefined ? notFound(what) : respond({
      case: "fileDescriptorResponse",
      value: create(schemas.files, { fileDescriptorProto: index.withDependencies(file, sent) }),
    });
  const r = req.messageRequest;
  switch (r.case) {
    case "listServices":
      return respond({
        case: "listServicesResponse",
        value: create(schemas.services, {
          service: index.serviceNames.map((name) => ({ name })),
        }),
      });
    case "fileByFilename":
      return files(index.fileByName(r.value), `file ${JSON.stringify(r.value)}`);
    case "fileContainingSymbol":
      return files(index.fileContainingSymbol(r.value), `symbol ${JSON.stringify(r.value)}`);
    case "fileContainingExtension": {
      const { containingType, extensionNumber } = r.value;
      return files(
        index.extension(containingType, extensionNumber)?.file,
        `extension ${extensionNumber} of ${JSON.stringify(containingType)}`,
      );
    }
    case "allExtensionNumbersOfType": {
      const numbers = index.extensionNumbers(r.value);
      if (numbers === undefined) return notFound(`type ${JSON.stringify(r.value)}`);
      return respond({
        case: "allExtensionNumbersResponse",
        value: create(schemas.extensionNumbers, {
          baseTypeName: r.value,
          extensionNumber: numbers,
        }),
      });
    }
    default:
      // As grpc-go: a request without a known question ends the stream.
      throw new ConnectError(
        "invalid reflection request: no message_request",
        Code.InvalidArgument,
      );
  }
}

/**
 * The reflection services (v1 and v1alpha) describing `services` and
 * themselves, to serve next to them.
 */
export function reflectionServices(services: readonly DescService[]): Registration[] {
  const index = new ReflectionIndex([...services, ...REFLECTION_SERVICES]);
  const serve = (schemas: Schemas) =>
    async function* (requests: AsyncIterable<v1.ServerReflectionRequest>) {
      const sent = new Set<string>();
      for await (const req of requests) yield answer(index, req, sent, schemas);
    };
  const v1Impl: ServiceImpl<typeof v1.ServerReflection> = {
    serverReflectionInfo: serve(V1),
  };
  const v1alphaImpl = {
    serverReflectionInfo: serve(V1ALPHA),
  } as unknown as ServiceImpl<typeof v1alpha.ServerReflection>;
  return [
    { service: v1.ServerReflection, impl: v1Impl },
    { service: v1alpha.ServerReflection, impl: v1alphaImpl },
  ];
}
