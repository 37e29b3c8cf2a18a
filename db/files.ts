/**
 * Small file helpers of the launcher: read a file that may be missing, test
 * existence, and read the tail of a (possibly large) log.
 *
 * @module
 */
import { lastLines } from "./logs.ts";

/** The text of `path`, or undefined if it does not exist. */
export async function readText(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}

/** Whether `path` exists. */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** The last `lines` lines of a file, reading at most its last 256 KiB; undefined if missing. */
export async function tailFile(path: string, lines: number): Promise<string[] | undefined> {
  let f;
  try {
    f = await Deno.open(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
  try {
    const size = (await f.stat()).size;
    const max = 256 * 1024;
    const start = Math.max(0, size - max);
    await f.seek(start, Deno.SeekMode.Start);
    const buf = new Uint8Array(size - start);
    let off = 0;
    while (off < buf.length) {
      const k = await f.read(buf.subarray(off));
      if (k === null) break;
      off += k;
    }
    let text = new TextDecoder().decode(buf.subarray(0, off));
    if (start > 0) text = text.slice(text.indexOf("\n") + 1);
    return lastLines(text, lines);
  } finally {
    f.close();
  }
}
