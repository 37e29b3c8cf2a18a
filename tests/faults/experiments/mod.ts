/**
 * Every experiment of the suite, in the order the runner runs them (the
 * disruptive full outage last).
 *
 * @module
 */
import type { Experiment } from "../experiment.ts";
import { cassandraDown } from "./cassandra_down.ts";
import { freezeAll } from "./freeze_all.ts";
import { instanceStop } from "./instance_stop.ts";
import { nodeKill } from "./node_kill.ts";
import { overloadReads } from "./overload_reads.ts";
import { overloadWrites } from "./overload_writes.ts";

/** The experiments, in order. */
export const EXPERIMENTS: readonly Experiment[] = [
  nodeKill("non-contact"),
  nodeKill("contact"),
  freezeAll,
  instanceStop("SIGKILL", "router"),
  instanceStop("SIGTERM", "router"),
  instanceStop("SIGKILL", "gateway"),
  instanceStop("SIGTERM", "gateway"),
  overloadReads,
  overloadWrites,
  cassandraDown,
];
