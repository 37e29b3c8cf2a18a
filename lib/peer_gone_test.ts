import assert from "node:assert/strict";
import net from "node:net";
import { guardPeerGone, isPeerGone } from "./peer_gone.ts";
import { withTimeout } from "./wait.ts";

Deno.test("isPeerGone: EPIPE and ECONNRESET only", () => {
  const sys = (code: string) => Object.assign(new Error(code), { code });
  assert.equal(isPeerGone(sys("EPIPE")), true);
  assert.equal(isPeerGone(sys("ECONNRESET")), true);
  assert.equal(isPeerGone(sys("EADDRINUSE")), false);
  assert.equal(isPeerGone(new Error("write EPIPE")), false, "the code decides, not the text");
  assert.equal(isPeerGone({ code: "EPIPE" }), false, "not an Error");
});

Deno.test("guardPeerGone: a socket with no error listener whose peer hung up does not end the process", async () => {
  const seen = Promise.withResolvers<Record<string, unknown> | undefined>();
  const unguard = guardPeerGone({ warn: (_msg, fields) => seen.resolve(fields) });
  const closed = Promise.withResolvers<void>();
  // A node:net server socket has no "error" listener, like the ones node:http2 makes inside.
  const server = net.createServer((socket) => {
    const chunk = new Uint8Array(1 << 16);
    const write = () => {
      if (socket.destroyed) return closed.resolve();
      socket.write(chunk);
      setTimeout(write, 1);
    };
    write();
  });
  try {
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const { port } = server.address() as net.AddressInfo;
    const client = net.connect(port, "127.0.0.1");
    client.on("error", () => {});
    client.once("data", () => client.resetAndDestroy()); // hang up (RST) while the server writes
    const fields = await withTimeout(seen.promise, 5000, "the server socket's EPIPE/ECONNRESET");
    assert.match(String(fields?.error), /EPIPE|ECONNRESET|ended by the other party/);
    await withTimeout(closed.promise, 5000, "the server socket closing");
  } finally {
    unguard();
    await new Promise((r) => server.close(r));
  }
});
