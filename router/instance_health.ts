/**
 * The health of every instance in a routing transport's list: one circuit
 * breaker per instance (breaker.ts), opened by calls that failed to reach
 * it and decided by the periodic probe rounds (health.ts), and the
 * instance's `up` flag, whose every change bumps its epoch (so results
 * started before it are ignored) and is reported to `onHealthChange`.
 *
 * Browser-safe.
 *
 * @module
 */

import { ConnectError, type Transport } from "@connectrpc/connect";
import { type BreakerOptions, CircuitBreaker } from "./breaker.ts";
import { ProbeLoop, type ProbeOptions, type ProbeResult } from "./health.ts";
import type { Member, Membership } from "./membership.ts";
import type { HealthChange } from "./transport.ts";

/** Options of {@linkcode InstanceHealth}. */
export interface InstanceHealthOptions {
  /** The list whose members are probed (its current members, every round). */
  readonly membership: Membership;
  /** Options of every instance's breaker. */
  readonly breaker: BreakerOptions;
  /** One health check of one instance. */
  readonly probe: (transport: Transport, options: ProbeOptions) => Promise<ProbeResult>;
  /** What every check asks, and its deadline. */
  readonly probeOptions: { readonly service: string; readonly timeoutMs: number };
  /** Pause between probe rounds; 0 disables them (see ProbeLoop). */
  readonly probeIntervalMs: number;
  /** Told of every health change; its exceptions are swallowed. */
  readonly onHealthChange?: (change: HealthChange) => void;
}

/** Breakers, probe rounds and health flags of a list's instances; probing starts at once. */
export class InstanceHealth {
  #membership: Membership;
  #probe: InstanceHealthOptions["probe"];
  #probeOptions: InstanceHealthOptions["probeOptions"];
  #onHealthChange: InstanceHealthOptions["onHealthChange"];
  #breakerOptions: BreakerOptions;
  /** Made on first use; a member that leaves the list takes its breaker with it. */
  #breakers = new WeakMap<Member, CircuitBreaker>();
  #loop: ProbeLoop;

  /** @throws {RangeError} for a negative probe interval. */
  constructor(options: InstanceHealthOptions) {
    this.#membership = options.membership;
    this.#probe = options.probe;
    this.#probeOptions = options.probeOptions;
    this.#onHealthChange = options.onHealthChange;
    this.#breakerOptions = options.breaker;
    this.#loop = new ProbeLoop(options.probeIntervalMs, (signal) => this.#probeRound(signal));
    this.#loop.start();
  }

  /**
   * A call that started at `epoch` failed: a failure of the instance itself
   * (not an answer it sent) opens its breaker and marks it down, unless its
   * health changed meanwhile.
   */
  callFailed(member: Member, epoch: number, error: unknown): void {
    if (!member.up || member.removed || member.epoch !== epoch) return;
    if (this.#breaker(member).callFailed(error)) {
      this.#setHealth(member, false, "call", ConnectError.from(error));
    }
  }

  /** markUp/markDown: forces the breaker, and the flag if it differs. */
  force(member: Member, up: boolean): void {
    this.#breaker(member).force(up);
    if (member.up !== up) this.#setHealth(member, up, "manual");
  }

  /** Probes every instance now; resolves when the round is done. */
  checkNow(): Promise<void> {
    return this.#loop.runNow();
  }

  /** Stops probing; waits for the running round to end. */
  stop(): Promise<void> {
    return this.#loop.stop();
  }

  #breaker(member: Member): CircuitBreaker {
    let b = this.#breakers.get(member);
    if (b === undefined) {
      b = new CircuitBreaker(this.#breakerOptions);
      this.#breakers.set(member, b);
    }
    return b;
  }

  #setHealth(member: Member, up: boolean, reason: HealthChange["reason"], error?: ConnectError) {
    member.up = up;
    member.epoch++;
    try {
      this.#onHealthChange?.({ instance: member.instance, up, reason, error });
    } catch {
      // A listener's bug must not break routing.
    }
  }

  async #probeRound(signal: AbortSignal): Promise<void> {
    const options = { ...this.#probeOptions, signal };
    await Promise.all(this.#membership.members.map(async (member) => {
      const epoch = member.epoch;
      this.#membership.acquire(member);
      let result: ProbeResult;
      try {
        result = await this.#probe(member.transport, options);
      } catch (e) {
        result = { up: false, error: ConnectError.from(e) };
      } finally {
        this.#membership.release(member);
      }
      // Ignore results made stale by close, removal, or a health change meanwhile.
      if (signal.aborted || member.removed || member.epoch !== epoch) return;
      const breaker = this.#breaker(member);
      // An open breaker waits out its cooldown; then the probe is its trial (half-open).
      if (!breaker.probeMayDecide) return;
      if (result.error === undefined || result.up) breaker.probeAnswered(result.up);
      else breaker.probeFailed(result.error);
      if (breaker.closed !== member.up) {
        this.#setHealth(member, breaker.closed, "probe", result.error);
      }
    }));
  }
}
