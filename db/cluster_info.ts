/**
 * Where a running Cassandra is reached ({@link ClusterInfo}), and the driver
 * options and `KEY=value` lines derived from it.
 *
 * @module
 */
import cassandra from "cassandra-driver";
import { LOCAL_DC, type Settings } from "./settings.ts";
import { localContactPoints } from "./state.ts";

/** Where a running cluster is reached. */
export interface ClusterInfo {
  /** CQL contact points, e.g. `["127.0.0.1", "127.0.0.2", "127.0.0.3"]`. */
  contactPoints: string[];
  /** Local data center for the driver's load balancing. */
  localDataCenter: string;
  /** Number of nodes. */
  nodes: number;
  /** `java`: started by this launcher; `docker`: compose; `external`: `CASSANDRA_CONTACT_POINTS`. */
  source: "java" | "docker" | "external";
}

/** The {@link ClusterInfo} of an `n`-node cluster this launcher runs from jars. */
export function javaClusterInfo(s: Settings, n: number): ClusterInfo {
  return {
    contactPoints: localContactPoints(n, s.ipBase),
    localDataCenter: LOCAL_DC,
    nodes: n,
    source: "java",
  };
}

/** The {@link ClusterInfo} of `CASSANDRA_CONTACT_POINTS`, when set. */
export function externalClusterInfo(s: Settings): ClusterInfo | undefined {
  const points = s.externalContactPoints;
  if (!points) return undefined;
  return {
    contactPoints: points,
    localDataCenter: s.localDataCenter,
    nodes: points.length,
    source: "external",
  };
}

/** cassandra-driver options for a cluster (protocol v4: the Node driver's maximum). */
export function clientOptions(info: ClusterInfo): cassandra.ClientOptions {
  return {
    contactPoints: info.contactPoints,
    localDataCenter: info.localDataCenter,
    protocolOptions: { maxVersion: cassandra.types.protocolVersion.v4 },
  };
}

/** The `KEY=value` lines `db up` and `db status` print. */
export function contactPointLines(info: ClusterInfo): string[] {
  return [
    `CASSANDRA_CONTACT_POINTS=${info.contactPoints.join(",")}`,
    `CASSANDRA_LOCAL_DC=${info.localDataCenter}`,
  ];
}
