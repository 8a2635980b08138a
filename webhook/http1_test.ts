import { assertEquals, assertMatch } from "../tests/assert.ts";
import { Logger } from "../observability/log.ts";
import { BodyTooLarge, DEFAULT_LIMITS, type Http1Limits, serveHttp1 } from "./http1.ts";

const log = new Logger({ sink: () => {} });

/** A raw client: what it sends is exactly what the test writes. */
class Raw {
  #conn: Deno.Conn;
  #buf = "";
  private constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }
  static async open(port: number): Promise<Raw> {
    return new Raw(await Deno.connect({ hostname: "127.0.0.1", port }));
  }
  async send(text: string | Uint8Array): Promise<void> {
    const bytes = typeof text === "string" ? new TextEncoder().encode(text) : text;
    let off = 0;
    while (off < bytes.length) off += await this.#conn.write(bytes.subarray(off));
  }
  /** Everything until the server closes the connection. */
  async readToEnd(): Promise<string> {
    const chunk = new Uint8Array(65536);
    for (;;) {
      let n: number | null;
      try {
        n = await this.#conn.read(chunk);
      } catch {
        n = null;
      }
      if (n === null) return this.#buf;
      this.#buf += new TextDecoder().decode(chunk.subarray(0, n));
    }
  }
  /** One response with a Content-Length body. */
  async readResponse(): Promise<{ status: number; body: string; head: string }> {
    const chunk = new Uint8Array(65536);
    for (;;) {
      const end = this.#buf.indexOf("\r\n\r\n");
      if (end >= 0) {
        const head = this.#buf.slice(0, end);
        const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
        if (this.#buf.length >= end + 4 + length) {
          const body = this.#buf.slice(end + 4, end + 4 + length);
          this.#buf = this.#buf.slice(end + 4 + length);
          return { status: Number(head.split(" ")[1]), body, head };
        }
      }
      const n = await this.#conn.read(chunk);
      if (n === null) throw new Error(`closed; had: ${this.#buf}`);
      this.#buf += new TextDecoder().decode(chunk.subarray(0, n));
    }
  }
  close(): void {
    try {
      this.#conn.close();
    } catch { /* closed */ }
  }
}

async function withServer(
  limits: Partial<Http1Limits>,
  handler: (req: Request) => Promise<Response>,
  run: (port: number, shutdown: () => Promise<void>) => Promise<void>,
): Promise<void> {
  const server = serveHttp1({
    hostname: "127.0.0.1",
    port: 0,
    handler,
    limits: { ...DEFAULT_LIMITS, ...limits },
    log,
  });
  try {
    await run(server.port, () => server.shutdown());
  } finally {
    await server.shutdown();
  }
}

/** Reads a body, answering 413 past the limit as the webhook does. */
async function echo(req: Request): Promise<Response> {
  try {
    const text = await req.text();
    return new Response(`${req.method} ${new URL(req.url).pathname} ${text.length}`);
  } catch (e) {
    if (e instanceof BodyTooLarge) return new Response("too large", { status: 413 });
    throw e;
  }
}

