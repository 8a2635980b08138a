/**
 * A small HTTP/1.1 server over `Deno.listen`, for the webhook: the limits
 * an API reachable by other processes needs, which neither `Deno.serve` nor
 * Deno's `node:http` offers (measured on Deno 2.9.6: no header or idle
 * timeout in either; `headersTimeout` is accepted by `node:http` and
 * ignored). ADR 0014 has the reasoning.
 *
 * - a cap on open connections: one more is answered 503 and closed;
 * - the request head within `headerTimeoutMs` and `maxHeaderBytes` (431);
 *   a kept-alive connection idle for `idleTimeoutMs` is closed;
 * - a body by Content-Length or chunked, read as a stream, never past
 *   `maxBodyBytes`: a declared larger one is 413 unread, a chunked one
 *   errors with {@link BodyTooLarge} at the limit; the whole body within
 *   `bodyTimeoutMs`;
 * - `request.signal` aborts when the client goes away, at the request's
 *   deadline (`requestTimeoutMs`) and at shutdown, so the handler stops
 *   its remaining work;
 * - the response written within `writeTimeoutMs`;
 * - shutdown stops accepting, closes idle connections, lets in-flight
 *   requests finish for `shutdownGraceMs`, then aborts them.
 *
 * Requests are answered one at a time per connection, in order.
 *
 * @module
 */
import type { Logger } from "../observability/log.ts";
import {
  bodyFraming,
  ConnReader,
  CRLF2,
  DECODER,
  ENCODER,
  type Head,
  indexOf,
  parseHead,
  REASONS,
  Refusal,
} from "./http1_wire.ts";

/** The limits of {@link serveHttp1}. */
export interface Http1Limits {
  maxConnections: number;
  maxHeaderBytes: number;
  maxBodyBytes: number;
  headerTimeoutMs: number;
  idleTimeoutMs: number;
  bodyTimeoutMs: number;
  requestTimeoutMs: number;
  writeTimeoutMs: number;
  shutdownGraceMs: number;
}

/** Defaults: generous for external-dns (a few connections, bodies well under 1 MiB). */
export const DEFAULT_LIMITS: Http1Limits = {
  maxConnections: 32,
  maxHeaderBytes: 16 * 1024,
  maxBodyBytes: 1024 * 1024,
  headerTimeoutMs: 10_000,
  idleTimeoutMs: 60_000,
  bodyTimeoutMs: 30_000,
  requestTimeoutMs: 60_000,
  writeTimeoutMs: 10_000,
  shutdownGraceMs: 5_000,
};

/** The body grew past `maxBodyBytes` while being read; answer 413. */
export class BodyTooLarge extends Error {
  constructor(readonly limit: number) {
    super(`request body larger than ${limit} bytes`);
    this.name = "BodyTooLarge";
  }
}

/** A running server. */
export interface Http1Server {
  port: number;
  /** Stops accepting, drains (see the module doc) and resolves when every connection is closed. */
  shutdown(): Promise<void>;
}

/** Options of {@link serveHttp1}. */
export interface Http1Options {
  hostname: string;
  port: number;
  handler: (req: Request) => Promise<Response>;
  limits: Http1Limits;
  log: Logger;
}

interface Connection {
  conn: Deno.Conn;
  /** True while no request is being handled. */
  idle: boolean;
  abort?: AbortController;
}

