import assert from "node:assert/strict";
import { FaultProxy } from "./fault_proxy.ts";
import { withTimeout } from "./wait.ts";

/** An echo server on a free port: its port, bytes received so far, and a closer. */
function echoServer(): { port: number; received: () => number; close: () => Promise<void> } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  let received = 0;
  const counting = () =>
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, out) {
        received += chunk.length;
        out.enqueue(chunk);
      },
    });
  const done = (async () => {
    try {
      for await (const c of listener) {
        conns.add(c);
        c.readable.pipeThrough(counting()).pipeTo(c.writable).catch(() => {})
          .finally(() => conns.delete(c));
      }
    } catch {
      // closed
    }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    received: () => received,
    close: async () => {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch {
          // closed by the peer already
        }
      }
      await done;
    },
  };
}

async function readSome(conn: Deno.Conn, what: string): Promise<string> {
  const buf = new Uint8Array(64);
  const n = await withTimeout(conn.read(buf), 5000, what);
  return n === null ? "<eof>" : new TextDecoder().decode(buf.subarray(0, n));
}

Deno.test("the proxy forwards, holds bytes while frozen, refuses while down", async () => {
  const echo = echoServer();
  const proxy = await FaultProxy.start({ hostname: "127.0.0.1", port: echo.port });
  const port = proxy.port;
  let conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(new TextEncoder().encode("a"));
    assert.equal(await readSome(conn, "the echo of a"), "a");

    proxy.freeze();
    const received = echo.received();
    await conn.write(new TextEncoder().encode("b"));
    const held = conn.read(new Uint8Array(64));
    await withTimeout(proxy.holding(1), 5000, "the proxy to hold the byte sent while frozen");
    assert.equal(echo.received(), received, "the server got nothing while frozen");
    proxy.thaw();
    assert.equal(await withTimeout(held, 5000, "the held echo after thaw"), 1);
    assert.equal(proxy.heldBytes, 0);

    await proxy.down();
    assert.equal(proxy.connections, 0);
    assert.equal(await readSome(conn, "the end of the dropped connection"), "<eof>");
    conn.close();
    await assert.rejects(
      Deno.connect({ hostname: "127.0.0.1", port }),
      Deno.errors.ConnectionRefused,
    );

    await proxy.up();
    assert.equal(proxy.port, port, "same port after up()");
    conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(new TextEncoder().encode("c"));
    assert.equal(await readSome(conn, "the echo of c after up()"), "c");
  } finally {
    conn.close();
    await proxy.close();
    await echo.close();
  }
});

Deno.test("down() while frozen ends the held connections", async () => {
  const echo = echoServer();
  const proxy = await FaultProxy.start({ hostname: "127.0.0.1", port: echo.port });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
  try {
    proxy.freeze();
    await conn.write(new TextEncoder().encode("x"));
    await withTimeout(proxy.down(), 5000, "down() to finish while frozen");
    assert.equal(await readSome(conn, "the end of the frozen connection"), "<eof>");
  } finally {
    conn.close();
    await proxy.close();
    await echo.close();
  }
});

Deno.test("down({ reset }) accepts and closes new connections, counting them", async () => {
  const echo = echoServer();
  const proxy = await FaultProxy.start({ hostname: "127.0.0.1", port: echo.port });
  try {
    await proxy.down({ reset: true });
    assert.ok(proxy.isDown);
    for (let i = 0; i < 2; i++) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
      assert.equal(await readSome(conn, "the reset connection to end"), "<eof>");
      conn.close();
    }
    await withTimeout(proxy.turnedAway(2), 5000, "two connections turned away");
    await proxy.up();
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
    await conn.write(new TextEncoder().encode("d"));
    assert.equal(await readSome(conn, "the echo of d after up()"), "d");
    conn.close();
  } finally {
    await proxy.close();
    await echo.close();
  }
});
