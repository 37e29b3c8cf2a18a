/**
 * `connectrpc.conformance.v1.ConformanceService` as the suite's reference
 * server implements it (connectrpc.com/conformance, `internal/app/
 * referenceserver/impl.go`): every method echoes what it received (headers,
 * timeout, request messages, Connect GET query parameters) in a
 * `ConformancePayload`, or in the details of the error it was asked to raise,
 * and answers with the headers, trailers, data, delays and error of the
 * request's response definition. `Unimplemented` is left out, so the
 * framework answers UNIMPLEMENTED.
 *
 * Only the service: a server stack serves it with {@linkcode CONFORMANCE_JSON_REGISTRY}
 * (see `stacks.ts`), so any stack can be put under the suite.
 *
 * @module
 */
import { create, createRegistry, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import {
  type Any,
  anyPack,
  file_google_protobuf_empty,
  file_google_protobuf_struct,
  FileDescriptorProtoSchema,
} from "@bufbuild/protobuf/wkt";
import {
  type Code,
  ConnectError,
  type ConnectRouter,
  type HandlerContext,
  type ServiceImpl,
} from "@connectrpc/connect";
import {
  type BidiStreamRequest,
  BidiStreamRequestSchema,
  type BidiStreamResponse,
  type ClientStreamRequest,
  ClientStreamRequestSchema,
  type ConformancePayload,
  type ConformancePayload_RequestInfo,
  ConformancePayload_RequestInfoSchema,
  ConformancePayloadSchema,
  ConformanceService,
  type Error as ProtoError,
  file_connectrpc_conformance_v1_service,
  type Header,
  HeaderSchema,
  IdempotentUnaryRequestSchema,
  ServerStreamRequestSchema,
  type ServerStreamResponse,
  type StreamResponseDefinition,
  UnaryRequestSchema,
  type UnaryResponseDefinition,
} from "../gen/connectrpc/conformance/v1/service_pb.ts";

/**
 * Types that travel in `google.protobuf.Any` fields of the suite's messages
 * (echoed requests, error details of test cases): the JSON codec needs them
 * on both sides (`jsonOptions.registry`).
 */
export const CONFORMANCE_JSON_REGISTRY = createRegistry(
  file_connectrpc_conformance_v1_service,
  file_google_protobuf_empty,
  file_google_protobuf_struct,
  FileDescriptorProtoSchema,
);

/** Headers as the suite's `Header` list, one entry per name. */
export function toProtoHeaders(headers: Headers): Header[] {
  const out: Header[] = [];
  headers.forEach((value, name) => out.push(create(HeaderSchema, { name, value: [value] })));
  return out;
}

/** Appends every value of `headers` to `target`. */
export function appendHeaders(target: Headers, headers: readonly Header[] | undefined): void {
  for (const header of headers ?? []) {
    for (const value of header.value) target.append(header.name, value);
  }
}

/**
 * The `ConnectError` a suite `Error` describes; its details keep their type
 * and bytes as given (they may be of types this program does not know).
 */
export function connectErrorFromProto(error: ProtoError): ConnectError {
  const err = new ConnectError(error.message ?? "", error.code as number as Code);
  err.details = error.details.map((any) => ({
    type: any.typeUrl.slice(any.typeUrl.lastIndexOf("/") + 1),
    value: any.value,
  }));
  return err;
}

/** Waits `ms` (none for 0); rejects with the call's abort reason if it ends first. */
function delay(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** Query parameters of a Connect GET, as headers (name with its values in order). */
function queryParams(ctx: HandlerContext): Header[] | undefined {
  if (ctx.requestMethod !== "GET") return undefined;
  const params = new URL(ctx.url, "http://localhost").searchParams;
  const byName = new Map<string, string[]>();
  for (const [name, value] of params) {
    const values = byName.get(name) ?? [];
    values.push(value);
    byName.set(name, values);
  }
  if (byName.size === 0) return undefined;
  return [...byName].map(([name, value]) => create(HeaderSchema, { name, value }));
}

/** What the server observed of the call: headers, timeout, GET query, the requests given. */
function requestInfo(ctx: HandlerContext, requests: Any[]): ConformancePayload_RequestInfo {
  const timeoutMs = ctx.timeoutMs();
  const query = queryParams(ctx);
  return create(ConformancePayload_RequestInfoSchema, {
    requestHeaders: toProtoHeaders(ctx.requestHeader),
    timeoutMs: timeoutMs === undefined ? undefined : BigInt(timeoutMs),
    requests,
    connectGetInfo: query === undefined ? undefined : { queryParams: query },
  });
}

/** `error` with the request info appended to its details. */
function errorWithInfo(error: ProtoError, info: ConformancePayload_RequestInfo): ConnectError {
  error.details.push(anyPack(ConformancePayload_RequestInfoSchema, info));
  return connectErrorFromProto(error);
}

/** Unary, IdempotentUnary and ClientStream: one answer after every request was read. */
async function answerUnary(
  def: UnaryResponseDefinition | undefined,
  requests: Any[],
  ctx: HandlerContext,
): Promise<{ payload: ConformancePayload }> {
  const info = requestInfo(ctx, requests);
  if (def === undefined) {
    return { payload: create(ConformancePayloadSchema, { requestInfo: info }) };
  }
  appendHeaders(ctx.responseHeader, def.responseHeaders);
  appendHeaders(ctx.responseTrailer, def.responseTrailers);
  if (def.response.case === "error") throw errorWithInfo(def.response.value, info);
  const payload = create(ConformancePayloadSchema, { requestInfo: info });
  if (def.response.case === "responseData") payload.data = def.response.value;
  await delay(def.responseDelayMs, ctx.signal);
  return { payload };
}

/** The error a stream ends with; the request info goes into its details if nothing was sent. */
function streamError(
  def: StreamResponseDefinition | undefined,
  sent: number,
  info: () => ConformancePayload_RequestInfo,
): ConnectError | undefined {
  if (def?.error === undefined) return undefined;
  return sent === 0 ? errorWithInfo(def.error, info()) : connectErrorFromProto(def.error);
}

const pack = <D extends DescMessage>(schema: D, message: MessageShape<D>) =>
  anyPack(schema, message);

/** The service implementation (without `unimplemented`). */
export function conformanceService(): Partial<ServiceImpl<typeof ConformanceService>> {
  return {
    unary: (req, ctx) => answerUnary(req.responseDefinition, [pack(UnaryRequestSchema, req)], ctx),

    idempotentUnary: (req, ctx) =>
      answerUnary(req.responseDefinition, [pack(IdempotentUnaryRequestSchema, req)], ctx),

    async clientStream(requests: AsyncIterable<ClientStreamRequest>, ctx) {
      let def: UnaryResponseDefinition | undefined;
      let first = true;
      const received: Any[] = [];
      for await (const req of requests) {
        if (first) def = req.responseDefinition;
        first = false;
        received.push(pack(ClientStreamRequestSchema, req));
      }
      return await answerUnary(def, received, ctx);
    },

    async *serverStream(req, ctx): AsyncGenerator<Partial<ServerStreamResponse>> {
      const def = req.responseDefinition;
      const requests = [pack(ServerStreamRequestSchema, req)];
      if (def === undefined) return;
      appendHeaders(ctx.responseHeader, def.responseHeaders);
      appendHeaders(ctx.responseTrailer, def.responseTrailers);
      let sent = 0;
      for (const data of def.responseData) {
        const payload = create(ConformancePayloadSchema, { data });
        if (sent === 0) payload.requestInfo = requestInfo(ctx, requests);
        await delay(def.responseDelayMs, ctx.signal);
        yield { payload };
        sent++;
      }
      const error = streamError(def, sent, () => requestInfo(ctx, requests));
      if (error) throw error;
    },

    async *bidiStream(
      requests: AsyncIterable<BidiStreamRequest>,
      ctx,
    ): AsyncGenerator<Partial<BidiStreamResponse>> {
      let def: StreamResponseDefinition | undefined;
      let fullDuplex = false;
      let first = true;
      let sent = 0;
      /** Requests since the last response (full duplex), or all of them (half duplex). */
      let pending: Any[] = [];
      for await (const req of requests) {
        pending.push(pack(BidiStreamRequestSchema, req));
        if (first) {
          first = false;
          def = req.responseDefinition;
          fullDuplex = req.fullDuplex;
          appendHeaders(ctx.responseHeader, def?.responseHeaders);
          appendHeaders(ctx.responseTrailer, def?.responseTrailers);
        }
        if (!fullDuplex) continue;
        // Full duplex: one response per request, until the responses run out.
        if (sent >= (def?.responseData.length ?? 0)) break;
        const payload = create(ConformancePayloadSchema, {
          data: def!.responseData[sent],
          // The first response echoes everything; later ones only the new requests.
          requestInfo: sent === 0
            ? requestInfo(ctx, pending)
            : create(ConformancePayload_RequestInfoSchema, { requests: pending }),
        });
        await delay(def!.responseDelayMs, ctx.signal);
        yield { payload };
        sent++;
        pending = [];
      }
      // Half duplex (all requests read), or full duplex with responses left over.
      const info = requestInfo(ctx, pending);
      for (; def !== undefined && sent < def.responseData.length; sent++) {
        const payload = create(ConformancePayloadSchema, { data: def.responseData[sent] });
        if (sent === 0) payload.requestInfo = info;
        await delay(def.responseDelayMs, ctx.signal);
        yield { payload };
      }
      const error = streamError(def, sent, () => info);
      if (error) throw error;
    },
  };
}

/** Registers {@linkcode conformanceService} on a Connect router. */
export function conformanceRoutes(router: ConnectRouter): void {
  router.service(ConformanceService, conformanceService());
}
