/**
 * How often Deno 2.9.6's node:http2 aborts an instance (the upstream nghttp2
 * assertion `find_stream_on_goaway_func`, or a segfault): each round starts a
 * fuzz instance, sends three oversized request heads over HTTP/1.1 and then
 * over h2c (a session of its own each, closed after its 431), and counts the
 * instance dead if it exited by then. Not part of any test: a measurement.
 *
 * `deno run -A tests/fuzz/abort_repro.ts [--rounds 60] [-- serve flags...]`
 *
 * @module
 */
import { H1Client } from "./http1.ts";
import { H2Client } from "./http2.ts";
import type { FuzzCase, HttpVersion } from "./cases.ts";
import { startFuzzInstance } from "./runner.ts";
import { utf8 } from "./wire.ts";

const GET_STATS = "/dataservices.v1.MessagesService/GetStats";

const fields = (n: number, size: number) =>
  Array.from({ length: n }, (_, i) => [`x-f${i}`, "v".repeat(size)] as [string, string]);
/** Each over the instance's 16 KiB head limit, in three shapes. */
const HEADS: [string, string][][] = [
  [["x-big", "v".repeat(20_000)]],
  fields(80, 200),
  fields(600, 20),
];

function oversized(http: HttpVersion, headers: [string, string][]): FuzzCase {
  return {
    index: 0,
    family: "focused",
    protocol: "http",
    port: "main",
    http,
    method: "POST",
    path: GET_STATS,
    headers: [["content-type", "application/json"], ...headers],
    body: utf8("{}"),
  };
}

if (import.meta.main) {
  const dashes = Deno.args.indexOf("--");
  const own = dashes >= 0 ? Deno.args.slice(0, dashes) : Deno.args;
  const serveFlags = dashes >= 0 ? Deno.args.slice(dashes + 1) : [];
  const at = own.indexOf("--rounds");
  const rounds = at >= 0 ? Number(own[at + 1]) : 60;
  if (!Number.isInteger(rounds) || rounds < 1) {
    throw new Error("--rounds takes a whole number of rounds, at least 1");
  }
  const deaths: string[] = [];
  for (let round = 0; round < rounds; round++) {
    const instance = await startFuzzInstance(16 * 1024, serveFlags);
    for (const headers of HEADS) {
      const h1 = new H1Client(instance.mainPort);
      await h1.send(oversized("h1", headers), 5000);
      h1.close();
    }
    for (const headers of HEADS) {
      const h2 = new H2Client(`http://127.0.0.1:${instance.mainPort}`);
      await h2.send(oversized("h2", headers), 5000);
      await h2.close();
    }
    // The abort comes within milliseconds of a session's end, if at all.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const alive = instance.alive();
    const code = await instance.stop();
    if (!alive || code !== 0) {
      const why = instance.stderr().trim().split("\n").at(-1) ?? "";
      deaths.push(`round ${round + 1}: exit ${code} ${why.slice(0, 160)}`);
    }
  }
  for (const d of deaths) console.log(d);
  console.log(`instances that died: ${deaths.length} of ${rounds}`);
}
