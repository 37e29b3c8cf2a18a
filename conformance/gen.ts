/**
 * Second half of `deno task gen`: compiles the conformance suite's protos
 * (`connectrpc/conformance/v1`, without `suite.proto`, which only the runner
 * reads) into `gen/connectrpc/conformance/v1` with the project's
 * `buf.gen.yaml` plugins. The protos are not copied into the repository: they
 * are read from the Go module cache (`go mod download`, see `tools.ts`), at
 * the version of `version.ts`, and passed to `buf generate` as its input.
 *
 * @module
 */
import { conformanceModuleDir } from "./tools.ts";

const BUF = "npm:@bufbuild/buf@1.75.0";

if (import.meta.main) {
  const proto = `${await conformanceModuleDir()}/proto`;
  const { success } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      BUF,
      "generate",
      proto,
      "--exclude-path",
      `${proto}/connectrpc/conformance/v1/suite.proto`,
    ],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!success) Deno.exit(1);
}
