/**
 * How the Kubernetes API client reports failures: {@link KubeApiError} for
 * every failed call, the API server's `Status` object it is built from, and
 * the predicates callers branch on.
 *
 * @module
 */

/** The `Status` object the API server returns with errors and ERROR events. */
export interface Status {
  kind?: string;
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
  details?: { retryAfterSeconds?: number; [field: string]: unknown };
}

/**
 * A failed API call. `status` is the HTTP status, or 0 when no HTTP answer
 * arrived (connection refused, TLS failure, deadline, watchdog, cancel).
 */
export class KubeApiError extends Error {
  /** HTTP status; 0 for network failures, timeouts and cancellations. */
  readonly status: number;
  /** The Status `reason`, e.g. "NotFound", "Conflict", "Expired". */
  readonly reason?: string;
  /** From the `Retry-After` header or Status details (429, some 5xx). */
  readonly retryAfterSeconds?: number;
  /** The Status `details`, when the server sent any. */
  readonly details?: unknown;

  constructor(
    message: string,
    init: {
      status: number;
      reason?: string;
      retryAfterSeconds?: number;
      details?: unknown;
      cause?: unknown;
    },
  ) {
    super(message, { cause: init.cause });
    this.name = "KubeApiError";
    this.status = init.status;
    this.reason = init.reason;
    this.retryAfterSeconds = init.retryAfterSeconds;
    this.details = init.details;
  }
}

/**
 * A watch stream that stayed silent for the inactivity window after it was
 * established. The API server sends a bookmark about every minute, so
 * silence usually means a frozen server or a dead connection; but a quiet
 * resource served without bookmarks looks the same, so callers should
 * simply watch again — if the server is really gone, that next request
 * fails on its own deadline.
 */
export class WatchInactiveError extends KubeApiError {
  constructor(message: string) {
    super(message, { status: 0, reason: "WatchInactive" });
    this.name = "WatchInactiveError";
  }
}

/** True for a 404 answer. */
export function isNotFound(e: unknown): boolean {
  return e instanceof KubeApiError && e.status === 404;
}

/** True for a 409 answer (optimistic-concurrency conflict or already exists). */
export function isConflict(e: unknown): boolean {
  return e instanceof KubeApiError && e.status === 409;
}

/** True when a resourceVersion or continue token is too old (410 Gone / Expired). */
export function isGone(e: unknown): boolean {
  return e instanceof KubeApiError && e.status === 410;
}

/** Parses a JSON answer; an empty body is `undefined`, anything unparsable a {@link KubeApiError}. */
export function parseJson<T>(what: string, status: number, text: string): T {
  if (!text) return undefined as T;
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new KubeApiError(`${what}: invalid JSON in the response: ${text.slice(0, 200)}`, {
      status,
      cause: e,
    });
  }
}

/** The {@link KubeApiError} for a non-2xx answer whose body is `text`. */
export function httpError(what: string, res: Response, text: string): KubeApiError {
  const status = parseStatus(text);
  const detail = status?.message ?? (text.trim().slice(0, 300) || res.statusText);
  const reason = status?.reason || undefined;
  return new KubeApiError(`${what}: ${res.status} ${reason ?? res.statusText}: ${detail}`, {
    status: res.status,
    reason,
    retryAfterSeconds: retryAfter(res, status),
    details: status?.details,
  });
}

function parseStatus(text: string): Status | undefined {
  try {
    const parsed = JSON.parse(text);
    return parsed && typeof parsed === "object" && parsed.kind === "Status" ? parsed : undefined;
  } catch {
    return undefined;
  }
}

function retryAfter(res: Response, status: Status | undefined): number | undefined {
  const header = Number(res.headers.get("Retry-After"));
  if (Number.isFinite(header) && header > 0) return header;
  const detail = status?.details?.retryAfterSeconds;
  return typeof detail === "number" && detail > 0 ? detail : undefined;
}

/**
 * The message of `e` and of its causes: Deno's fetch sometimes says only
 * "fetch failed" and keeps the useful part ("connection reset", "invalid
 * peer certificate: UnknownIssuer") in `cause`.
 */
export function errorText(e: unknown): string {
  const parts: string[] = [];
  for (let cur: unknown = e; cur !== undefined && parts.length < 5;) {
    const text = cur instanceof Error ? cur.message : String(cur);
    if (text && !parts.some((p) => p.includes(text))) parts.push(text);
    cur = cur instanceof Error ? cur.cause : undefined;
  }
  return parts.join(": ");
}
