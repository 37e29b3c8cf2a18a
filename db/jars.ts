/**
 * The launcher's prerequisites: JDK 17's `java`, and Cassandra's runtime jars
 * fetched once from Maven Central with `db/pom.xml`.
 *
 * @module
 */
import { exists } from "./files.ts";
import { lastLines, parseJavaMajor, seconds } from "./logs.ts";
import { DbError, DEFAULT_JAVA, type Settings } from "./settings.ts";

async function run(
  cmd: string,
  args: string[],
  opts: { cwd?: string; timeoutMs?: number } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(cmd, {
    args,
    cwd: opts.cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: opts.timeoutMs ? AbortSignal.timeout(opts.timeoutMs) : undefined,
  }).output();
  const d = new TextDecoder();
  return { code: out.code, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr) };
}

/** Finds JDK 17's `java` (JAVA17_HOME or Debian's path) and checks `-version`. */
export async function findJava(s: Settings): Promise<string> {
  const java = s.java17Home ? `${s.java17Home.replace(/\/$/, "")}/bin/java` : DEFAULT_JAVA;
  const how =
    "Cassandra 5.0 needs JDK 17 (not 21+: it installs a SecurityManager). Install it with\n" +
    "  apt-get install -y openjdk-17-jre-headless\n" +
    "or point JAVA17_HOME at a JDK 17.";
  let r;
  try {
    r = await run(java, ["-version"], { timeoutMs: 30_000 });
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new DbError(`${java} not found. ${how}`);
    throw e;
  }
  const major = parseJavaMajor(r.stderr + r.stdout);
  if (r.code !== 0 || major !== 17) {
    throw new DbError(
      `${java} is not a Java 17 (java -version: ${
        JSON.stringify(lastLines(r.stderr, 3).join(" "))
      }). ${how}`,
    );
  }
  return java;
}

/** `<state>/lib-<version>`. */
export function libDir(s: Settings): string {
  return `${s.stateDir}/lib-${s.version}`;
}

async function listJars(dir: string): Promise<string[]> {
  const jars: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.isFile && e.name.endsWith(".jar")) jars.push(`${dir}/${e.name}`);
  }
  return jars.sort();
}

/**
 * The runtime jars of Cassandra `s.version`, fetched with Maven into
 * `<state>/lib-<version>` the first time (then reused: a `.complete` marker
 * is written only after a full, checked copy).
 */
export async function ensureJars(s: Settings): Promise<string[]> {
  const lib = libDir(s);
  if (await exists(`${lib}/.complete`)) return await listJars(lib);
  const pom = `${s.repoRoot}/db/pom.xml`;
  const tmp = `${lib}.tmp-${Deno.pid}`;
  await Deno.mkdir(s.stateDir, { recursive: true });
  await Deno.remove(tmp, { recursive: true }).catch(() => {});
  s.log(`db: fetching Cassandra ${s.version} jars with Maven (once) into ${lib} ...`);
  const t0 = Date.now();
  let r;
  try {
    r = await run("mvn", [
      "-B",
      "-q",
      "-f",
      pom,
      "dependency:copy-dependencies",
      "-DincludeScope=runtime",
      `-DoutputDirectory=${tmp}`,
      `-Dcassandra.version=${s.version}`,
    ], { cwd: s.stateDir });
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new DbError(
        "mvn (Apache Maven) not found; it fetches Cassandra's jars from Maven Central once.\n" +
          "  apt-get install -y maven",
      );
    }
    throw e;
  }
  const jarNames = r.code === 0 ? (await listJars(tmp)).map((j) => j.slice(tmp.length + 1)) : [];
  const missing = [`cassandra-all-${s.version}.jar`, "jamm-", "logback-classic-", "jna-"]
    .filter((p) => !jarNames.some((j) => j.startsWith(p)));
  if (r.code !== 0 || missing.length) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    const output = lastLines(
      (r.stdout + r.stderr).split("\n").filter((l) => !l.includes("systemPath")).join("\n"),
      30,
    );
    throw new DbError(
      `Maven could not fetch Cassandra ${s.version} (exit ${r.code}${
        missing.length ? `, missing ${missing.join(", ")}` : ""
      }). Is Maven Central reachable? mvn said:\n${output.join("\n")}`,
    );
  }
  await Deno.writeTextFile(`${tmp}/.complete`, `${jarNames.length} jars\n`);
  await Deno.remove(lib, { recursive: true }).catch(() => {});
  await Deno.rename(tmp, lib);
  s.log(`db: ${jarNames.length} jars in ${seconds(Date.now() - t0)}`);
  return await listJars(lib);
}
