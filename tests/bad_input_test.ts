/**
 * Bad input the fuzz test found answered wrongly, one test per fix, sent
 * over raw HTTP/1.1 and h2c to both listeners of an instance in a child
 * process (over a MemoryStore: no database needed).
 */
import assert from "node:assert/strict";
import type { FuzzCase, HttpVersion, Port, Protocol } from "./fuzz/cases.ts";
import { H1Client } from "./fuzz/http1.ts";
import { H2Client } from "./fuzz/http2.ts";
import { codeOf, type Result } from "./fuzz/outcome.ts";
import { type FuzzInstance, startFuzzInstance, upstreamH2Abort } from "./fuzz/runner.ts";
import { compress, concat, envelope, OVERLONG_VARINT, tag, utf8 } from "./fuzz/wire.ts";

const GET_MESSAGE = "/dataservices.v1.MessagesService/GetMessage";
const GET_STATS = "/dataservices.v1.MessagesService/GetStats";
const WATCH = "/grpc.health.v1.Health/Watch";
/** A GetMessage request whose first field is an 11-byte varint: undecodable. */
const UNDECODABLE = concat(tag(1, 0), OVERLONG_VARINT);

/** Sends requests to an instance; closes its clients with `close()`. */
class Sender {
  readonly #h1: Record<Port, H1Client>;
  readonly #h2: Record<Port, H2Client>;
  constructor(readonly instance: FuzzInstance) {
    this.#h1 = { main: new H1Client(instance.mainPort), fast: new H1Client(instance.fastPort) };
    const url = (p: number) => `http://127.0.0.1:${p}`;
    this.#h2 = {
      main: new H2Client(url(instance.mainPort)),
      fast: new H2Client(url(instance.fastPort)),
    };
  }

  /** The answer's code (as the fuzz test reads it) and the answer. */
  async send(
    protocol: Protocol,
    port: Port,
    http: HttpVersion,
    req: {
      method?: string;
      path: string;
      headers: [string, string][];
      body?: Uint8Array;
      stall?: boolean;
    },
  ): Promise<{ code: string; result: Result }> {
    const c: FuzzCase = {
      index: 0,
      family: "focused",
      protocol,
      port,
      http,
      method: req.method ?? "POST",
      path: req.path,
      headers: req.headers,
      body: req.body ?? new Uint8Array(0),
    };
    const result = http === "h1"
      ? await this.#h1[port].send(c, 5000)
      : await this.#h2[port].send({ ...c, stall: req.stall }, 5000);
    return { code: codeOf(c, result), result };
  }

  /** `send` on every listener and HTTP version (gRPC: the main port only); codes by "port/http". */
  async everywhere(
    protocol: Protocol,
    req: { method?: string; path: string; headers: [string, string][]; body?: Uint8Array },
  ): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const port of protocol === "grpc" ? (["main"] as const) : (["main", "fast"] as const)) {
      for (const http of ["h1", "h2"] as const) {
        out[`${port}/${http}`] = (await this.send(protocol, port, http, req)).code;
      }
    }
    return out;
  }

  /** Raw bytes on a fresh HTTP/1.1 connection. */
  raw(port: Port, bytes: Uint8Array): Promise<Result> {
    return this.#h1[port].send(bytes, 5000);
  }

  async close() {
    this.#h1.main.close();
    this.#h1.fast.close();
    await Promise.all([this.#h2.main.close(), this.#h2.fast.close()]);
  }
}

/**
 * Runs `fn` with a fresh instance (read limit 16 KiB) and a sender; stops
 * both. The instance must exit cleanly; with `upstreamAbortOk`, the known
 * upstream abort of node:http2 (see `upstreamH2Abort`) after `fn` passed is
 * reported instead of failing.
 */
async function withInstance(
  fn: (s: Sender) => Promise<void>,
  args: string[] = [],
  upstreamAbortOk = false,
) {
  const instance = await startFuzzInstance(16 * 1024, args);
  const sender = new Sender(instance);
  let passed = false;
  try {
    await fn(sender);
    passed = true;
  } finally {
    await sender.close();
    const exit = await instance.stop();
    const upstream = upstreamH2Abort(exit, instance.stderr());
    if (passed && upstreamAbortOk && upstream) {
      console.warn(
        `the instance died after the checks passed, of the known upstream bug: ${upstream}`,
      );
    } else {
      assert.equal(exit, 0, instance.stderr());
    }
  }
}

/** Asserts every value of `codes` is `want`. */
function all(codes: Record<string, string>, want: string, what: string) {
  for (const [where, code] of Object.entries(codes)) {
    assert.equal(code, want, `${what} on ${where}`);
  }
}

const proto: [string, string] = ["content-type", "application/proto"];
const grpc: [string, string][] = [["content-type", "application/grpc"], ["te", "trailers"]];
const grpcWeb: [string, string][] = [["content-type", "application/grpc-web+proto"]];

Deno.test("compressed requests with undecodable messages are INVALID_ARGUMENT (were INTERNAL)", async () => {
  await withInstance(async (s) => {
    for (const e of ["gzip", "br"] as const) {
      all(
        await s.everywhere("connect-proto", {
          path: GET_MESSAGE,
          headers: [proto, ["content-encoding", e]],
          body: compress(e, UNDECODABLE),
        }),
        "invalid_argument",
        `Connect binary, ${e}`,
      );
      for (const [protocol, headers] of [["grpc", grpc], ["grpc-web", grpcWeb]] as const) {
        all(
          await s.everywhere(protocol, {
            path: GET_MESSAGE,
            headers: [...headers, ["grpc-encoding", e]],
            body: envelope(1, compress(e, UNDECODABLE)),
          }),
          "invalid_argument",
          `${protocol}, ${e}`,
        );
      }
    }
    // A torn gzip stream: connect-node calls that INTERNAL.
    all(
      await s.everywhere("connect-proto", {
        path: GET_MESSAGE,
        headers: [proto, ["content-encoding", "gzip"]],
        body: compress("gzip", utf8("x".repeat(100))).subarray(0, 15),
      }),
      "invalid_argument",
      "torn gzip",
    );
    // Connect GET with a compressed message and broken base64: was "internal error".
    all(
      await s.everywhere("connect-get", {
        method: "GET",
        path: `${GET_MESSAGE}?encoding=proto&base64=1&compression=gzip&message=!!!!`,
        headers: [],
      }),
      "invalid_argument",
      "GET, gzip, broken base64",
    );
    // A compressed message still works, and one that inflates past the limit is refused.
    all(
      await s.everywhere("grpc-web", {
        path: GET_STATS,
        headers: [...grpcWeb, ["grpc-encoding", "gzip"]],
        body: envelope(1, compress("gzip", new Uint8Array(0))),
      }),
      "ok",
      "gRPC-web, gzip, empty message",
    );
    all(
      await s.everywhere("connect-proto", {
        path: GET_STATS,
        headers: [proto, ["content-encoding", "gzip"]],
        body: compress("gzip", new Uint8Array(1 << 20)),
      }),
      "resource_exhausted",
      "Connect, gzip bomb",
    );
  });
});

Deno.test("envelope flags 2-255 are INVALID_ARGUMENT, also under grpc-encoding and in streams", async () => {
  await withInstance(async (s) => {
    for (const flags of [2, 0x80, 0xff]) {
      // Under grpc-encoding these went to connect-es, which read the message and answered OK.
      all(
        await s.everywhere("grpc", {
          path: GET_STATS,
          headers: [...grpc, ["grpc-encoding", "gzip"]],
          body: envelope(flags, new Uint8Array(0)),
        }),
        "invalid_argument",
        `gRPC GetStats, gzip, flags ${flags}`,
      );
      // Health.Watch (a stream, served by connect-es) for a service it does not know.
      const unknown = concat(tag(1, 2), new Uint8Array([1]), utf8("?"));
      for (const [protocol, headers] of [["grpc", grpc], ["grpc-web", grpcWeb]] as const) {
        all(
          await s.everywhere(protocol, { path: WATCH, headers, body: envelope(flags, unknown) }),
          "invalid_argument",
          `${protocol} Watch, flags ${flags}`,
        );
      }
    }
    // A compressed flag without grpc-encoding stays INTERNAL: the protocols and their
    // conformance suite ("unexpected-compressed-message") require it.
    all(
      await s.everywhere("grpc", {
        path: GET_STATS,
        headers: grpc,
        body: envelope(1, new Uint8Array(0)),
      }),
      "internal",
      "gRPC, flags 1 without grpc-encoding",
    );
  });
});

Deno.test("streams (connect-es) with undecodable messages are INVALID_ARGUMENT (were INTERNAL)", async () => {
  await withInstance(async (s) => {
    const body = envelope(0, concat(tag(1, 2), new Uint8Array([50]), utf8("short")));
    all(
      await s.everywhere("grpc", { path: WATCH, headers: grpc, body }),
      "invalid_argument",
      "gRPC",
    );
    all(
      await s.everywhere("grpc-web", { path: WATCH, headers: grpcWeb, body }),
      "invalid_argument",
      "gRPC-web",
    );
    all(
      await s.everywhere("connect-stream", {
        path: WATCH,
        headers: [["content-type", "application/connect+proto"]],
        body,
      }),
      "invalid_argument",
      "Connect stream",
    );
  });
});

Deno.test("browsers' requests (Origin) on the main port get the fast path's codes and CORS headers", async () => {
  await withInstance(async (s) => {
    const origin: [string, string] = ["origin", "http://localhost:3000"];
    for (const http of ["h1", "h2"] as const) {
      const bad = await s.send("grpc-web", "main", http, {
        path: GET_MESSAGE,
        headers: [...grpcWeb, origin],
        body: envelope(0, UNDECODABLE),
      });
      assert.equal(bad.code, "invalid_argument", `gRPC-web over ${http}`); // was internal
      const ok = await s.send("connect-proto", "main", http, {
        path: GET_STATS,
        headers: [proto, origin],
      });
      assert.equal(ok.code, "ok");
      assert.ok(ok.result.kind === "answer");
      assert.equal(
        ok.result.answer.headers["access-control-allow-origin"],
        "http://localhost:3000",
      );
      assert.match(ok.result.answer.headers["access-control-expose-headers"] ?? "", /Grpc-Status/);
      const elsewhere = await s.send("connect-proto", "main", http, {
        path: GET_STATS,
        headers: [proto, ["origin", "https://elsewhere.example"]],
      });
      assert.ok(elsewhere.result.kind === "answer");
      assert.equal(elsewhere.result.answer.headers["access-control-allow-origin"], undefined);
    }
  });
});

Deno.test("gRPC over HTTP/1.1 on the main port: trailers in the chunked body, codes of the fast path", async () => {
  await withInstance(async (s) => {
    const bad = await s.send("grpc", "main", "h1", {
      path: GET_MESSAGE,
      headers: grpc,
      body: envelope(0, UNDECODABLE),
    });
    assert.equal(bad.code, "invalid_argument"); // was internal
    const ok = await s.send("grpc", "main", "h1", {
      path: GET_STATS,
      headers: grpc,
      body: envelope(0, new Uint8Array(0)),
    });
    assert.equal(ok.code, "ok");
    assert.ok(ok.result.kind === "answer");
    assert.equal(ok.result.answer.trailers["grpc-status"], "0");
    assert.ok(ok.result.answer.body.length > 5, "the reply message");
  });
});

Deno.test("JSON ids must be decimal strings or safe integers, on both listeners and every protocol", async () => {
  await withInstance(async (s) => {
    for (const id of ['"0x10"', '" 1"', '"1 "', "9007199254740993"]) {
      const json = `{"channelId":${id},"messageId":"1"}`;
      const json2: [string, string] = ["content-type", "application/json"];
      all(
        await s.everywhere("connect-json", {
          path: GET_MESSAGE,
          headers: [json2],
          body: utf8(json),
        }),
        "invalid_argument",
        `Connect ${id}`,
      );
      all(
        await s.everywhere("connect-get", {
          method: "GET",
          path: `${GET_MESSAGE}?encoding=json&message=${encodeURIComponent(json)}`,
          headers: [],
        }),
        "invalid_argument",
        `GET ${id}`,
      );
      all(
        await s.everywhere("grpc-web", {
          path: GET_MESSAGE,
          headers: [["content-type", "application/grpc-web+json"]],
          body: envelope(0, utf8(json)),
        }),
        "invalid_argument",
        `gRPC-web ${id}`,
      );
    }
    // The known message, by decimal string and by number.
    for (
      const json of ['{"channelId":"7","messageId":"7001"}', '{"channelId":7,"messageId":7001}']
    ) {
      all(
        await s.everywhere("connect-json", {
          path: GET_MESSAGE,
          headers: [["content-type", "application/json"]],
          body: utf8(json),
        }),
        "ok",
        json,
      );
    }
  });
});

/** Resolves with how long until the server closes `conn` (reading and dropping what it sends). */
async function closedAfter(conn: Deno.Conn, ms: number): Promise<number | "still open"> {
  const started = performance.now();
  const buf = new Uint8Array(16 * 1024);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    conn.close();
  }, ms);
  try {
    while ((await conn.read(buf)) !== null) { /* the answer */ }
  } catch { /* closed by the timer */ }
  clearTimeout(timer);
  if (timedOut) return "still open";
  conn.close();
  return performance.now() - started;
}

