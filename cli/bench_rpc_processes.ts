/**
 * Every process `deno task bench:rpc` starts besides h2load and the load
 * CLI: the instances under test (on the Cassandra it found; each leases a
 * worker id of its own there) and the grpc-go floors. All are stopped together at
 * the end, or killed at once on a second Ctrl-C.
 *
 * @module
 */
import { type InstanceOptions, InstanceUnderTest } from "./bench_rpc_instance.ts";
import type { FloorServer } from "./bench_rpc_floor.ts";

/** The instances and floors of one bench run. */
export class BenchProcesses {
  /** Every instance made so far, running or not; appended by `instance`. */
  readonly #instances: InstanceUnderTest[] = [];
  /** Every floor started so far; appended by `floor`. */
  readonly #floors: FloorServer[] = [];
  /** Flags of server/main.ts naming the Cassandra. */
  readonly #cassandra: readonly string[];

  /** `cassandra`: the flags of server/main.ts that name the cluster. */
  constructor(cassandra: readonly string[]) {
    this.#cassandra = cassandra;
  }

  /** A new instance (not started yet), stopped with the others. */
  instance(name: string, extra: Partial<InstanceOptions>): InstanceUnderTest {
    const i = new InstanceUnderTest({
      name,
      args: [...this.#cassandra],
      ...extra,
    });
    this.#instances.push(i);
    return i;
  }

  /** Stops `f` with the others. */
  floor(f: FloorServer): void {
    this.#floors.push(f);
  }

  /** Stops every instance (SIGTERM, then SIGKILL after 5 s) and floor. */
  async stopAll(): Promise<void> {
    await Promise.all([
      ...this.#instances.map((i) => i.stop(5000)),
      ...this.#floors.map((f) => f.stop()),
    ]);
  }

  /** SIGKILL to every process, at once. */
  killNow(): void {
    for (const i of this.#instances) i.killNow();
    for (const f of this.#floors) {
      try {
        Deno.kill(f.pid, "SIGKILL");
      } catch { /* already gone */ }
    }
  }
}
