/**
 * The gateway's readiness: ready (`/readyz` 200, `grpc.health.v1` SERVING)
 * once the first health probe round of its instances has ended and while at
 * least one instance is up, until it drains. It follows the router's health
 * changes and list changes as they happen (no polling).
 *
 * @module
 */
import { Readiness } from "../http/health.ts";
import type { InstanceStatus } from "../router/transport.ts";

/** Readiness over the router's view of the instances. */
export class InstanceReadiness {
  /** What `/readyz` and the health service read. */
  readonly readiness: Readiness = new Readiness();
  #instances: () => readonly InstanceStatus[];
  #probed = false;

  /** @param instances the router's current list (read on every update). */
  constructor(instances: () => readonly InstanceStatus[]) {
    this.#instances = instances;
    this.update();
  }

  /** The first probe round ended: readiness now follows the instances. */
  probed(): void {
    this.#probed = true;
    this.update();
  }

  /** Re-reads the instances (call on every health or list change). */
  update(): void {
    if (!this.#probed) {
      this.readiness.setStore(false, "instances not probed yet");
      return;
    }
    const list = this.#instances();
    const up = list.filter((i) => i.up).length;
    this.readiness.setStore(
      up > 0,
      list.length === 0 ? "no instances" : `no live instance (0 of ${list.length} up)`,
    );
  }

  /** The `/readyz` body's instance list. */
  detail(): { instances: { id: string; up: boolean }[] } {
    return { instances: this.#instances().map((i) => ({ id: i.id, up: i.up })) };
  }
}