Deno.test("http1: requests on one kept-alive connection, Content-Length and chunked bodies", async () => {
  await withServer({}, echo, async (port) => {
    const c = await Raw.open(port);
    await c.send("POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
    assertEquals((await c.readResponse()).body, "POST /a 5");
    await c.send(
      "POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n4;x=y\r\ndefg\r\n0\r\n\r\n",
    );
    assertEquals((await c.readResponse()).body, "POST /b 7");
    await c.send("GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    const last = await c.readResponse();
    assertEquals(last.body, "GET /c 0");
    assertMatch(last.head, /connection: close/);
    c.close();
  });
});

Deno.test("http1: a declared body over the limit is 413 before it is sent", async () => {
  let called = 0;
  await withServer({ maxBodyBytes: 1000 }, (req) => {
    called++;
    return echo(req);
  }, async (port) => {
    const c = await Raw.open(port);
    // Only the head: the answer must come without the body.
    await c.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n");
    const all = await c.readToEnd();
    assertMatch(all, /^HTTP\/1.1 413 /);
    assertEquals(called, 0);
    c.close();
  });
});

Deno.test("http1: a chunked body stops at the limit with BodyTooLarge", async () => {
  await withServer({ maxBodyBytes: 1000 }, echo, async (port) => {
    const c = await Raw.open(port);
    await c.send("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
    // Chunks of 600 bytes, more than the limit allows, never a last chunk.
    await c.send(`258\r\n${"a".repeat(600)}\r\n`);
    await c.send(`258\r\n${"a".repeat(600)}\r\n`);
    const all = await c.readToEnd();
    assertMatch(all, /^HTTP\/1.1 413 /);
    c.close();
  });
});

Deno.test("http1: malformed framing is refused, not guessed", async () => {
  await withServer({}, echo, async (port) => {
    for (
      const [head, status] of [
        ["POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400],
        ["POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501],
        ["POST / HTTP/1.1\r\nContent-Length: 1, 2\r\n\r\n", 400],
        ["POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400],
        ["BAD\r\n\r\n", 400],
        ["GET / HTTP/2.0\r\n\r\n", 505],
        [`GET / HTTP/1.1\r\nX: ${"a".repeat(20_000)}\r\n\r\n`, 431],
      ] as const
    ) {
      const c = await Raw.open(port);
      await c.send(head);
      assertMatch(await c.readToEnd(), new RegExp(`^HTTP/1.1 ${status} `), head.slice(0, 40));
      c.close();
    }
  });
});

Deno.test("http1: a head not finished in time and an idle connection are closed", async () => {
  await withServer({ headerTimeoutMs: 200, idleTimeoutMs: 200 }, echo, async (port) => {
    const slow = await Raw.open(port);
    await slow.send("GET / HTTP/1.1\r\nHost: x\r\n");
    // The server ends it: reading to the end returns instead of waiting forever.
    assertEquals(await slow.readToEnd(), "");
    const silent = await Raw.open(port);
    assertEquals(await silent.readToEnd(), "");
    const kept = await Raw.open(port);
    await kept.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assertEquals((await kept.readResponse()).status, 200);
    assertEquals(await kept.readToEnd(), "");
  });
});

Deno.test("http1: connections over the cap are answered 503 and closed", async () => {
  await withServer({ maxConnections: 2 }, echo, async (port) => {
    const a = await Raw.open(port);
    const b = await Raw.open(port);
    await a.send("GET / HTTP/1.1\r\n\r\n");
    await b.send("GET / HTTP/1.1\r\n\r\n");
    await a.readResponse();
    await b.readResponse();
    const c = await Raw.open(port);
    assertMatch(await c.readToEnd(), /^HTTP\/1.1 503 .*\r\n[\s\S]*too many connections/);
    a.close();
    b.close();
    c.close();
  });
});

Deno.test("http1: the request's signal aborts when the client goes away", async () => {
  const aborted = Promise.withResolvers<string>();
  await withServer({}, async (req) => {
    await req.text();
    const done = () => aborted.resolve(String(req.signal.reason));
    if (req.signal.aborted) done();
    req.signal.addEventListener("abort", done);
    await aborted.promise;
    return new Response("late");
  }, async (port) => {
    const c = await Raw.open(port);
    await c.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi");
    c.close();
    assertMatch(await aborted.promise, /client closed the connection/);
  });
});

Deno.test("http1: shutdown closes idle connections and aborts work past the grace", async () => {
  const started = Promise.withResolvers<void>();
  let reason = "";
  await withServer({ shutdownGraceMs: 100 }, async (req) => {
    await req.text();
    started.resolve();
    await new Promise((resolve) => req.signal.addEventListener("abort", resolve));
    reason = String(req.signal.reason);
    return new Response("cancelled", { status: 503 });
  }, async (port, shutdown) => {
    const idle = await Raw.open(port);
    const busy = await Raw.open(port);
    await busy.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi");
    await started.promise;
    await shutdown();
    assertMatch(reason, /shutting down/);
    assertMatch(await busy.readToEnd(), /^HTTP\/1.1 503 [\s\S]*connection: close/);
    assertEquals(await idle.readToEnd(), "");
    const refused = await Deno.connect({ hostname: "127.0.0.1", port }).then(
      (conn) => (conn.close(), "connected"),
      () => "refused",
    );
    assertEquals(refused, "refused");
  });
});