Deno.test("a unary body that stops coming gets DEADLINE_EXCEEDED after --body-timeout-ms (was: a hang)", async () => {
  await withInstance(async (s) => {
    const json: [string, string] = ["content-type", "application/json"];
    for (const port of ["main", "fast"] as const) {
      // HTTP/1.1: the head announces 100 bytes, 4 come.
      for (
        const [protocol, type] of [["connect-json", "application/json"], [
          "grpc-web",
          "application/grpc-web+proto",
        ]] as const
      ) {
        const raw = utf8(
          `POST ${GET_STATS} HTTP/1.1\r\nhost: t\r\ncontent-type: ${type}\r\ncontent-length: 100\r\n\r\n{"a`,
        );
        const result = await s.raw(port, raw);
        const c: FuzzCase = {
          index: 0,
          family: "",
          protocol,
          port,
          http: "h1",
          method: "POST",
          path: "",
          headers: [],
          body: raw,
        };
        assert.equal(codeOf(c, result), "deadline_exceeded", `${protocol} ${port}/h1`);
        assert.ok(result.kind === "answer" && result.answer.headers["connection"] === "close");
        assert.ok(result.ms < 3000, `${result.ms} ms`);
      }
      // HTTP/2: a head and no body at all; a unary call and a Watch (connect-es).
      const stalled = await s.send("connect-json", port, "h2", {
        path: GET_STATS,
        headers: [json],
        stall: true,
      });
      assert.equal(stalled.code, "deadline_exceeded", `Connect ${port}/h2`);
      const watch = await s.send("grpc-web", port, "h2", {
        path: WATCH,
        headers: grpcWeb,
        stall: true,
      });
      assert.equal(watch.code, "deadline_exceeded", `gRPC-web Watch ${port}/h2`);
    }
    const grpcStalled = await s.send("grpc", "main", "h2", {
      path: GET_STATS,
      headers: grpc,
      stall: true,
    });
    assert.equal(grpcStalled.code, "deadline_exceeded", "gRPC main/h2");
    // The main port also closes the HTTP/1.1 connection (Deno.serve waits for the client to).
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: s.instance.mainPort });
    await conn.write(utf8(
      `POST ${GET_STATS} HTTP/1.1\r\nhost: t\r\ncontent-type: application/json\r\ncontent-length: 9\r\n\r\n{`,
    ));
    const closed = await closedAfter(conn, 3000);
    assert.ok(typeof closed === "number", `main port HTTP/1.1 connection ${closed}`);
  }, ["--body-timeout-ms", "300"]);
});

