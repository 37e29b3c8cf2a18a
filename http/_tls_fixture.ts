/**
 * For tests: a throwaway self-signed certificate for 127.0.0.1, made with
 * openssl (undefined when openssl is not installed: skip the test then).
 *
 * @module
 */

/** A certificate and key (PEM) for 127.0.0.1, valid one day; undefined without openssl. */
export async function selfSigned(): Promise<{ cert: string; key: string } | undefined> {
  const dir = await Deno.makeTempDir();
  try {
    const out = await new Deno.Command("openssl", {
      args: [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=127.0.0.1",
        "-addext",
        "subjectAltName=IP:127.0.0.1",
        // A leaf, not a CA: rustls (Deno's fetch) refuses a CA certificate as the server's.
        "-addext",
        "basicConstraints=critical,CA:FALSE",
        "-keyout",
        `${dir}/key.pem`,
        "-out",
        `${dir}/cert.pem`,
      ],
      stdout: "null",
      stderr: "null",
    }).output();
    if (!out.success) return undefined;
    return {
      cert: await Deno.readTextFile(`${dir}/cert.pem`),
      key: await Deno.readTextFile(`${dir}/key.pem`),
    };
  } catch {
    return undefined;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
