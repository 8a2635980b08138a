/**
 * The HTTP side of the external-dns webhook provider
 * (`--webhook-bind-address`): routes, content negotiation, status codes and
 * metrics. What the routes do is in provider.ts.
 *
 * | route                  | answer                                                  |
 * |------------------------|---------------------------------------------------------|
 * | GET /                  | 200 the domain filter (negotiation)                     |
 * | GET /records           | 200 our entries as endpoints                            |
 * | POST /adjustendpoints  | 200 the endpoints that can be written, canonical        |
 * | POST /records          | 204 applied (what can never be written is skipped);     |
 * |                        | 500 naming every failed change, 503 when cancelled      |
 * | GET /healthz           | 200 ok                                                  |
 *
 * Bodies are `application/external.dns.webhook+json;version=1`: another
 * request Content-Type is 415, an Accept that excludes it is 406, a body
 * that is not external-dns's JSON is 400 with the reason, one larger than
 * the limit 413. external-dns v0.19.0 retries 500–510 on its next sync and
 * exits on any other error status of `POST /records`, so a permanent
 * problem is never answered 4xx there: it is skipped (and dropped earlier,
 * at `/adjustendpoints`). One log line per request, with counts.
 *
 * The listener is http1.ts: connection cap, timeouts, streamed body limit,
 * cancellation when the client goes away, draining shutdown.
 *
 * @module
 */
import { Counter, Histogram, type Registry } from "prom-client";
import { parseBindAddress } from "../observability/server.ts";
import type { Fields, Logger } from "../observability/log.ts";
import type { Listener } from "../observability/server.ts";
import { BadBody, domainFilterJson, MEDIA_TYPE, parseChanges, parseEndpoints } from "./endpoint.ts";
import { type ChangeAction, type ChangeOutcome, SAMPLE, type WebhookProvider } from "./provider.ts";
import { BodyTooLarge, DEFAULT_LIMITS, type Http1Limits, serveHttp1 } from "./http1.ts";

/** The route names of the metrics' `endpoint` label. */
export type WebhookRoute =
  | "negotiate"
  | "records"
  | "apply_changes"
  | "adjust_endpoints"
  | "healthz";

/** The webhook's metric families. */
export class WebhookMetrics {
  /** router_hosts_webhook_requests_total{endpoint,outcome} */
  readonly requests: Counter<"endpoint" | "outcome">;
  /** router_hosts_webhook_request_duration_seconds{endpoint} */
  readonly duration: Histogram<"endpoint">;
  /** router_hosts_webhook_changes_total{action,outcome}: one per endpoint target. */
  readonly changes: Counter<"action" | "outcome">;

  constructor(registry: Registry) {
    const registers = [registry];
    this.requests = new Counter({
      name: "router_hosts_webhook_requests_total",
      help:
        "external-dns webhook requests by endpoint (negotiate, records, apply_changes, adjust_endpoints, healthz) and outcome",
      labelNames: ["endpoint", "outcome"],
      registers,
    });
    this.duration = new Histogram({
      name: "router_hosts_webhook_request_duration_seconds",
      help: "external-dns webhook request duration by endpoint",
      labelNames: ["endpoint"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.changes = new Counter({
      name: "router_hosts_webhook_changes_total",
      help:
        "external-dns changes applied per endpoint target, by action (create, update, delete) and outcome (success, failure, skipped, cancelled)",
      labelNames: ["action", "outcome"],
      registers,
    });
  }

  /** The provider's per-change hook. */
  change(action: ChangeAction, outcome: ChangeOutcome): void {
    this.changes.inc({ action, outcome });
  }
}

/** A parsed media type: `type/subtype`, lower case, and its parameters. */
interface MediaType {
  essence: string;
  params: Map<string, string>;
}

function parseMediaType(text: string): MediaType {
  const [essence, ...rest] = text.split(";");
  const params = new Map<string, string>();
  for (const p of rest) {
    const i = p.indexOf("=");
    if (i < 0) continue;
    params.set(p.slice(0, i).trim().toLowerCase(), p.slice(i + 1).trim().replace(/^"|"$/g, ""));
  }
  return { essence: essence.trim().toLowerCase(), params };
}

const OURS = parseMediaType(MEDIA_TYPE);

/** True when `m` names our media type (a missing version means ours: there is only one). */
function isOurs(m: MediaType): boolean {
  const version = m.params.get("version");
  return m.essence === OURS.essence && (version === undefined || version === "1");
}

/** True when a request's Content-Type is our media type. */
export function contentTypeAccepted(header: string | null): boolean {
  return header !== null && isOurs(parseMediaType(header));
}

/** True when a request's Accept lets us answer in our media type (no Accept = anything). */
export function acceptAllows(header: string | null): boolean {
  if (header === null || header.trim() === "") return true;
  return header.split(",").some((range) => {
    const m = parseMediaType(range);
    if (m.params.get("q") !== undefined && Number(m.params.get("q")) === 0) return false;
    return m.essence === "*/*" || m.essence === "application/*" || isOurs(m);
  });
}

/** Options of {@link startWebhookServer}. */
export interface WebhookServerOptions {
  /** Go-style bind address, e.g. "127.0.0.1:8888". */
  address: string;
  provider: WebhookProvider;
  /** The domain filter negotiated on `GET /`. */
  domainFilter: { include: readonly string[]; exclude: readonly string[] };
  metrics: WebhookMetrics;
  log: Logger;
  /** The largest request body (`--webhook-max-body-bytes`; default 1 MiB). */
  maxBodyBytes?: number;
  /** Connection and timing limits of the listener (defaults: http1.ts). */
  limits?: Partial<Omit<Http1Limits, "maxBodyBytes">>;
}

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": MEDIA_TYPE },
  });
}

