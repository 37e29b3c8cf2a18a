/**
 * Finds the Go tool, the conformance module's source in the Go module cache,
 * and the `connectconformance` runner.
 *
 * @module
 */
import { CONFORMANCE_INSTALL, CONFORMANCE_MODULE, CONFORMANCE_VERSION } from "./version.ts";

const decoder = new TextDecoder();

/** Runs `cmd args`, returns stdout; throws with stderr when it fails. */
async function output(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")} failed: ${decoder.decode(out.stderr).trim()}`);
  }
  return decoder.decode(out.stdout);
}

/** Whether `path` is an executable file. */
async function executable(path: string): Promise<boolean> {
  try {
    const info = await Deno.stat(path);
    return info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0;
  } catch {
    return false;
  }
}

/** The first executable `name` on `PATH`, else the first of `fallbacks` that exists. */
async function which(name: string, fallbacks: string[] = []): Promise<string | undefined> {
  const dirs = (Deno.env.get("PATH") ?? "").split(":").filter((d) => d !== "");
  for (const path of [...dirs.map((d) => `${d}/${name}`), ...fallbacks]) {
    if (await executable(path)) return path;
  }
  return undefined;
}

/** The Go tool (`go` on `PATH`, else `/usr/local/go/bin/go`). */
export async function findGo(): Promise<string> {
  const go = await which("go", ["/usr/local/go/bin/go"]);
  if (go === undefined) {
    throw new Error("Go not found: install Go 1.26 or put `go` on PATH");
  }
  return go;
}

/**
 * The directory of the conformance module (its `proto/` and `docs/`) in the
 * Go module cache, downloading it through the module proxy if needed
 * (`go mod download -json`).
 */
export async function conformanceModuleDir(): Promise<string> {
  const go = await findGo();
  const json = await output(go, [
    "mod",
    "download",
    "-json",
    `${CONFORMANCE_MODULE}@${CONFORMANCE_VERSION}`,
  ]);
  const { Dir, Error: error } = JSON.parse(json) as { Dir?: string; Error?: string };
  if (error || !Dir) throw new Error(`go mod download: ${error ?? "no Dir in its output"}`);
  return Dir;
}

/**
 * A Go-installed tool: `name` on `PATH`, else in Go's install directory
 * (`go env GOBIN`, else `$(go env GOPATH)/bin`); undefined when missing.
 */
export async function findGoInstalled(name: string): Promise<string | undefined> {
  const fallbacks: string[] = [];
  try {
    const go = await findGo();
    const [gobin, gopath] = (await output(go, ["env", "GOBIN", "GOPATH"])).split("\n");
    if (gobin) fallbacks.push(`${gobin}/${name}`);
    if (gopath) fallbacks.push(`${gopath.split(":")[0]}/bin/${name}`);
  } catch {
    // no Go: only PATH
  }
  return await which(name, fallbacks);
}

/**
 * The `connectconformance` runner (see {@linkcode findGoInstalled}). Throws
 * with the install command when it is missing or has another version.
 */
export async function findRunner(): Promise<string> {
  const runner = await findGoInstalled("connectconformance");
  if (runner === undefined) {
    throw new Error(`connectconformance not found: go install ${CONFORMANCE_INSTALL}`);
  }
  const version = (await output(runner, ["--version"])).trim();
  if (!version.endsWith(` ${CONFORMANCE_VERSION}`)) {
    throw new Error(
      `${runner} is "${version}", expected ${CONFORMANCE_VERSION}: go install ${CONFORMANCE_INSTALL}`,
    );
  }
  return runner;
}