/** Starts the server; see the module doc for what it enforces. */
export function serveHttp1(options: Http1Options): Http1Server {
  const { limits, log, handler } = options;
  const listener = Deno.listen({ hostname: options.hostname, port: options.port });
  const port = (listener.addr as Deno.NetAddr).port;
  const open = new Set<Connection>();
  const finished = new Set<Promise<void>>();
  let draining = false;

  const close = (c: Connection) => {
    try {
      c.conn.close();
    } catch { /* already closed */ }
  };

  const writeAll = async (c: Connection, bytes: Uint8Array) => {
    const timer = setTimeout(() => close(c), limits.writeTimeoutMs);
    try {
      let off = 0;
      while (off < bytes.length) off += await c.conn.write(bytes.subarray(off));
    } finally {
      clearTimeout(timer);
    }
  };

  const respond = async (c: Connection, res: Response, keepAlive: boolean, head?: Head) => {
    const body = head?.method === "HEAD" || res.status === 204 || res.status === 304
      ? new Uint8Array(0)
      : new Uint8Array(await res.arrayBuffer());
    let text = `HTTP/1.1 ${res.status} ${REASONS[res.status] ?? "Status"}\r\n`;
    for (const [k, v] of res.headers) {
      if (k !== "content-length" && k !== "connection") text += `${k}: ${v}\r\n`;
    }
    if (res.status !== 204 && res.status !== 304) text += `content-length: ${body.length}\r\n`;
    text += `connection: ${keepAlive ? "keep-alive" : "close"}\r\n\r\n`;
    await writeAll(c, ENCODER.encode(text));
    if (body.length > 0) await writeAll(c, body);
  };

  const refuse = (c: Connection, status: number, message: string) =>
    respond(c, new Response(`${message}\n`, { status }), false).catch(() => {});

  /** Reads a request head; undefined when the client closed between requests. */
  const readHead = async (c: Connection, reader: ConnReader, first: boolean) => {
    let timer = setTimeout(() => close(c), first ? limits.headerTimeoutMs : limits.idleTimeoutMs);
    try {
      if (reader.buf.length === 0 && !(await reader.fill())) return undefined;
      if (!first) {
        clearTimeout(timer);
        timer = setTimeout(() => close(c), limits.headerTimeoutMs);
      }
      for (;;) {
        const end = indexOf(reader.buf, CRLF2, 0);
        if (end >= 0) {
          if (end > limits.maxHeaderBytes) throw new Refusal(431, "request head too large");
          const bytes = reader.take(end + 4);
          return parseHead(bytes.subarray(0, end));
        }
        if (reader.buf.length > limits.maxHeaderBytes) {
          throw new Refusal(431, "request head too large");
        }
        if (!(await reader.fill())) {
          if (draining) return undefined;
          throw new Refusal(408, "request head not received in time");
        }
      }
    } finally {
      clearTimeout(timer);
    }
  };

  /** The body as a stream that stops at the limit; `done` resolves once it was read to its end. */
  const bodyStream = (
    c: Connection,
    reader: ConnReader,
    framing: { length: number } | "chunked",
    onDone: () => void,
  ): { stream: ReadableStream<Uint8Array> | null; dispose: () => void } => {
    if (framing !== "chunked" && framing.length === 0) {
      onDone();
      return { stream: null, dispose: () => {} };
    }
    const timer = setTimeout(() => close(c), limits.bodyTimeoutMs);
    let remaining = framing === "chunked" ? 0 : framing.length;
    let total = 0;
    let chunkedDone = false;
    const need = async (n: number) => {
      while (reader.buf.length < n) {
        if (!(await reader.fill())) throw new Error("client closed the connection mid-body");
      }
    };
    const line = async () => {
      for (;;) {
        const i = indexOf(reader.buf, CRLF2.subarray(0, 2));
        if (i >= 0) return DECODER.decode(reader.take(i + 2).subarray(0, i));
        if (reader.buf.length > 4096) throw new Error("malformed chunk");
        await need(reader.buf.length + 1);
      }
    };
    const finish = (controller: ReadableStreamDefaultController<Uint8Array>) => {
      clearTimeout(timer);
      controller.close();
      onDone();
    };
    const stream = new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        try {
          if (framing !== "chunked") {
            if (remaining === 0) return finish(controller);
            if (reader.buf.length === 0) await need(1);
            const piece = reader.take(Math.min(remaining, reader.buf.length));
            remaining -= piece.length;
            controller.enqueue(piece.slice());
            if (remaining === 0) finish(controller);
            return;
          }
          if (remaining === 0) {
            if (chunkedDone) return finish(controller);
            const size = (await line()).split(";")[0].trim();
            if (!/^[0-9a-fA-F]{1,8}$/.test(size)) throw new Error("malformed chunk size");
            remaining = parseInt(size, 16);
            if (remaining === 0) {
              while ((await line()) !== "") { /* trailers, ignored */ }
              chunkedDone = true;
              return finish(controller);
            }
            total += remaining;
            if (total > limits.maxBodyBytes) throw new BodyTooLarge(limits.maxBodyBytes);
          }
          if (reader.buf.length === 0) await need(1);
          const piece = reader.take(Math.min(remaining, reader.buf.length));
          remaining -= piece.length;
          controller.enqueue(piece.slice());
          if (remaining === 0) {
            await need(2);
            reader.take(2);
          }
        } catch (e) {
          clearTimeout(timer);
          controller.error(e);
        }
      },
      cancel: () => clearTimeout(timer),
    });
    return { stream, dispose: () => clearTimeout(timer) };
  };

  const serveConnection = async (c: Connection) => {
    const reader = new ConnReader(c.conn);
    let first = true;
    try {
      while (!draining) {
        c.idle = true;
        let head: Head | undefined;
        try {
          head = await readHead(c, reader, first);
        } catch (e) {
          if (e instanceof Refusal) await refuse(c, e.status, e.message);
          return;
        }
        if (head === undefined) return;
        first = false;
        c.idle = false;
        let framing: { length: number } | "chunked";
        try {
          framing = bodyFraming(head, limits.maxBodyBytes);
        } catch (e) {
          if (e instanceof Refusal) await refuse(c, e.status, e.message);
          return;
        }
        if (head.headers.get("expect")?.toLowerCase() === "100-continue") {
          await writeAll(c, ENCODER.encode("HTTP/1.1 100 Continue\r\n\r\n"));
        }
        const abort = new AbortController();
        c.abort = abort;
        let bodyRead = false;
        // Once the body is in, a read that ends means the client went away.
        const watch = () => {
          bodyRead = true;
          reader.fill().then((more) => {
            if (!more) abort.abort(new Error("the client closed the connection"));
          });
        };
        const body = bodyStream(c, reader, framing, watch);
        const deadline = setTimeout(
          () => abort.abort(new Error(`request deadline of ${limits.requestTimeoutMs} ms`)),
          limits.requestTimeoutMs,
        );
        const hostHeader = head.headers.get("host") ?? `localhost:${port}`;
        let res: Response;
        try {
          const req = new Request(`http://${hostHeader}${head.target}`, {
            method: head.method,
            headers: head.headers,
            body: body.stream,
            signal: abort.signal,
            // @ts-ignore: `duplex` is required by fetch for a stream body; lib.dom lacks it.
            duplex: "half",
          });
          res = await handler(req);
        } catch (e) {
          res = new Response(`${(e as Error).message}\n`, {
            status: e instanceof TypeError ? 400 : 500,
          });
        } finally {
          clearTimeout(deadline);
          body.dispose();
          c.abort = undefined;
        }
        const keepAlive = bodyRead && !draining && head.version === "HTTP/1.1" &&
          head.headers.get("connection")?.toLowerCase() !== "close" && !abort.signal.aborted;
        await respond(c, res, keepAlive, head);
        if (!keepAlive) return;
      }
    } catch (e) {
      log.debug("webhook connection ended", { error: (e as Error).message });
    } finally {
      open.delete(c);
      close(c);
    }
  };

  const accept = async () => {
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch {
        return;
      }
      const c: Connection = { conn, idle: true };
      if (open.size >= limits.maxConnections || draining) {
        const refused = refuse(c, 503, "too many connections").finally(() => close(c));
        finished.add(refused);
        refused.finally(() => finished.delete(refused));
        continue;
      }
      open.add(c);
      const done = serveConnection(c);
      finished.add(done);
      done.finally(() => finished.delete(done));
    }
  };
  const accepting = accept();

  let stopped: Promise<void> | undefined;
  const shutdown = async () => {
    draining = true;
    try {
      listener.close();
    } catch { /* already closed */ }
    await accepting;
    for (const c of open) if (c.idle) close(c);
    const settled = async (ms: number) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        Promise.allSettled([...finished]),
        new Promise<void>((resolve) => timer = setTimeout(resolve, ms)),
      ]);
      clearTimeout(timer);
    };
    await settled(limits.shutdownGraceMs);
    for (const c of open) c.abort?.abort(new Error("the webhook is shutting down"));
    await settled(limits.shutdownGraceMs);
    for (const c of open) close(c);
    await Promise.allSettled([...finished]);
  };
  return { port, shutdown: () => stopped ??= shutdown() };
}
