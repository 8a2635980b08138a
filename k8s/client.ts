/**
 * The Kubernetes API client: every request goes through Deno's native
 * `fetch`, and every request has a deadline that really ends it.
 *
 * Why not client-node's HTTP layer: under Deno, client-node 2.x sends
 * requests through npm undici, whose response body never errors and never
 * ends when the connection drops mid-body, so an API call or a watch can
 * hang forever (see /work/shared/notes/deno-kubernetes-facts.md). We use
 * client-node's `KubeConfig` only to *read* configuration — kubeconfig
 * files, the in-cluster service account, exec and auth-provider plugins —
 * and ask it for headers and TLS material through `applyToHTTPSOptions`.
 *
 * @module
 */
import { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "../observability/log.ts";
import type { KubeList, KubeObject } from "./resource.ts";

/** Query parameters; `undefined` values are left out. */
export type Query = Record<string, string | number | boolean | undefined>;

/** The `Status` object the API server returns with errors and ERROR events. */
export interface Status {
  kind?: string;
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
  details?: { retryAfterSeconds?: number; [field: string]: unknown };
}

/** The kinds of watch events. */
export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";

/** One line of a watch stream; for ERROR events `object` is a {@link Status}. */
export interface WatchEvent {
  type: WatchEventType;
  object: KubeObject;
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

/** Headers and TLS material for requests; fetched again when they may have rotated. */
export interface Credentials {
  /** Authorization, Impersonate-User, ... */
  headers: Record<string, string>;
  /** PEM certificates trusted for the API server (in addition to the system roots). */
  caCerts?: string[];
  /** PEM client certificate. */
  cert?: string;
  /** PEM client key. */
  key?: string;
}

/** Produces current credentials; called at most once per `credentialsTtlMs`. */
export type CredentialProvider = () => Promise<Credentials>;

/** Options of {@link KubeClient}'s constructor. */
export interface KubeClientOptions {
  /** API server base URL, e.g. `https://10.0.0.1:443` (a path prefix is kept). */
  server: string;
  /** Where headers and TLS material come from; none when omitted. */
  credentials?: CredentialProvider;
  log: Logger;
  /** Deadline of a request, headers and body included (default 30 s). */
  requestTimeoutMs?: number;
  /** A watch that receives no bytes for this long is ended (default 90 s). */
  watchInactivityMs?: number;
  /**
   * How long credentials are reused before the provider is asked again
   * (default 10 s). Short, because projected service-account tokens and
   * exec-plugin tokens rotate; the providers cache internally anyway.
   */
  credentialsTtlMs?: number;
  /** Who we are, for logs (context and user name). */
  identity?: string;
  /** The configuration's default namespace (in-cluster: the pod's namespace). */
  namespace?: string;
  /** HTTP(S) or SOCKS5 proxy for all requests. */
  proxyUrl?: string;
  /** User-Agent header; the API server also uses it as the default field manager. */
  userAgent?: string;
}

/** Options of one request. */
export interface RequestOptions {
  method: string;
  /** Absolute API path, e.g. `/api/v1/namespaces/default/pods`. */
  path: string;
  query?: Query;
  /** Sent as JSON. */
  body?: unknown;
  /** Content-Type of the body (default `application/json`). */
  contentType?: string;
  /** Overrides the client's request deadline. */
  timeoutMs?: number;
  /** Cancels the request; the deadline applies as well. */
  signal?: AbortSignal;
}

/** Options shared by the convenience methods. */
export interface CallOptions {
  query?: Query;
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** One JSON Patch (RFC 6902) operation. */
export type JsonPatchOp =
  | { op: "add" | "replace" | "test"; path: string; value: unknown }
  | { op: "remove"; path: string }
  | { op: "move" | "copy"; from: string; path: string };

/** Where configuration is looked for, as read from the environment by the caller. */
export interface KubeconfigEnv {
  KUBERNETES_SERVICE_HOST?: string;
  KUBERNETES_SERVICE_PORT?: string;
  HOME?: string;
}

/** Options of {@link KubeClient.fromKubeconfig}. */
export interface FromKubeconfigOptions {
  /**
   * `--kubeconfig`, else `$KUBECONFIG` (read by the caller). Several files
   * separated by ":" are merged like kubectl does. When set, it must work:
   * there is no fallback to other sources.
   */
  kubeconfigPath?: string;
  /**
   * The environment snapshot (`KUBERNETES_SERVICE_HOST/PORT` for in-cluster,
   * `HOME` for `~/.kube/config`); library code never reads the environment.
   */
  env?: KubeconfigEnv;
  /** Service-account mount (default `/var/run/secrets/kubernetes.io/serviceaccount`). */
  serviceAccountDir?: string;
  log: Logger;
  requestTimeoutMs?: number;
  watchInactivityMs?: number;
  userAgent?: string;
}

const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";
const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
const DEFAULT_WATCH_INACTIVITY_MS = 90_000;
const DEFAULT_CREDENTIALS_TTL_MS = 10_000;
/** Do not rebuild the connection pool more often than this after timeouts. */
const MIN_TRANSPORT_AGE_MS = 5_000;

interface Transport {
  client: Deno.HttpClient;
  /** Identity of the TLS material the pool was built with. */
  tlsId: string;
  createdAt: number;
}

/** A Kubernetes API client on Deno's native fetch. */
export class KubeClient {
  /** API server base URL. */
  readonly host: string;
  /** Who we are, for logs. */
  readonly identity: string;
  /** Default namespace of the configuration, if it names one. */
  readonly namespace?: string;
  readonly #server: string;
  readonly #log: Logger;
  readonly #credentialsProvider: CredentialProvider;
  readonly #requestTimeoutMs: number;
  readonly #watchInactivityMs: number;
  readonly #credentialsTtlMs: number;
  readonly #proxyUrl?: string;
  readonly #userAgent: string;
  #credentials?: { value: Promise<Credentials>; expiresAt: number };
  #transport?: Transport;

  constructor(options: KubeClientOptions) {
    this.#server = options.server.replace(/\/+$/, "");
    this.host = this.#server;
    this.identity = options.identity ?? "anonymous";
    this.namespace = options.namespace;
    this.#log = options.log;
    this.#credentialsProvider = options.credentials ?? (() => Promise.resolve({ headers: {} }));
    this.#requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.#watchInactivityMs = options.watchInactivityMs ?? DEFAULT_WATCH_INACTIVITY_MS;
    this.#credentialsTtlMs = options.credentialsTtlMs ?? DEFAULT_CREDENTIALS_TTL_MS;
    this.#proxyUrl = options.proxyUrl;
    this.#userAgent = options.userAgent ?? "router-hosts-operator";
  }

  /**
   * A client configured from, in order: `kubeconfigPath` (the flag or
   * `$KUBECONFIG`), the in-cluster service account, `~/.kube/config`.
   * Rejects with one error naming everything tried when none works, or
   * naming the source whose credentials cannot be loaded (a missing CA or
   * key file, a failing exec plugin) — those are fetched once up front.
   */
  static async fromKubeconfig(options: FromKubeconfigOptions): Promise<KubeClient> {
    const { kc, source } = loadKubeConfig(options);
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error(`${source}: no current cluster (check current-context)`);
    const user = kc.getCurrentUser();
    const log = options.log;
    if (cluster.skipTLSVerify && cluster.server.startsWith("https:")) {
      log.warn(
        "insecure-skip-tls-verify is not supported by Deno's HTTP client; the server certificate " +
          "is still verified (run deno with --unsafely-ignore-certificate-errors to skip it)",
        { source },
      );
    }
    if (cluster.tlsServerName) {
      log.warn("tls-server-name is not supported by Deno's HTTP client and is ignored", {
        source,
      });
    }
    const client = new KubeClient({
      server: cluster.server,
      credentials: kubeConfigCredentials(kc),
      log,
      requestTimeoutMs: options.requestTimeoutMs,
      watchInactivityMs: options.watchInactivityMs,
      identity: `${kc.getCurrentContext()}/${user?.name ?? "anonymous"}`,
      namespace: kc.getContextObject(kc.getCurrentContext())?.namespace?.trim() || undefined,
      proxyUrl: cluster.proxyUrl,
      userAgent: options.userAgent,
    });
    try {
      await client.#currentCredentials();
    } catch (e) {
      throw new Error(`${source}: ${errorText(e)}`);
    }
    log.info("kubernetes client configured", {
      source,
      server: client.host,
      identity: client.identity,
    });
    return client;
  }

  /**
   * Sends one request and parses the JSON answer. The deadline
   * (`timeoutMs`, default the client's) covers connecting, the headers and
   * the whole body. Throws {@link KubeApiError}.
   */
  async request<T>(opts: RequestOptions): Promise<T> {
    const timeoutMs = opts.timeoutMs ?? this.#requestTimeoutMs;
    const deadline = AbortSignal.timeout(timeoutMs);
    const signal = opts.signal ? AbortSignal.any([opts.signal, deadline]) : deadline;
    const what = `${opts.method} ${opts.path}`;
    let res: Response;
    let text: string;
    try {
      res = await this.#fetch(opts, signal);
      text = await res.text();
    } catch (e) {
      throw this.#failure(
        what,
        e,
        () =>
          deadline.aborted && !opts.signal?.aborted
            ? `no complete response within ${timeoutMs} ms (request deadline)`
            : undefined,
        opts.signal,
      );
    }
    if (!res.ok) throw this.#httpError(what, res, text);
    return parseJson<T>(what, res.status, text);
  }

  /**
   * Streams a watch (`watch=true` is added to `query`). Ends quietly when
   * `signal` aborts or the server closes the stream (e.g. at
   * `timeoutSeconds`); throws {@link KubeApiError} on HTTP errors, network
   * failures, and when no byte arrives for `inactivityMs` (the watchdog —
   * also what ends a watch on a frozen API server).
   */
  async *watch(
    path: string,
    query: Query,
    signal: AbortSignal,
    opts: { inactivityMs?: number } = {},
  ): AsyncGenerator<WatchEvent> {
    const inactivityMs = opts.inactivityMs ?? this.#watchInactivityMs;
    const what = `WATCH ${path}`;
    const watchdog = new Watchdog(signal);
    let streaming = false;
    try {
      // The headers must arrive within the request deadline; after that,
      // only the stream's liveness matters.
      const headerMs = Math.min(this.#requestTimeoutMs, inactivityMs);
      watchdog.arm(headerMs, `no response headers within ${headerMs} ms`);
      const res = await this.#fetch(
        { method: "GET", path, query: { ...query, watch: true } },
        watchdog.signal,
      );
      if (!res.ok) throw this.#httpError(what, res, await res.text());
      if (!res.body) return;
      const idle = `no data for ${inactivityMs} ms (watch inactivity watchdog)`;
      streaming = true;
      yield* readLines(res.body, {
        beforeRead: () => watchdog.arm(inactivityMs, idle),
        afterRead: () => watchdog.disarm(),
      }, what);
    } catch (e) {
      if (signal.aborted) return;
      if (e instanceof KubeApiError && e.status !== 0) throw e;
      const failure = this.#failure(what, e, () => watchdog.reason, signal);
      if (streaming && watchdog.reason) throw new WatchInactiveError(failure.message);
      throw failure;
    } finally {
      watchdog.dispose();
    }
  }

  /** GET one object. */
  get<T = KubeObject>(path: string, opts: CallOptions = {}): Promise<T> {
    return this.request<T>({ method: "GET", path, ...opts });
  }

  /** GET a collection (one page when `query.limit` is set). */
  list<T = KubeList>(path: string, query?: Query, opts: CallOptions = {}): Promise<T> {
    return this.request<T>({ method: "GET", path, ...opts, query: { ...opts.query, ...query } });
  }

  /** POST a new object to a collection path. */
  create<T = KubeObject>(path: string, body: unknown, opts: CallOptions = {}): Promise<T> {
    return this.request<T>({ method: "POST", path, body, ...opts });
  }

  /** PUT a whole object (fails with 409 when its resourceVersion is stale). */
  replace<T = KubeObject>(path: string, body: unknown, opts: CallOptions = {}): Promise<T> {
    return this.request<T>({ method: "PUT", path, body, ...opts });
  }

  /**
   * JSON merge patch (RFC 7386). Lists are replaced whole: include
   * `metadata.resourceVersion` to turn a concurrent change into a 409.
   */
  mergePatch<T = KubeObject>(path: string, patch: unknown, opts: CallOptions = {}): Promise<T> {
    return this.request<T>({
      method: "PATCH",
      path,
      body: patch,
      contentType: "application/merge-patch+json",
      ...opts,
    });
  }

  /** JSON Patch (RFC 6902); a `test` op makes it conditional. */
  jsonPatch<T = KubeObject>(path: string, ops: JsonPatchOp[], opts: CallOptions = {}): Promise<T> {
    return this.request<T>({
      method: "PATCH",
      path,
      body: ops,
      contentType: "application/json-patch+json",
      ...opts,
    });
  }

  /** Merge-patches the status subresource of the object at `objectPath`. */
  patchStatus<T = KubeObject>(
    objectPath: string,
    patch: unknown,
    opts: CallOptions = {},
  ): Promise<T> {
    return this.mergePatch<T>(`${objectPath}/status`, patch, opts);
  }

  /** DELETE an object; `body` may carry DeleteOptions (preconditions, propagation). */
  delete<T = KubeObject>(
    path: string,
    opts: CallOptions & { body?: unknown } = {},
  ): Promise<T> {
    return this.request<T>({ method: "DELETE", path, ...opts });
  }

  /** Releases the connection pool. */
  close(): void {
    this.#transport?.client.close();
    this.#transport = undefined;
  }

  async #fetch(opts: RequestOptions, signal: AbortSignal): Promise<Response> {
    const credentials = await this.#currentCredentials();
    const headers: Record<string, string> = {
      ...credentials.headers,
      "Accept": "application/json",
      "User-Agent": this.#userAgent,
    };
    let body: string | undefined;
    if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers["Content-Type"] = opts.contentType ?? "application/json";
    }
    return await fetch(this.#url(opts.path, opts.query), {
      method: opts.method,
      headers,
      body,
      signal,
      client: this.#transportFor(credentials).client,
    });
  }

  #url(path: string, query?: Query): string {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query ?? {})) {
      if (v !== undefined) params.set(k, String(v));
    }
    const qs = params.toString();
    return `${this.#server}${path}${qs ? `?${qs}` : ""}`;
  }

  #currentCredentials(): Promise<Credentials> {
    const now = performance.now();
    if (!this.#credentials || now >= this.#credentials.expiresAt) {
      const value = this.#credentialsProvider();
      this.#credentials = { value, expiresAt: now + this.#credentialsTtlMs };
      // A failed refresh must not be served from the cache.
      value.catch(() => {
        if (this.#credentials?.value === value) this.#credentials = undefined;
      });
    }
    return this.#credentials.value.catch((e) => {
      throw new KubeApiError(`credentials for ${this.host}: ${errorText(e)}`, {
        status: 0,
        cause: e,
      });
    });
  }

  /** The pool for this TLS material; rebuilt when an exec plugin rotates the client cert. */
  #transportFor(credentials: Credentials): Transport {
    const tlsId = JSON.stringify([credentials.caCerts, credentials.cert, credentials.key]);
    if (this.#transport?.tlsId === tlsId) return this.#transport;
    this.#transport?.client.close();
    const proxy = this.#proxyUrl ? proxyFor(this.#proxyUrl) : undefined;
    const tls = credentials.cert && credentials.key
      ? { cert: credentials.cert, key: credentials.key }
      : {};
    this.#transport = {
      client: Deno.createHttpClient({ caCerts: credentials.caCerts, proxy, ...tls }),
      tlsId,
      createdAt: performance.now(),
    };
    return this.#transport;
  }

  /**
   * Drops the connection pool after a timeout. Without HTTP/2 health pings
   * (which fetch cannot send), a connection whose peer vanished without a
   * reset stays in the pool until TCP gives up (~15 min), and every request
   * multiplexed on it would time out; a fresh pool dials again. Requests
   * already running on the old pool keep their own deadlines.
   */
  #recycleTransport(reason: string): void {
    const t = this.#transport;
    if (!t || performance.now() - t.createdAt < MIN_TRANSPORT_AGE_MS) return;
    this.#log.info("dropping API server connections after a timeout", { reason });
    t.client.close();
    this.#transport = undefined;
  }

  /** Turns a thrown fetch/stream error into a {@link KubeApiError}. */
  #failure(
    what: string,
    e: unknown,
    timedOut: () => string | undefined,
    callerSignal?: AbortSignal,
  ): KubeApiError {
    if (e instanceof KubeApiError) return e;
    const timeout = timedOut();
    if (timeout) {
      this.#recycleTransport(`${what}: ${timeout}`);
      return new KubeApiError(`${what} at ${this.host}: ${timeout}`, { status: 0, cause: e });
    }
    if (callerSignal?.aborted) {
      return new KubeApiError(`${what}: cancelled`, { status: 0, cause: e });
    }
    return new KubeApiError(`${what} at ${this.host}: ${errorText(e)}`, { status: 0, cause: e });
  }

  #httpError(what: string, res: Response, text: string): KubeApiError {
    if (res.status === 401) this.#credentials = undefined;
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
}

