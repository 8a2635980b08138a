/**
 * The webhook against a client that does not play by the rules, across the
 * process boundary (the operator process, a real router-hosts server or the
 * emulator): bodies over the limit with and without Content-Length, a slow
 * request head, more connections than the cap, a client that goes away in
 * the middle of a large POST, and SIGTERM during one.
 */
import { assertEquals, assertMatch, assertOk } from "../assert.ts";
import { freePort } from "../testbed/mod.ts";
import { eventually } from "../testbed/operator.ts";
import { bedTest } from "../testbed/bed.ts";
import { metricSum } from "../testbed/prometheus.ts";

const MEDIA_TYPE = "application/external.dns.webhook+json;version=1";
const ENC = new TextEncoder();

/** A raw connection: the test decides every byte sent. */
class Raw {
  readonly conn: Deno.Conn;
  #text = "";
  #ended = false;
  #reading: Promise<void>;
  constructor(conn: Deno.Conn) {
    this.conn = conn;
    this.#reading = this.#read();
  }
  static async open(port: number): Promise<Raw> {
    return new Raw(await Deno.connect({ hostname: "127.0.0.1", port }));
  }
  async #read(): Promise<void> {
    const buf = new Uint8Array(65536);
    try {
      for (;;) {
        const n = await this.conn.read(buf);
        if (n === null) break;
        this.#text += new TextDecoder().decode(buf.subarray(0, n));
      }
    } catch { /* reset: ended too */ }
    this.#ended = true;
  }
  /** What the server sent so far. */
  get text(): string {
    return this.#text;
  }
  /** True once the server closed the connection. */
  get ended(): boolean {
    return this.#ended;
  }
  /** Resolves when the server has closed the connection. */
  closed(): Promise<void> {
    return this.#reading;
  }
  /** Writes; false once the server no longer takes bytes. */
  async send(bytes: Uint8Array | string): Promise<boolean> {
    const data = typeof bytes === "string" ? ENC.encode(bytes) : bytes;
    try {
      let off = 0;
      while (off < data.length) off += await this.conn.write(data.subarray(off));
      return true;
    } catch {
      return false;
    }
  }
  close(): void {
    try {
      this.conn.close();
    } catch { /* closed */ }
  }
}

/** `plan.Changes` creating `n` names under `prefix`. */
function creates(prefix: string, n: number): string {
  return JSON.stringify({
    create: Array.from({ length: n }, (_, i) => ({
      dnsName: `${prefix}${i}.home.arpa`,
      recordType: "A",
      targets: [`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`],
    })),
  });
}

function post(path: string, body: string, length = ENC.encode(body).length): string {
  return `POST ${path} HTTP/1.1\r\nHost: webhook\r\nContent-Type: ${MEDIA_TYPE}\r\n` +
    `Content-Length: ${length}\r\n\r\n${body}`;
}

bedTest(
  { name: "webhook limits: body, slow head, connection cap, client gone, SIGTERM" },
  async ({ bed, ops, t }) => {
    const port = freePort();
    const op = await ops.start({
      args: [`--webhook-bind-address=127.0.0.1:${port}`, "--domain-filter=home.arpa"],
    });
    const created = async (outcome = "success") =>
      metricSum(
        await op.metrics(),
        "router_hosts_webhook_changes_total",
        'action="create"',
        `outcome="${outcome}"`,
      );

    await t.step("a declared 100 MB body is 413 before any of it is sent", async () => {
      const c = await Raw.open(port);
      await c.send(post("/records", "", 100_000_000));
      await c.closed();
      assertMatch(c.text, /^HTTP\/1.1 413 [^\r]*\r\n[\s\S]*larger than 1048576 bytes/);
      assertEquals(await op.probe("/healthz"), 200);
    });

    await t.step("a chunked body is cut at the limit, never read to its end", async () => {
      const c = await Raw.open(port);
      await c.send(
        `POST /adjustendpoints HTTP/1.1\r\nHost: webhook\r\nContent-Type: ${MEDIA_TYPE}\r\n` +
          "Transfer-Encoding: chunked\r\n\r\n",
      );
      const chunk = ENC.encode(`10000\r\n${" ".repeat(0x10000)}\r\n`);
      let sent = 0;
      // Up to 100 MB; the server answers and closes long before.
      while (sent < 100_000_000 && !c.ended && await c.send(chunk)) sent += chunk.length;
      await c.closed();
      assertMatch(c.text, /^HTTP\/1.1 413 /);
      assertOk(sent < 100_000_000, `the whole 100 MB was taken (${sent} bytes)`);
    });

    await t.step(
      "a head sent one byte at a time is cut off; a silent connection too",
      async () => {
        const slow = await Raw.open(port);
        const silent = await Raw.open(port);
        const head = `GET /records HTTP/1.1\r\nHost: webhook\r\nAccept: ${MEDIA_TYPE}\r\n`;
        let i = 0;
        // One byte every 0.5 s, for at most 80 s: the server's header timeout ends it first.
        while (!slow.ended && i < 160) {
          await slow.send(head[i % head.length]);
          i++;
          await Promise.race([slow.closed(), new Promise((r) => setTimeout(r, 500))]);
        }
        assertOk(slow.ended, "the slow head was still being read after 80 s");
        await silent.closed();
        assertEquals(silent.text, "");
      },
    );

    await t.step("connections over the cap are answered 503 and closed", async () => {
      const conns = await Promise.all(Array.from({ length: 40 }, () => Raw.open(port)));
      await eventually(
        "8 connections refused",
        () => conns.filter((c) => c.ended && /^HTTP\/1.1 503 /.test(c.text)).length >= 8,
      );
      // The ones let in are closed too when they send nothing.
      await Promise.all(conns.map((c) => c.closed()));
      assertEquals(await op.probe("/healthz"), 200);
    });

    await t.step(
      "a client that goes away mid-POST: the rest of its writes are cancelled",
      async () => {
        const before = await created();
        const c = await Raw.open(port);
        await c.send(post("/records", creates("gone", 5000)));
        await eventually("the first writes", async () => (await created()) > before);
        c.close();
        const line = await eventually(
          "the request's log line",
          () =>
            op.logs().find((l) =>
              l.msg === "external-dns webhook request" && Number(l.create) === 5000
            ),
        );
        assertOk(Number(line.cancelled) > 0, `nothing cancelled: ${JSON.stringify(line)}`);
        assertEquals(Number(line.writes) + Number(line.cancelled), 5000);
        const written = (await bed.hosts.listHosts()).filter((e) => e.hostname.startsWith("gone"));
        assertEquals(written.length, Number(line.writes));
      },
    );

    await t.step(
      "SIGTERM during a 10,000-endpoint POST: the process exits inside 30 s",
      async () => {
        const before = await created();
        const c = await Raw.open(port);
        await c.send(post("/records", creates("term", 10_000)));
        await eventually("the first writes", async () => (await created()) > before);
        op.process.signal("SIGTERM");
        const exited = await Promise.race([
          op.process.status.then((s) => s.code),
          new Promise<string>((r) => setTimeout(() => r("still running"), 30_000)),
        ]);
        assertEquals(exited, 0);
        // The webhook answered (503: external-dns retries) before it went away.
        await c.closed();
        assertMatch(c.text, /^HTTP\/1.1 503 [\s\S]*not started/);
        const written = (await bed.hosts.listHosts()).filter((e) => e.hostname.startsWith("term"));
        assertOk(written.length < 10_000, "every write was made: nothing was cancelled");
      },
    );
  },
);
