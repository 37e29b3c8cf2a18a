/**
 * Splits a text stream into lines (`\n` or `\r\n`), like @std/streams'
 * TextLineStream, which is not available from npm.
 *
 * @module
 */

/** A TransformStream from text chunks to lines without their line ending. */
export class TextLineStream extends TransformStream<string, string> {
  constructor() {
    let buf = "";
    super({
      transform(chunk, controller) {
        buf += chunk;
        let i;
        while ((i = buf.indexOf("\n")) >= 0) {
          controller.enqueue(buf.slice(0, i).replace(/\r$/, ""));
          buf = buf.slice(i + 1);
        }
      },
      flush(controller) {
        if (buf) controller.enqueue(buf);
      },
    });
  }
}
