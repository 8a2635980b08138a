/**
 * The wire side of http1.ts: the connection's read buffer, the request
 * head parser and body framing, the status texts. Pure but for the socket
 * reads of {@link ConnReader}.
 *
 * @module
 */

/** The end of a request head. */
export const CRLF2 = new TextEncoder().encode("\r\n\r\n");
export const ENCODER = new TextEncoder();
export const DECODER = new TextDecoder();

/** Reason phrases of the statuses the server sends. */
export const REASONS: Record<number, string> = {
  100: "Continue",
  200: "OK",
  204: "No Content",
  400: "Bad Request",
  404: "Not Found",
  405: "Method Not Allowed",
  406: "Not Acceptable",
  408: "Request Timeout",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  503: "Service Unavailable",
  505: "HTTP Version Not Supported",
};

/** Where `needle` starts in `haystack`, or -1. */
export function indexOf(haystack: Uint8Array, needle: Uint8Array, from = 0): number {
  outer: for (let i = from; i <= haystack.length - needle.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/** An answer the server gives itself, before or instead of the handler. */
export class Refusal extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** One connection's bytes: a buffer in front of the socket, with one read at a time. */
export class ConnReader {
  buf: Uint8Array = new Uint8Array(0);
  #reading?: Promise<boolean>;
  #eof = false;
  constructor(private readonly conn: Deno.Conn) {}

  get eof(): boolean {
    return this.#eof && this.buf.length === 0;
  }

  /** Reads more into `buf`; false at end of stream. Concurrent callers share one read. */
  fill(): Promise<boolean> {
    if (this.#eof) return Promise.resolve(false);
    this.#reading ??= (async () => {
      const chunk = new Uint8Array(64 * 1024);
      try {
        const n = await this.conn.read(chunk);
        if (n === null) {
          this.#eof = true;
          return false;
        }
        const next = new Uint8Array(this.buf.length + n);
        next.set(this.buf);
        next.set(chunk.subarray(0, n), this.buf.length);
        this.buf = next;
        return true;
      } catch {
        this.#eof = true;
        return false;
      } finally {
        this.#reading = undefined;
      }
    })();
    return this.#reading;
  }

  take(n: number): Uint8Array {
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }
}

/** A parsed request head. */
export interface Head {
  method: string;
  target: string;
  version: string;
  headers: Headers;
}

/** Parses a request head (without its final blank line); a Refusal when malformed. */
export function parseHead(bytes: Uint8Array): Head {
  const lines = DECODER.decode(bytes).split("\r\n");
  const m = /^([A-Z]+) (\S+) (HTTP\/1\.[01])$/.exec(lines[0]);
  if (!m) {
    if (/^[A-Z]+ \S+ HTTP\/\d/.test(lines[0])) throw new Refusal(505, "only HTTP/1.x is served");
    throw new Refusal(400, "malformed request line");
  }
  const headers = new Headers();
  for (const line of lines.slice(1)) {
    const i = line.indexOf(":");
    if (i <= 0 || /\s/.test(line.slice(0, i))) throw new Refusal(400, "malformed header line");
    try {
      headers.append(line.slice(0, i), line.slice(i + 1).trim());
    } catch {
      throw new Refusal(400, "malformed header line");
    }
  }
  return { method: m[1], target: m[2], version: m[3], headers };
}

/** How the body is framed: a length, chunked, or none. */
export function bodyFraming(head: Head, limit: number): { length: number } | "chunked" {
  const te = head.headers.get("transfer-encoding");
  const cl = head.headers.get("content-length");
  if (te !== null) {
    if (cl !== null) throw new Refusal(400, "both Transfer-Encoding and Content-Length");
    if (te.trim().toLowerCase() !== "chunked") {
      throw new Refusal(501, `Transfer-Encoding ${te} is not supported`);
    }
    return "chunked";
  }
  if (cl === null) return { length: 0 };
  const values = new Set(cl.split(",").map((v) => v.trim()));
  const [only] = values;
  if (values.size !== 1 || !/^\d{1,15}$/.test(only)) {
    throw new Refusal(400, "bad Content-Length");
  }
  const length = Number(only);
  if (length > limit) throw new Refusal(413, `request body larger than ${limit} bytes`);
  return { length };
}
