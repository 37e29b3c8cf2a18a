/**
 * The Docker path of the launcher: when a Docker engine answers, `db up`
 * runs the `cassandra-1..3` services of `compose.yaml` and records them in
 * `<state>/compose.json`, which `db down` reads to remove them.
 *
 * @module
 */
import type { ClusterInfo } from "./cluster_info.ts";
import { readText } from "./files.ts";
import { DbError, LOCAL_DC, type Settings } from "./settings.ts";

/** Docker compose services, node i is `cassandra-i`. */
export const COMPOSE_SERVICES = ["cassandra-1", "cassandra-2", "cassandra-3"] as const;

/** Whether `docker info` succeeds within 5 s. */
export async function dockerAnswers(): Promise<boolean> {
  try {
    const r = await new Deno.Command("docker", {
      args: ["info"],
      stdin: "null",
      stdout: "null",
      stderr: "null",
      signal: AbortSignal.timeout(5000),
    }).output();
    return r.code === 0;
  } catch {
    return false;
  }
}

function composeMarker(s: Settings): string {
  return `${s.stateDir}/compose.json`;
}

/** The compose cluster `up` recorded, if any. */
export async function readComposeMarker(s: Settings): Promise<ClusterInfo | undefined> {
  const t = await readText(composeMarker(s));
  return t ? JSON.parse(t) as ClusterInfo : undefined;
}

/** `docker compose up -d --wait` of the first `nodes` services; records them. */
export async function composeUp(s: Settings, nodes: number): Promise<ClusterInfo> {
  const services = COMPOSE_SERVICES.slice(0, nodes);
  s.log(`db: Docker engine found: docker compose up -d --wait ${services.join(" ")}`);
  const r = await new Deno.Command("docker", {
    args: ["compose", "-f", `${s.repoRoot}/compose.yaml`, "up", "-d", "--wait", ...services],
    cwd: s.repoRoot,
    stdin: "null",
  }).output();
  if (r.code !== 0) throw new DbError(`docker compose up failed (exit ${r.code})`);
  const info: ClusterInfo = {
    contactPoints: ["127.0.0.1"],
    localDataCenter: LOCAL_DC,
    nodes,
    source: "docker",
  };
  await Deno.mkdir(s.stateDir, { recursive: true });
  await Deno.writeTextFile(composeMarker(s), JSON.stringify(info) + "\n");
  return info;
}

/** Removes the compose services `up` started; false if none were recorded. */
export async function composeDown(s: Settings): Promise<boolean> {
  if (!await readComposeMarker(s)) return false;
  s.log("db: docker compose rm -s -f " + COMPOSE_SERVICES.join(" "));
  const r = await new Deno.Command("docker", {
    args: ["compose", "-f", `${s.repoRoot}/compose.yaml`, "rm", "-s", "-f", ...COMPOSE_SERVICES],
    cwd: s.repoRoot,
    stdin: "null",
  }).output();
  if (r.code !== 0) throw new DbError(`docker compose rm failed (exit ${r.code})`);
  await Deno.remove(composeMarker(s)).catch(() => {});
  return true;
}
