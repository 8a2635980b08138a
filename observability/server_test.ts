import { Registry } from "prom-client";
import { assertEquals, assertMatch } from "../tests/assert.ts";
import { Logger } from "./log.ts";
import { startHttp } from "./server.ts";

Deno.test("metrics and probes answer GET and HEAD only; anything else is 405", async () => {
  const [listener] = startHttp({
    metricsAddress: "127.0.0.1:0",
    probeAddress: "127.0.0.1:0",
    registry: new Registry(),
    health: { live: () => true, ready: () => ({ ok: true, reason: "test" }) },
    log: new Logger({ sink: () => {} }),
  });
  const base = `http://127.0.0.1:${listener.port}`;
  try {
    for (const path of ["/healthz", "/readyz", "/metrics"]) {
      const get = await fetch(`${base}${path}`);
      assertEquals(get.status, 200, path);
      await get.body?.cancel();
      const head = await fetch(`${base}${path}`, { method: "HEAD" });
      assertEquals([head.status, await head.text()], [200, ""], path);
      for (const method of ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"]) {
        const res = await fetch(`${base}${path}`, { method, body: method === "POST" ? "x" : null });
        assertEquals(res.status, 405, `${method} ${path}`);
        assertEquals(res.headers.get("allow"), "GET, HEAD");
        await res.body?.cancel();
      }
    }
    // fetch refuses TRACE; a raw request shows the server does too.
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: listener.port });
    await conn.write(new TextEncoder().encode("TRACE /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
    const buf = new Uint8Array(4096);
    const n = await conn.read(buf);
    conn.close();
    assertMatch(new TextDecoder().decode(buf.subarray(0, n ?? 0)), /^HTTP\/1.1 405 /);
  } finally {
    await listener.shutdown();
  }
});