Deno.test("request heads over 16 KiB get 431 on both listeners (were 200: the fast listener; ~18 KB of small fields on the main port)", async () => {
  const fields = (n: number, size: number) =>
    Array.from({ length: n }, (_, i) => [`x-f${i}`, "v".repeat(size)] as [string, string]);
  const heads: [string, [string, string][], string][] = [
    ["one 20 KB field", [["x-big", "v".repeat(20_000)]], "http:431"],
    ["80 fields of 200 B", fields(80, 200), "http:431"],
    // Deno's node:http let these through (main port, HTTP/1.1); node:http2 refused the stream
    // (over its 128 fields, see one_port.ts); hyper refuses over 100 fields with 400.
    ["600 fields of 20 B", fields(600, 20), "http:431"],
  ];
  const check = async (
    s: Sender,
    port: Port,
    http: HttpVersion,
    [what, headers, want]: typeof heads[number],
  ) => {
    // A session of its own: after one head over the limit, Deno's node:http2 refuses
    // the large heads that follow on the same session (RST_STREAM ENHANCE_YOUR_CALM).
    const fresh = new Sender(s.instance);
    try {
      const r = await fresh.send("http", port, http, {
        path: GET_STATS,
        headers: [["content-type", "application/json"], ...headers],
        body: utf8("{}"),
      });
      const expected = port === "fast" && http === "h1" && headers.length > 100 ? "http:400" : want;
      assert.equal(r.code, expected, `${what}, ${port}/${http}`);
    } finally {
      await fresh.close();
    }
  };
  await withInstance(async (s) => {
    for (const [port, http] of [["main", "h1"], ["fast", "h1"], ["fast", "h2"]] as const) {
      for (const head of heads) await check(s, port, http, head);
    }
  });
  // Deno 2.9.6's node:http2 aborts the process now and then once such a session ends
  // (tests/fuzz/abort_repro.ts measures how often): each head on an instance of its own,
  // where that known abort after the answer was checked is reported, not failed.
  for (const head of heads) await withInstance((s) => check(s, "main", "h2", head), [], true);
});

