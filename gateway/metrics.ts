/**
 * The gateway's `/metrics`: the RPC metrics an instance exports, under the
 * same go-grpc-prometheus names (http/rpc_metrics.ts), prom-client's default
 * process metrics that work under Deno (http/process_metrics.ts), and the
 * router's view of the instances.
 *
 * - `dataservices_gateway_instances{state="up"|"down"}`: instances in the
 *   list by health (up: keyed calls are routed to it).
 *
 * No label names an instance: the list can churn (DNS), labels must not.
 *
 * @module
 */
import { Gauge, Registry } from "prom-client";
import { registerProcessMetrics } from "../http/process_metrics.ts";
import { RpcMetrics } from "../http/rpc_metrics.ts";
import type { InstanceStatus } from "../router/transport.ts";

/** Metrics of one gateway, on a registry of its own. */
export class GatewayMetrics extends RpcMetrics {
  readonly registry: Registry;
  /** Default process metrics left out under this Deno (see http/process_metrics.ts). */
  readonly unavailableDefaults: readonly string[];

  /** @param instances the router's list, read when scraped. */
  constructor(instances: () => readonly InstanceStatus[]) {
    const registry = new Registry();
    super(registry);
    this.registry = registry;
    this.unavailableDefaults = registerProcessMetrics(registry);
    new Gauge({
      name: "dataservices_gateway_instances",
      help: "Data-service instances in the gateway's list, by state (up: calls are routed to it).",
      labelNames: ["state"],
      registers: [registry],
      collect() {
        let up = 0;
        const list = instances();
        for (const i of list) if (i.up) up++;
        this.set({ state: "up" }, up);
        this.set({ state: "down" }, list.length - up);
      },
    });
  }

  /** Prometheus text exposition. */
  async exposition(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
