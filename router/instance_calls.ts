/**
 * A call of the routing transport on one chosen instance: counted in flight
 * on its member for as long as it runs (a streaming call until its response
 * stream ends), so that a removed instance's transport closes only once
 * idle; and its failure reported with the health epoch it started in, so
 * that a call begun before a health change cannot undo it.
 *
 * Browser-safe.
 *
 * @module
 */

import type { ContextValues, StreamResponse, UnaryResponse } from "@connectrpc/connect";
import type {
  DescMessage,
  DescMethodStreaming,
  DescMethodUnary,
  MessageInitShape,
} from "@bufbuild/protobuf";
import type { Member, Membership } from "./membership.ts";

/** Told of a call that failed on `member`, which it started on at `epoch`. */
export type CallFailed = (member: Member, epoch: number, error: unknown) => void;

/** Sends calls to one member at a time. */
export class InstanceCalls {
  #membership: Membership;
  #failed: CallFailed;

  constructor(membership: Membership, failed: CallFailed) {
    this.#membership = membership;
    this.#failed = failed;
  }

  /** A unary call on `member`'s transport. */
  async unary<I extends DescMessage, O extends DescMessage>(
    member: Member,
    method: DescMethodUnary<I, O>,
    signal: AbortSignal | undefined,
    timeoutMs: number | undefined,
    header: HeadersInit | undefined,
    input: MessageInitShape<I>,
    contextValues: ContextValues | undefined,
  ): Promise<UnaryResponse<I, O>> {
    const epoch = member.epoch;
    this.#membership.acquire(member);
    try {
      return await member.transport.unary(method, signal, timeoutMs, header, input, contextValues);
    } catch (e) {
      this.#failed(member, epoch, e);
      throw e;
    } finally {
      this.#membership.release(member);
    }
  }

  /** A streaming call on `member`'s transport; it lasts until its response stream ends. */
  async stream<I extends DescMessage, O extends DescMessage>(
    member: Member,
    method: DescMethodStreaming<I, O>,
    signal: AbortSignal | undefined,
    timeoutMs: number | undefined,
    header: HeadersInit | undefined,
    input: AsyncIterable<MessageInitShape<I>>,
    contextValues: ContextValues | undefined,
  ): Promise<StreamResponse<I, O>> {
    const epoch = member.epoch;
    this.#membership.acquire(member);
    let res: StreamResponse<I, O>;
    try {
      res = await member.transport.stream(method, signal, timeoutMs, header, input, contextValues);
    } catch (e) {
      this.#failed(member, epoch, e);
      this.#membership.release(member);
      throw e;
    }
    // The call lasts until its response stream ends: keep the member acquired.
    const note = (e: unknown) => this.#failed(member, epoch, e);
    const release = () => this.#membership.release(member);
    return { ...res, message: track(res.message, note, release) };
  }
}

async function* track<T>(
  messages: AsyncIterable<T>,
  onError: (e: unknown) => void,
  onEnd: () => void,
): AsyncIterable<T> {
  try {
    yield* messages;
  } catch (e) {
    onError(e);
    throw e;
  } finally {
    onEnd();
  }
}
