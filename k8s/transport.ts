/**
 * What every request of ./client.ts is sent with: the current credentials
 * (reused for a short while, fetched again after a 401) and the connection
 * pool built from their TLS material (rebuilt when an exec plugin rotates
 * the client certificate, dropped after a timeout).
 *
 * @module
 */
import type { Logger } from "../observability/log.ts";
import { errorText, KubeApiError } from "./api_error.ts";
import type { CredentialProvider, Credentials } from "./credentials.ts";

/** Do not rebuild the connection pool more often than this after timeouts. */
const MIN_TRANSPORT_AGE_MS = 5_000;

/** Options of {@link Transport}. */
export interface TransportOptions {
  /** API server base URL, for messages. */
  host: string;
  credentials: CredentialProvider;
  /** How long credentials are reused before the provider is asked again. */
  credentialsTtlMs: number;
  /** HTTP(S) or SOCKS5 proxy for all requests. */
  proxyUrl?: string;
  log: Logger;
}

interface Pool {
  client: Deno.HttpClient;
  /** Identity of the TLS material the pool was built with. */
  tlsId: string;
  createdAt: number;
}

/** Credentials and the connection pool of one API server. */
export class Transport {
  readonly #o: TransportOptions;
  #credentials?: { value: Promise<Credentials>; expiresAt: number };
  #pool?: Pool;
  /** The last answer was 401: the provider must not serve cached plugin output. */
  #unauthorized = false;

  constructor(options: TransportOptions) {
    this.#o = options;
  }

  /** The current credentials; a failure is a {@link KubeApiError} with status 0. */
  credentials(): Promise<Credentials> {
    const now = performance.now();
    if (!this.#credentials || now >= this.#credentials.expiresAt) {
      const value = this.#o.credentials({ afterUnauthorized: this.#unauthorized });
      this.#unauthorized = false;
      this.#credentials = { value, expiresAt: now + this.#o.credentialsTtlMs };
      // A failed refresh must not be served from the cache.
      value.catch(() => {
        if (this.#credentials?.value === value) this.#credentials = undefined;
      });
    }
    return this.#credentials.value.catch((e) => {
      throw new KubeApiError(`credentials for ${this.#o.host}: ${errorText(e)}`, {
        status: 0,
        cause: e,
      });
    });
  }

  /** The API server answered 401: fetch fresh credentials, bypassing plugin caches. */
  unauthorized(): void {
    this.#credentials = undefined;
    this.#unauthorized = true;
  }

  /** The pool for this TLS material; rebuilt when an exec plugin rotates the client cert. */
  clientFor(credentials: Credentials): Deno.HttpClient {
    const tlsId = JSON.stringify([credentials.caCerts, credentials.cert, credentials.key]);
    if (this.#pool?.tlsId === tlsId) return this.#pool.client;
    this.#pool?.client.close();
    const proxy = this.#o.proxyUrl ? proxyFor(this.#o.proxyUrl) : undefined;
    const tls = credentials.cert && credentials.key
      ? { cert: credentials.cert, key: credentials.key }
      : {};
    this.#pool = {
      client: Deno.createHttpClient({ caCerts: credentials.caCerts, proxy, ...tls }),
      tlsId,
      createdAt: performance.now(),
    };
    return this.#pool.client;
  }

  /**
   * Drops the connection pool after a timeout. Without HTTP/2 health pings
   * (which fetch cannot send), a connection whose peer vanished without a
   * reset stays in the pool until TCP gives up (~15 min), and every request
   * multiplexed on it would time out; a fresh pool dials again. Requests
   * already running on the old pool keep their own deadlines.
   */
  recycle(reason: string): void {
    const pool = this.#pool;
    if (!pool || performance.now() - pool.createdAt < MIN_TRANSPORT_AGE_MS) return;
    this.#o.log.info("dropping API server connections after a timeout", { reason });
    pool.client.close();
    this.#pool = undefined;
  }

  /** Releases the connection pool. */
  close(): void {
    this.#pool?.client.close();
    this.#pool = undefined;
  }
}

function proxyFor(url: string): Deno.Proxy {
  return url.startsWith("socks5") ? { transport: "socks5", url } : { url };
}
