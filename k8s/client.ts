/**
 * The Kubernetes API client: every request goes through Deno's native
 * `fetch`, and every request has a deadline that really ends it.
 *
 * Why not client-node's HTTP layer: under Deno, client-node 2.x sends
 * requests through npm undici, whose response body never errors and never
 * ends when the connection drops mid-body, so an API call or a watch can
 * hang forever (see /work/shared/notes/deno-kubernetes-facts.md).
 * Configuration comes from ./kubeconfig.ts, credentials and the connection
 * pool are held by ./transport.ts, errors are built in ./api_error.ts,
 * watch streams are read in ./watch_stream.ts.
 *
 * @module
 */
import type { Logger } from "../observability/log.ts";
import { errorText, httpError, KubeApiError, parseJson, WatchInactiveError } from "./api_error.ts";
import type { CredentialProvider } from "./credentials.ts";
import { loadKubeconfig, type LoadKubeconfigOptions } from "./kubeconfig.ts";
import type { KubeList, KubeObject } from "./resource.ts";
import { Transport } from "./transport.ts";
import { readLines, Watchdog, type WatchEvent } from "./watch_stream.ts";

export {
  isConflict,
  isGone,
  isNotFound,
  KubeApiError,
  type Status,
  WatchInactiveError,
} from "./api_error.ts";
export type { CredentialProvider, Credentials } from "./credentials.ts";
export type { KubeconfigEnv, LoadKubeconfigOptions } from "./kubeconfig.ts";
export type { WatchEvent, WatchEventType } from "./watch_stream.ts";

/** Query parameters; `undefined` values are left out. */
export type Query = Record<string, string | number | boolean | undefined>;

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

/** Options of {@link KubeClient.fromKubeconfig}: where to look, and the client's settings. */
export interface FromKubeconfigOptions extends LoadKubeconfigOptions {
  requestTimeoutMs?: number;
  watchInactivityMs?: number;
  userAgent?: string;
}

const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
const DEFAULT_WATCH_INACTIVITY_MS = 90_000;
const DEFAULT_CREDENTIALS_TTL_MS = 10_000;
/** A Kubernetes API client on Deno's native fetch. */
export class KubeClient {
  /** API server base URL. */
  readonly host: string;
  /** Who we are, for logs. */
  readonly identity: string;
  /** Default namespace of the configuration, if it names one. */
  readonly namespace?: string;
  readonly #server: string;
  readonly #requestTimeoutMs: number;
  readonly #watchInactivityMs: number;
  readonly #userAgent: string;
  readonly #transport: Transport;

  constructor(options: KubeClientOptions) {
    this.#server = options.server.replace(/\/+$/, "");
    this.host = this.#server;
    this.identity = options.identity ?? "anonymous";
    this.namespace = options.namespace;
    this.#requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.#watchInactivityMs = options.watchInactivityMs ?? DEFAULT_WATCH_INACTIVITY_MS;
    this.#transport = new Transport({
      host: this.host,
      credentials: options.credentials ?? (() => Promise.resolve({ headers: {} })),
      credentialsTtlMs: options.credentialsTtlMs ?? DEFAULT_CREDENTIALS_TTL_MS,
      proxyUrl: options.proxyUrl,
      log: options.log,
    });
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
    const config = await loadKubeconfig(options);
    const { source } = config;
    const log = options.log;
    if (config.skipTLSVerify && config.server.startsWith("https:")) {
      log.warn(
        "insecure-skip-tls-verify is not supported by Deno's HTTP client; the server certificate " +
          "is still verified (run deno with --unsafely-ignore-certificate-errors to skip it)",
        { source },
      );
    }
    if (config.tlsServerName) {
      log.warn("tls-server-name is not supported by Deno's HTTP client and is ignored", {
        source,
      });
    }
    const client = new KubeClient({
      server: config.server,
      credentials: config.credentials,
      log,
      requestTimeoutMs: options.requestTimeoutMs,
      watchInactivityMs: options.watchInactivityMs,
      identity: config.identity,
      namespace: config.namespace,
      proxyUrl: config.proxyUrl,
      userAgent: options.userAgent,
    });
    try {
      await client.#transport.credentials();
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
    this.#transport.close();
  }

  async #fetch(opts: RequestOptions, signal: AbortSignal): Promise<Response> {
    const credentials = await this.#transport.credentials();
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
      client: this.#transport.clientFor(credentials),
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
      this.#transport.recycle(`${what}: ${timeout}`);
      return new KubeApiError(`${what} at ${this.host}: ${timeout}`, { status: 0, cause: e });
    }
    if (callerSignal?.aborted) {
      return new KubeApiError(`${what}: cancelled`, { status: 0, cause: e });
    }
    return new KubeApiError(`${what} at ${this.host}: ${errorText(e)}`, { status: 0, cause: e });
  }

  #httpError(what: string, res: Response, text: string): KubeApiError {
    if (res.status === 401) this.#transport.unauthorized();
    return httpError(what, res, text);
  }
}
