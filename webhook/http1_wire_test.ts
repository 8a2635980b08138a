import { assertEquals, assertThrows } from "../tests/assert.ts";
import { bodyFraming, indexOf, parseHead, Refusal } from "./http1_wire.ts";

const head = (text: string) => parseHead(new TextEncoder().encode(text));

Deno.test("parseHead: request line and headers; malformed input is a Refusal with its status", () => {
  const h = head("POST /records?x=1 HTTP/1.1\r\nHost: a\r\nX-Two: 1\r\nx-two: 2");
  assertEquals([h.method, h.target, h.version], ["POST", "/records?x=1", "HTTP/1.1"]);
  assertEquals(h.headers.get("x-two"), "1, 2");
  for (
    const [text, status] of [
      ["GET / HTTP/3", 505],
      ["get / HTTP/1.1", 400],
      ["GET / HTTP/1.1\r\nNo colon", 400],
      ["GET / HTTP/1.1\r\nBad Name: x", 400],
      ["GET / HTTP/1.1\r\nX: a\u0000b", 400],
    ] as const
  ) {
    const e = assertThrows(() => head(text));
    assertEquals(e instanceof Refusal && e.status, status, text);
  }
});

Deno.test("bodyFraming: length, chunked or none; ambiguity and excess refused", () => {
  const frame = (headers: string, limit = 100) =>
    bodyFraming(head(`POST / HTTP/1.1${headers ? `\r\n${headers}` : ""}`), limit);
  assertEquals(frame(""), { length: 0 });
  assertEquals(frame("Content-Length: 10"), { length: 10 });
  assertEquals(frame("Content-Length: 10\r\nContent-Length: 10"), { length: 10 });
  assertEquals(frame("Transfer-Encoding: Chunked"), "chunked");
  for (
    const [headers, status] of [
      ["Content-Length: 101", 413],
      ["Content-Length: 1\r\nContent-Length: 2", 400],
      ["Content-Length: 0x10", 400],
      ["Transfer-Encoding: chunked\r\nContent-Length: 1", 400],
      ["Transfer-Encoding: gzip, chunked", 501],
    ] as const
  ) {
    const e = assertThrows(() => frame(headers));
    assertEquals(e instanceof Refusal && e.status, status, headers);
  }
});

Deno.test("indexOf finds a byte sequence", () => {
  const bytes = new TextEncoder().encode("ab\r\n\r\ncd");
  assertEquals(indexOf(bytes, new TextEncoder().encode("\r\n\r\n")), 2);
  assertEquals(indexOf(bytes, new TextEncoder().encode("zz")), -1);
});