Deno.test("timeouts longer than a timer can wait are no deadline (were DEADLINE_EXCEEDED at once)", async () => {
  await withInstance(async (s) => {
    const get = envelope(
      0,
      concat(tag(1, 0), new Uint8Array([7]), tag(2, 0), new Uint8Array([0xd9, 0x36])),
    );
    for (const http of ["h1", "h2"] as const) {
      const r = await s.send("grpc", "main", http, {
        path: GET_MESSAGE,
        headers: [...grpc, ["grpc-timeout", "99999999H"]],
        body: get,
      });
      assert.equal(r.code, "ok", `gRPC GetMessage ${http}`);
    }
    all(
      await s.everywhere("connect-json", {
        path: GET_MESSAGE,
        headers: [["content-type", "application/json"], ["connect-timeout-ms", "9999999999"]],
        body: utf8('{"channelId":"7","messageId":"7001"}'),
      }),
      "ok",
      "Connect GetMessage",
    );
  }, ["--store-latency-ms", "20"]); // a call that takes longer than the 1 ms an overflowing timer waits
});

Deno.test("an HTTP/1.x request without Host that reaches connect-es gets 400 (was 500)", async () => {
  await withInstance(async (s) => {
    for (const line of [`POST ${GET_MESSAGE}`, `POST ${GET_MESSAGE} HTTP/1.0`]) {
      const r = await s.raw("main", utf8(`${line}\r\ncontent-length: 0\r\n\r\n`));
      assert.ok(r.kind === "answer", `${line}: ${r.kind}`);
      assert.equal(r.answer.status, 400, line);
    }
  });
});

Deno.test("--no-fast-path serves every call through connect-es (the flag was ignored)", async () => {
  await withInstance(async (s) => {
    const r = await s.send("connect-proto", "main", "h1", {
      path: GET_MESSAGE,
      headers: [proto],
      body: UNDECODABLE,
    });
    assert.ok(r.result.kind === "answer");
    // connect-es's words (and its code: the library path is kept as it is, for comparison).
    const error = JSON.parse(new TextDecoder().decode(r.result.answer.body));
    assert.match(error.message, /^parse binary: /);
  }, ["--no-fast-path"]);
});
