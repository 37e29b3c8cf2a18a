import assert from "node:assert/strict";
import { TextLineStream } from "./text_lines.ts";

Deno.test("lines split across chunks, CRLF and a last line without newline", async () => {
  const chunks = ["a\nb", "c\r\n", "\nd"];
  const out = await Array.fromAsync(
    ReadableStream.from(chunks).pipeThrough(new TextLineStream()),
  );
  assert.deepEqual(out, ["a", "bc", "", "d"]);
});
