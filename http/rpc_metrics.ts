/**
 * The RPC metrics of a server (an instance or the gateway), named and
 * labelled as go-grpc-prometheus does, for every protocol (gRPC, gRPC-web,
 * Connect): stock gRPC dashboards and alerts work unchanged.
 *
 * - `grpc_server_started_total{grpc_type,grpc_service,grpc_method}`
 * - `grpc_server_handled_total{grpc_type,grpc_service,grpc_method,grpc_code}`
 * - `grpc_server_handling_seconds{grpc_type,grpc_service,grpc_method}` (histogram)
 *
 * Why these names rather than the OpenTelemetry RPC conventions
 * (`rpc.server.duration`): they are what Prometheus users' gRPC dashboards and
 * alerts query, and `grpc_code` names the outcome in gRPC's own words.
 *
 * @module
 */
import { Counter, Histogram, type Registry } from "prom-client";

/** Labels of the RPC metrics. */
export type RpcLabel = "grpc_type" | "grpc_service" | "grpc_method";

/** Latency buckets in seconds, 0.5 ms to 10 s. */
export const LATENCY_BUCKETS: readonly number[] = Object.freeze([
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
]);

/** The three RPC metrics, registered on one registry. */
export class RpcMetrics {
  /** RPCs started, by service and method. */
  readonly started: Counter<RpcLabel>;
  /** RPCs finished, by service, method and gRPC code name ("OK", "NotFound", ...). */
  readonly handled: Counter<RpcLabel | "grpc_code">;
  /** RPC latency in seconds, by service and method. */
  readonly handlingSeconds: Histogram<RpcLabel>;

  constructor(registry: Registry) {
    const registers = [registry];
    const rpc: RpcLabel[] = ["grpc_type", "grpc_service", "grpc_method"];
    this.started = new Counter({
      name: "grpc_server_started_total",
      help: "RPCs started on the server (every protocol: gRPC, gRPC-web, Connect).",
      labelNames: rpc,
      registers,
    });
    this.handled = new Counter({
      name: "grpc_server_handled_total",
      help: "RPCs completed on the server, by gRPC code.",
      labelNames: [...rpc, "grpc_code"],
      registers,
    });
    this.handlingSeconds = new Histogram({
      name: "grpc_server_handling_seconds",
      help: "Time from the start of an RPC to its reply, in seconds.",
      labelNames: rpc,
      buckets: [...LATENCY_BUCKETS],
      registers,
    });
  }
}