/**
 * Aborts a request when the caller's signal aborts or a re-armable timer
 * expires, and remembers why the timer fired.
 */
class Watchdog {
  readonly #ctl = new AbortController();
  readonly #outer: AbortSignal;
  readonly #onOuterAbort = () => this.#ctl.abort();
  #timer?: ReturnType<typeof setTimeout>;
  reason?: string;

  constructor(outer: AbortSignal) {
    this.#outer = outer;
    outer.addEventListener("abort", this.#onOuterAbort, { once: true });
    if (outer.aborted) this.#ctl.abort();
  }

  get signal(): AbortSignal {
    return this.#ctl.signal;
  }

  arm(ms: number, reason: string): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.reason = reason;
      this.#ctl.abort();
    }, ms);
  }

  /** Stops the timer, e.g. while the consumer handles events. */
  disarm(): void {
    clearTimeout(this.#timer);
  }

  /** Stops the timer and aborts whatever is still reading. */
  dispose(): void {
    clearTimeout(this.#timer);
    this.#outer.removeEventListener("abort", this.#onOuterAbort);
    this.#ctl.abort();
  }
}

/**
 * Yields one parsed watch event per non-empty line. The watchdog runs only
 * while waiting for bytes, so a slow consumer is not mistaken for a dead
 * server.
 */
async function* readLines(
  body: ReadableStream<Uint8Array>,
  watchdog: { beforeRead: () => void; afterRead: () => void },
  what: string,
): AsyncGenerator<WatchEvent> {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  try {
    for (;;) {
      watchdog.beforeRead();
      const { done, value } = await reader.read();
      watchdog.afterRead();
      if (done) break;
      buffered += value;
      let newline: number;
      while ((newline = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, newline).trim();
        buffered = buffered.slice(newline + 1);
        if (line) yield parseJson<WatchEvent>(what, 200, line);
      }
    }
    if (buffered.trim()) yield parseJson<WatchEvent>(what, 200, buffered.trim());
  } finally {
    reader.cancel().catch(() => {});
  }
}

function parseJson<T>(what: string, status: number, text: string): T {
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
function errorText(e: unknown): string {
  const parts: string[] = [];
  for (let cur: unknown = e; cur !== undefined && parts.length < 5;) {
    const text = cur instanceof Error ? cur.message : String(cur);
    if (text && !parts.some((p) => p.includes(text))) parts.push(text);
    cur = cur instanceof Error ? cur.cause : undefined;
  }
  return parts.join(": ");
}

function proxyFor(url: string): Deno.Proxy {
  return url.startsWith("socks5") ? { transport: "socks5", url } : { url };
}

/** Loads the first configuration source that exists; see {@link KubeClient.fromKubeconfig}. */
function loadKubeConfig(options: FromKubeconfigOptions): { kc: KubeConfig; source: string } {
  const kc = new KubeConfig();
  if (options.kubeconfigPath) {
    const files = options.kubeconfigPath.split(":").filter((f) => f);
    try {
      kc.loadFromFile(files[0]);
      for (const file of files.slice(1)) {
        const extra = new KubeConfig();
        extra.loadFromFile(file);
        kc.mergeConfig(extra, true);
      }
    } catch (e) {
      throw new Error(`kubeconfig ${options.kubeconfigPath}: ${errorText(e)}`);
    }
    return { kc, source: `kubeconfig ${options.kubeconfigPath}` };
  }
  const tried: string[] = ["--kubeconfig / $KUBECONFIG: not set"];
  const inCluster = inClusterConfig(options, tried);
  if (inCluster) return inCluster;
  const home = options.env?.HOME;
  if (home) {
    const file = `${home.replace(/\/+$/, "")}/.kube/config`;
    if (fileExists(file)) {
      try {
        kc.loadFromFile(file);
      } catch (e) {
        throw new Error(`kubeconfig ${file}: ${errorText(e)}`);
      }
      return { kc, source: `kubeconfig ${file}` };
    }
    tried.push(`${file}: not found`);
  } else {
    tried.push("~/.kube/config: HOME not set");
  }
  throw new Error(`no Kubernetes configuration found (tried ${tried.join("; ")})`);
}

/**
 * The in-cluster configuration, built like client-node's `loadFromCluster`
 * but from the environment snapshot we were given. The token is a
 * `tokenFile` auth provider, which client-node re-reads every minute —
 * projected service-account tokens rotate (hourly by default).
 */
function inClusterConfig(
  options: FromKubeconfigOptions,
  tried: string[],
): { kc: KubeConfig; source: string } | undefined {
  const host = options.env?.KUBERNETES_SERVICE_HOST;
  const port = options.env?.KUBERNETES_SERVICE_PORT;
  const dir = (options.serviceAccountDir ?? SERVICE_ACCOUNT_DIR).replace(/\/+$/, "");
  if (!host || !port) {
    tried.push("in-cluster: KUBERNETES_SERVICE_HOST/PORT not set");
    return undefined;
  }
  if (!fileExists(`${dir}/token`)) {
    tried.push(`in-cluster: ${dir}/token not found`);
    return undefined;
  }
  const hostPart = host.includes(":") ? `[${host}]` : host;
  const kc = new KubeConfig();
  kc.loadFromClusterAndUser(
    {
      name: "inCluster",
      server: `https://${hostPart}:${port}`,
      caFile: `${dir}/ca.crt`,
      skipTLSVerify: false,
    },
    {
      name: "serviceaccount",
      authProvider: { name: "tokenFile", config: { tokenFile: `${dir}/token` } },
    },
  );
  const namespace = readOptional(`${dir}/namespace`)?.trim();
  const ctx = kc.getContextObject(kc.getCurrentContext());
  if (ctx && namespace) (ctx as { namespace?: string }).namespace = namespace;
  return { kc, source: `in-cluster service account (${dir})` };
}

/** Adapts client-node's `applyToHTTPSOptions` to {@link Credentials}. */
function kubeConfigCredentials(kc: KubeConfig): CredentialProvider {
  return async () => {
    const opts: HttpsOptionsLike = {};
    await kc.applyToHTTPSOptions(opts as Parameters<KubeConfig["applyToHTTPSOptions"]>[0]);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(opts.headers ?? {})) {
      // Token files often end with a newline, which is not a valid header value.
      if (v !== undefined) headers[k] = String(v).trim();
    }
    if (opts.auth) headers["Authorization"] = `Basic ${base64(opts.auth)}`;
    return {
      headers,
      caCerts: opts.ca ? [pemText(opts.ca)] : undefined,
      cert: opts.cert ? pemText(opts.cert) : undefined,
      key: opts.key ? pemText(opts.key) : undefined,
    };
  };
}

/** The fields of node's https.RequestOptions that client-node fills in. */
interface HttpsOptionsLike {
  headers?: Record<string, unknown>;
  auth?: string;
  ca?: unknown;
  cert?: unknown;
  key?: unknown;
}

function pemText(value: unknown): string {
  if (typeof value === "string") return value;
  if (value instanceof Uint8Array) return new TextDecoder().decode(value);
  if (Array.isArray(value)) return value.map(pemText).join("\n");
  throw new Error(`unsupported TLS material of type ${typeof value}`);
}

function base64(text: string): string {
  let binary = "";
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

function fileExists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

function readOptional(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return undefined;
  }
}
