/**
 * Runs one `ClientCompatRequest` of the conformance suite with a Connect
 * client over a given `Transport`, following the suite's client pseudocode
 * (docs/testing_clients.md): request headers, timeout, delays between
 * request messages, cancellation at the asked point, and a result with the
 * response headers, payloads, error and trailers as the client saw them.
 *
 * @module
 */
import { create, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { type Any, anyPack, AnySchema, anyUnpack } from "@bufbuild/protobuf/wkt";
import {
  type CallOptions,
  type Client,
  ConnectError,
  createClient,
  type Transport,
} from "@connectrpc/connect";
import { createWritableIterable } from "@connectrpc/connect/protocol";
import {
  type ClientCompatRequest,
  type ClientResponseResult,
  ClientResponseResultSchema,
} from "../gen/connectrpc/conformance/v1/client_compat_pb.ts";
import { type Code as ProtoCode, StreamType } from "../gen/connectrpc/conformance/v1/config_pb.ts";
import {
  type BidiStreamRequest,
  BidiStreamRequestSchema,
  ClientStreamRequestSchema,
  type ConformancePayload,
  ConformancePayloadSchema,
  ConformanceService,
  type Error as ProtoError,
  ErrorSchema,
  IdempotentUnaryRequestSchema,
  ServerStreamRequestSchema,
  UnaryRequestSchema,
  UnimplementedRequestSchema,
} from "../gen/connectrpc/conformance/v1/service_pb.ts";
import { appendHeaders, toProtoHeaders } from "./service.ts";

type ConformanceClient = Client<typeof ConformanceService>;

/** A request the client cannot make (not an RPC error): reported as the result's `error`. */
export class InvalidRequestError extends Error {
  override name = "InvalidRequestError";
}

/** The suite's `Error` for what a call failed with (unknown errors become UNKNOWN). */
export function toProtoError(error: unknown): ProtoError {
  const err = ConnectError.from(error);
  const details: Any[] = err.details.map((detail) =>
    "desc" in detail
      ? anyPack(detail.desc, create(detail.desc, detail.value))
      : create(AnySchema, { typeUrl: `type.googleapis.com/${detail.type}`, value: detail.value })
  );
  return create(ErrorSchema, {
    code: err.code as number as ProtoCode,
    message: err.rawMessage,
    details,
  });
}

/** The request messages, unpacked as `schema` (the method's input type). */
function messagesOf<D extends DescMessage>(req: ClientCompatRequest, schema: D): MessageShape<D>[] {
  return req.requestMessages.map((any) => {
    const message = anyUnpack(any, schema);
    if (message === undefined) {
      throw new InvalidRequestError(`request message ${any.typeUrl} is not a ${schema.typeName}`);
    }
    return message;
  });
}

/** The one request message of a unary or server-streaming call. */
function singleMessage<D extends DescMessage>(
  req: ClientCompatRequest,
  schema: D,
): MessageShape<D> {
  const messages = messagesOf(req, schema);
  if (messages.length !== 1) {
    throw new InvalidRequestError(`expected 1 request message, got ${messages.length}`);
  }
  return messages[0];
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** One call in progress: its result, options and cancel switch. */
class Call {
  readonly result: ClientResponseResult = create(ClientResponseResultSchema);
  readonly #abort = new AbortController();
  readonly options: CallOptions;
  readonly cancel: ClientCompatRequest["cancel"];

  constructor(readonly req: ClientCompatRequest) {
    const headers = new Headers();
    appendHeaders(headers, req.requestHeaders);
    this.cancel = req.cancel;
    this.options = {
      headers,
      signal: this.#abort.signal,
      timeoutMs: req.timeoutMs,
      onHeader: (h) => {
        this.result.responseHeaders = toProtoHeaders(h);
      },
      onTrailer: (t) => {
        this.result.responseTrailers = toProtoHeaders(t);
      },
    };
  }

  abort(): void {
    this.#abort.abort();
  }

  /** Milliseconds after closing the send side to cancel, if asked. */
  get cancelAfterCloseSendMs(): number | undefined {
    const timing = this.cancel?.cancelTiming;
    return timing?.case === "afterCloseSendMs" ? timing.value : undefined;
  }

  get cancelBeforeCloseSend(): boolean {
    return this.cancel?.cancelTiming.case === "beforeCloseSend";
  }

  /** Cancel after this many responses, if asked. */
  get cancelAfterResponses(): number | undefined {
    const timing = this.cancel?.cancelTiming;
    return timing?.case === "afterNumResponses" ? timing.value : undefined;
  }

  /** Cancels after the send side closed, as asked (immediately when no timing is given). */
  cancelAfterCloseSend(): void {
    if (this.cancel === undefined) return;
    const ms = this.cancelAfterCloseSendMs;
    if (ms !== undefined) setTimeout(() => this.abort(), ms);
    else if (this.cancel.cancelTiming.case === undefined) this.abort();
  }

  /** Records a response message. */
  received(payload: ConformancePayload | undefined): void {
    this.result.payloads.push(payload ?? create(ConformancePayloadSchema));
    if (this.result.payloads.length === this.cancelAfterResponses) this.abort();
  }

  /**
   * Records the error. Connect's client exposes the metadata of a failed call
   * only on the error (headers and trailers merged): it stands for the
   * trailers, and for the headers if none were seen.
   */
  failed(error: unknown, unsent = 0): void {
    const err = ConnectError.from(error);
    this.result.error = toProtoError(err);
    if (this.result.responseHeaders.length === 0) {
      this.result.responseHeaders = toProtoHeaders(err.metadata);
    }
    this.result.responseTrailers = toProtoHeaders(err.metadata);
    this.result.numUnsentRequests = unsent;
  }
}

async function unary(
  client: ConformanceClient,
  req: ClientCompatRequest,
): Promise<ClientResponseResult> {
  const call = new Call(req);
  let pending: Promise<{ payload?: ConformancePayload }>;
  switch (req.method) {
    case "Unary":
      pending = client.unary(singleMessage(req, UnaryRequestSchema), call.options);
      break;
    case "IdempotentUnary":
      pending = client.idempotentUnary(
        singleMessage(req, IdempotentUnaryRequestSchema),
        call.options,
      );
      break;
    default:
      pending = client.unimplemented(singleMessage(req, UnimplementedRequestSchema), call.options)
        .then(() => ({}));
  }
  // The request is sent when the call starts: "after close send" is now.
  call.cancelAfterCloseSend();
  try {
    call.received((await pending).payload);
  } catch (err) {
    call.failed(err);
  }
  return call.result;
}

async function serverStream(
  client: ConformanceClient,
  req: ClientCompatRequest,
): Promise<ClientResponseResult> {
  const call = new Call(req);
  const message = singleMessage(req, ServerStreamRequestSchema);
  try {
    const responses = client.serverStream(message, call.options);
    const ms = call.cancelAfterCloseSendMs;
    if (ms !== undefined) {
      await sleep(ms);
      call.abort();
    } else {
      call.cancelAfterCloseSend();
    }
    for await (const res of responses) call.received(res.payload);
  } catch (err) {
    call.failed(err);
  }
  return call.result;
}

async function clientStream(
  client: ConformanceClient,
  req: ClientCompatRequest,
): Promise<ClientResponseResult> {
  const call = new Call(req);
  const messages = messagesOf(req, ClientStreamRequestSchema);
  let sent = 0;
  async function* requests() {
    for (const message of messages) {
      await sleep(req.requestDelayMs);
      yield message;
      sent++;
    }
    // Cancel instead of closing the send side, or schedule the cancel for after it.
    if (call.cancelBeforeCloseSend) call.abort();
    else call.cancelAfterCloseSend();
  }
  try {
    call.received((await client.clientStream(requests(), call.options)).payload);
  } catch (err) {
    call.failed(err, messages.length - sent);
  }
  return call.result;
}

async function bidiStream(
  client: ConformanceClient,
  req: ClientCompatRequest,
): Promise<ClientResponseResult> {
  const call = new Call(req);
  const messages = messagesOf(req, BidiStreamRequestSchema);
  const fullDuplex = req.streamType === StreamType.FULL_DUPLEX_BIDI_STREAM;
  const requests = createWritableIterable<BidiStreamRequest>();
  let sent = 0;
  try {
    const responses = client.bidiStream(requests, call.options)[Symbol.asyncIterator]();
    let sendError: unknown;
    for (const message of messages) {
      await sleep(req.requestDelayMs);
      try {
        await requests.write(message);
      } catch (err) {
        // A failed send says little: the call's own error comes with the responses.
        sendError = err;
        break;
      }
      sent++;
      if (fullDuplex) {
        // One response per request, as long as the server sends them.
        const next = await responses.next();
        if (!next.done) call.received(next.value.payload);
      }
    }
    if (call.cancelBeforeCloseSend) call.abort();
    requests.close();
    if (!call.cancelBeforeCloseSend) call.cancelAfterCloseSend();
    for (let next = await responses.next(); !next.done; next = await responses.next()) {
      call.received(next.value.payload);
    }
    if (sendError !== undefined) throw sendError;
  } catch (err) {
    requests.close();
    call.failed(err, messages.length - sent);
  }
  return call.result;
}

/**
 * Makes the call `req` describes over `transport` and returns what the client
 * saw. RPC errors are part of the result.
 *
 * @throws {InvalidRequestError} when the request cannot be made as described
 * (unknown service or method, wrong message types).
 */
export async function invoke(
  transport: Transport,
  req: ClientCompatRequest,
): Promise<ClientResponseResult> {
  const service = req.service ?? ConformanceService.typeName;
  if (service !== ConformanceService.typeName) {
    throw new InvalidRequestError(`unknown service ${service}`);
  }
  const client = createClient(ConformanceService, transport);
  switch (req.method) {
    case "Unary":
    case "IdempotentUnary":
    case "Unimplemented":
      return await unary(client, req);
    case "ServerStream":
      return await serverStream(client, req);
    case "ClientStream":
      return await clientStream(client, req);
    case "BidiStream":
      return await bidiStream(client, req);
    default:
      throw new InvalidRequestError(`unknown method ${req.method}`);
  }
}
