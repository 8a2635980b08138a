/**
 * The HTTP endpoints: `/metrics` (Prometheus text) on the metrics address,
 * `/healthz` and `/readyz` on the probe address. One listener serves both
 * when the addresses are equal. Only GET and HEAD are answered; other
 * methods are 405.
 *
 * @module
 */
import type { Registry } from "prom-client";
import type { Logger } from "./log.ts";

/** What the probes report. */
export interface Health {
  /** The process is alive and its event loop turns. */
  live(): boolean;
  /** Caches are synced and the manager runs (a standby replica counts as ready). */
  ready(): { ok: boolean; reason: string };
}

/** Splits a Go-style bind address (":8080", "127.0.0.1:8080", "[::1]:8080"). */
export function parseBindAddress(address: string): { hostname: string; port: number } {
  const m = /^(?:\[([^\]]*)\]|([^:]*)):(\d+)$/.exec(address);
  if (!m) throw new Error(`bad bind address "${address}"`);
  const host = m[1] ?? m[2] ?? "";
  return { hostname: host === "" ? "0.0.0.0" : host, port: Number(m[3]) };
}

/**
 * The endpoints only read: anything but GET and HEAD is 405 (a scanner's
 * POST or TRACE learns nothing and changes nothing), undefined otherwise.
 */
export function readOnly(method: string): Response | undefined {
  if (method === "GET" || method === "HEAD") return undefined;
  return new Response(`method ${method.slice(0, 20)} not allowed\n`, {
    status: 405,
    headers: { allow: "GET, HEAD" },
  });
}

/** A running listener. */
export interface Listener {
  /** The bound port (useful with port 0). */
  port: number;
  shutdown(): Promise<void>;
}

/** Starts the listeners; returns them so shutdown can close them. */
export function startHttp(options: {
  metricsAddress?: string;
  probeAddress?: string;
  registry: Registry;
  health: Health;
  log: Logger;
}): Listener[] {
  const { registry, health, log } = options;
  const metrics = async (): Promise<Response> =>
    new Response(await registry.metrics(), {
      headers: { "content-type": registry.contentType },
    });
  const probe = (path: string): Response | undefined => {
    if (path === "/healthz" || path === "/livez") {
      return health.live() ? new Response("ok\n") : new Response("not alive\n", { status: 500 });
    }
    if (path === "/readyz") {
      const r = health.ready();
      return new Response(`${r.ok ? "ok" : "not ready"}: ${r.reason}\n`, {
        status: r.ok ? 200 : 503,
      });
    }
    return undefined;
  };
  const servers: Listener[] = [];
  const serve = (address: string, handler: (path: string) => Promise<Response> | Response) => {
    const { hostname, port } = parseBindAddress(address);
    const server = Deno.serve(
      { hostname, port, onListen: () => {} },
      (req) => readOnly(req.method) ?? handler(new URL(req.url).pathname),
    );
    servers.push({ port: server.addr.port, shutdown: () => server.shutdown() });
    log.info("listening", { address, port: server.addr.port });
  };
  const notFound = () => new Response("not found\n", { status: 404 });
  const { metricsAddress: m, probeAddress: p } = options;
  if (m && p && m === p) {
    serve(m, (path) => path === "/metrics" ? metrics() : probe(path) ?? notFound());
  } else {
    if (m) serve(m, (path) => path === "/metrics" ? metrics() : notFound());
    if (p) serve(p, (path) => probe(path) ?? notFound());
  }
  return servers;
}
