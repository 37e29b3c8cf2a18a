import assert from "node:assert/strict";
import http2 from "node:http2";
import net from "node:net";
import { guardPeerGone, isPeerGone } from "./peer_gone.ts";
import { withTimeout } from "./wait.ts";

Deno.test("isPeerGone: EPIPE, ECONNRESET and ERR_HTTP2_STREAM_ERROR only", () => {
  const sys = (code: string) => Object.assign(new Error(code), { code });
  assert.equal(isPeerGone(sys("EPIPE")), true);
  assert.equal(isPeerGone(sys("ECONNRESET")), true);
  assert.equal(isPeerGone(sys("ERR_HTTP2_STREAM_ERROR")), true);
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

Deno.test("guardPeerGone: an HTTP/2 stream its client reset, with no error listener, does not end the process", async () => {
  const seen = Promise.withResolvers<Record<string, unknown> | undefined>();
  const unguard = guardPeerGone({ warn: (_msg, fields) => seen.resolve(fields) });
  // node:http2 streams get no "error" listener unless the handler adds one (http/one_port.ts
  // adds one to every stream: without it the stream also never emits "close").
  const server = http2.createServer();
  server.on("stream", (stream) => stream.resume());
  let client: http2.ClientHttp2Session | undefined;
  try {
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const { port } = server.address() as net.AddressInfo;
    client = http2.connect(`http://127.0.0.1:${port}`);
    client.on("error", () => {});
    const req = client.request({ ":path": "/", ":method": "POST" });
    req.on("error", () => {});
    req.write("hello");
    req.once("ready", () => req.close(http2.constants.NGHTTP2_INTERNAL_ERROR));
    const fields = await withTimeout(seen.promise, 5000, "the reset stream's error");
    assert.match(String(fields?.error), /NGHTTP2_INTERNAL_ERROR/);
  } finally {
    unguard();
    client?.close();
    await new Promise((r) => server.close(r));
  }
});