function text(message: string, status: number, headers: Record<string, string> = {}): Response {
  return new Response(`${message}\n`, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8", ...headers },
  });
}

/** Reads a body of at most `limit` bytes, as a stream: a larger one is never held whole. */
async function readBody(req: Request, limit: number): Promise<string> {
  if (!req.body) return "";
  const reader = req.body.getReader();
  // Decoded as it arrives: the bytes are not kept beside the text.
  const decoder = new TextDecoder();
  const parts: string[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      throw new BodyTooLarge(limit);
    }
    parts.push(decoder.decode(value, { stream: true }));
  }
  parts.push(decoder.decode());
  return parts.join("");
}

async function readJson(req: Request, limit: number): Promise<unknown> {
  const body = await readBody(req, limit);
  try {
    return JSON.parse(body);
  } catch (e) {
    throw new BadBody(`body is not JSON: ${(e as Error).message.slice(0, 200)}`);
  }
}

/** A handled request: the answer, the metric outcome, and the counts for its log line. */
type Handled = [Response, string, Fields?];

/** The request handler, separate from the listener so unit tests call it directly. */
export function webhookHandler(
  options: Omit<WebhookServerOptions, "address">,
): (req: Request) => Promise<Response> {
  const { provider, metrics, log } = options;
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_LIMITS.maxBodyBytes;
  const negotiated = domainFilterJson(options.domainFilter.include, options.domainFilter.exclude);

  const routes: Record<string, { route: WebhookRoute; methods: string[] }> = {
    "/": { route: "negotiate", methods: ["GET"] },
    "/records": { route: "records", methods: ["GET", "POST"] },
    "/adjustendpoints": { route: "adjust_endpoints", methods: ["POST"] },
    "/healthz": { route: "healthz", methods: ["GET"] },
  };

  const apply = async (req: Request): Promise<Handled> => {
    const changes = parseChanges(await readJson(req, maxBodyBytes));
    const result = await provider.apply(changes, req.signal);
    const fields: Fields = {
      create: changes.create.length,
      update: changes.updateNew.length,
      delete: changes.delete.length,
      writes: result.writes,
      failed: result.failures.length,
      skipped: result.skipped,
      cancelled: result.cancelled,
    };
    if (result.skipSample.length > 0) fields.skippedSample = result.skipSample;
    if (result.failures.length > 0) fields.failedSample = result.failures.slice(0, SAMPLE);
    if (result.failures.length > 0) {
      const names = result.failures.join("\n");
      return [
        text(`${result.failures.length} change(s) failed, external-dns will retry:\n${names}`, 500),
        "partial_failure",
        fields,
      ];
    }
    if (result.cancelled > 0) {
      const why = req.signal.reason instanceof Error ? req.signal.reason.message : "cancelled";
      return [
        text(`${result.cancelled} change(s) not started (${why}); external-dns will retry`, 503),
        "cancelled",
        fields,
      ];
    }
    return [new Response(null, { status: 204 }), "ok", fields];
  };

  const adjust = async (req: Request): Promise<Handled> => {
    const raw = await readJson(req, maxBodyBytes);
    const endpoints = parseEndpoints(raw);
    const result = await provider.adjust(endpoints);
    // Answer with the endpoints as sent, fields we do not model included,
    // with the name and targets as they will be written (in place: no copy
    // of a large request).
    const original = (raw ?? []) as Record<string, unknown>[];
    const answer = result.kept.map((k) => {
      const e = original[k.index];
      e.dnsName = k.name;
      e.targets = k.targets;
      return e;
    });
    const fields: Fields = { received: endpoints.length, kept: result.kept.length };
    if (result.sample.length > 0) {
      fields.dropped = result.dropped;
      fields.droppedSample = result.sample;
    }
    return [json(answer), "ok", fields];
  };

  const handle = async (req: Request, route: WebhookRoute): Promise<Handled> => {
    const posting = req.method === "POST";
    if (posting && !contentTypeAccepted(req.headers.get("content-type"))) {
      return [
        text(
          `Content-Type must be ${MEDIA_TYPE}, not ${
            (req.headers.get("content-type") ?? "none").slice(0, 100)
          }`,
          415,
        ),
        "unsupported_media_type",
      ];
    }
    const answers = route !== "healthz" && route !== "apply_changes";
    if (answers && !acceptAllows(req.headers.get("accept"))) {
      return [
        text(
          `this API answers only in ${MEDIA_TYPE}; Accept was ${
            req.headers.get("accept")?.slice(0, 100)
          }`,
          406,
        ),
        "not_acceptable",
      ];
    }
    try {
      if (route === "healthz") return [text("ok", 200), "ok"];
      if (route === "negotiate") return [json(negotiated), "ok"];
      if (route === "records") return [json(await provider.records()), "ok"];
      if (route === "apply_changes") return await apply(req);
      return await adjust(req);
    } catch (e) {
      if (e instanceof BadBody) return [text(`bad request body: ${e.message}`, 400), "bad_request"];
      if (e instanceof BodyTooLarge) return [text(e.message, 413), "too_large"];
      log.warn("external-dns webhook: request failed", {
        route,
        error: (e as Error).message,
      });
      return [text(`router-hosts: ${(e as Error).message}`, 500), "error"];
    }
  };

  return async (req) => {
    const spec = routes[new URL(req.url).pathname];
    if (!spec) return text("not found", 404);
    if (!spec.methods.includes(req.method)) {
      metrics.requests.inc({ endpoint: spec.route, outcome: "method_not_allowed" });
      return text(`method ${req.method} not allowed`, 405, {
        allow: spec.methods.join(", "),
      });
    }
    const started = performance.now();
    const route: WebhookRoute = spec.route === "records" && req.method === "POST"
      ? "apply_changes"
      : spec.route;
    const [response, outcome, fields] = await handle(req, route);
    const seconds = (performance.now() - started) / 1000;
    metrics.requests.inc({ endpoint: route, outcome });
    metrics.duration.observe({ endpoint: route }, seconds);
    const line = {
      method: req.method,
      route,
      status: response.status,
      ms: Math.round(seconds * 1000),
      ...fields,
    };
    // POST /records writes: always worth a line. The rest only when something is off.
    if (route === "apply_changes" || fields?.dropped !== undefined) {
      log.info("external-dns webhook request", line);
    } else if (outcome !== "ok") log.debug("external-dns webhook answer", line);
    return response;
  };
}

/** Starts the webhook listener. */
export function startWebhookServer(options: WebhookServerOptions): Listener {
  const { hostname, port } = parseBindAddress(options.address);
  const limits: Http1Limits = {
    ...DEFAULT_LIMITS,
    ...options.limits,
    maxBodyBytes: options.maxBodyBytes ?? DEFAULT_LIMITS.maxBodyBytes,
  };
  const server = serveHttp1({
    hostname,
    port,
    handler: webhookHandler(options),
    limits,
    log: options.log,
  });
  options.log.info("external-dns webhook listening", {
    address: options.address,
    port: server.port,
    maxBodyBytes: limits.maxBodyBytes,
    maxConnections: limits.maxConnections,
  });
  return { port: server.port, shutdown: () => server.shutdown() };
}
