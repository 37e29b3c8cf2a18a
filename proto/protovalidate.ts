/**
 * First step of `deno task gen`: puts `buf/validate/validate.proto` (the
 * protovalidate rules that `proto/dataservices/v1` imports) in
 * {@linkcode PROTOVALIDATE_DIR}, the second module of buf.yaml's workspace.
 *
 * The file comes from the Maven Central artifact `build.buf:protovalidate`
 * (the Java runtime ships the proto in its jar), at the version whose
 * descriptor is byte for byte the one `@bufbuild/protovalidate` embeds, and
 * is checked against a pinned SHA-256: the Buf registry, where the module
 * usually comes from, is not reachable from here. The directory is not
 * committed (.gitignore); a file that is already there with the right digest
 * is kept, so `deno task gen` runs offline after the first time.
 *
 * @module
 */
import { unzipSync } from "fflate";

/** `build.buf:protovalidate` version: its validate.proto is the one `@bufbuild/protovalidate@1.3.0` embeds. */
export const PROTOVALIDATE_VERSION = "1.3.0";
/** SHA-256 of `buf/validate/validate.proto` in that jar. */
export const VALIDATE_PROTO_SHA256 =
  "817951eab518442950f1982be24b2c3154b214b40e42f49b915cbf5181e6ee80";
/** The jar on Maven Central. */
export const PROTOVALIDATE_JAR =
  `https://repo1.maven.org/maven2/build/buf/protovalidate/${PROTOVALIDATE_VERSION}/protovalidate-${PROTOVALIDATE_VERSION}.jar`;
/** Where the proto goes (buf.yaml names this directory as a module). */
export const PROTOVALIDATE_DIR = new URL("../.deps/protovalidate/", import.meta.url);

const ENTRY = "buf/validate/validate.proto";

async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function readIfPresent(url: URL): Promise<Uint8Array | undefined> {
  try {
    return await Deno.readFile(url);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  }
}

/**
 * Makes sure `validate.proto` is in place with the pinned digest, downloading
 * the jar only when it is not. Returns the file's path.
 */
export async function ensureValidateProto(): Promise<string> {
  const target = new URL(ENTRY, PROTOVALIDATE_DIR);
  const present = await readIfPresent(target);
  if (present && await sha256(present) === VALIDATE_PROTO_SHA256) return target.pathname;

  const res = await fetch(PROTOVALIDATE_JAR);
  if (!res.ok) {
    await res.body?.cancel();
    throw new Error(`GET ${PROTOVALIDATE_JAR}: HTTP ${res.status}`);
  }
  const jar = new Uint8Array(await res.arrayBuffer());
  const proto = unzipSync(jar, { filter: (f) => f.name === ENTRY })[ENTRY];
  if (proto === undefined) throw new Error(`${PROTOVALIDATE_JAR} has no ${ENTRY}`);
  const digest = await sha256(proto);
  if (digest !== VALIDATE_PROTO_SHA256) {
    throw new Error(
      `${ENTRY} from ${PROTOVALIDATE_JAR} has SHA-256 ${digest}, expected ${VALIDATE_PROTO_SHA256}`,
    );
  }
  await Deno.mkdir(new URL(".", target), { recursive: true });
  await Deno.writeFile(target, proto);
  return target.pathname;
}

if (import.meta.main) {
  console.log(await ensureValidateProto());
}
