/**
 * The typed router-hosts client: the only code that talks to the server.
 *
 * Every call has a deadline, failures become {@link RouterHostsError} with an
 * {@link Outcome}, and connection failures over TLS are diagnosed so the
 * error names the cause instead of a bare UNAVAILABLE.
 *
 * @module
 */
import * as grpc from "@grpc/grpc-js";
import { checkServerIdentity } from "node:tls";
import { Buffer } from "node:buffer";
import {
  decodeBoolResponse,
  decodeEntryResponse,
  decodeWatchHostsResponse,
  encodeAddHostRequest,
  encodeDeleteHostRequest,
  encodeEmpty,
  encodeGetHostRequest,
  encodeSearchHostsRequest,
  encodeUpdateHostRequest,
  encodeWatchHostsRequest,
  type WatchHostsMessage,
  type WireHostEntry,
} from "../proto/hosts_codec.ts";
import { codeName, RouterHostsError } from "./errors.ts";
import type { HostEntry, HostsPort, HostUpdate, NewHost } from "./hosts_port.ts";
import { isIpLiteral, parseTarget, type ServerTarget } from "./target.ts";
import { secureContextOf, type TlsMaterial } from "./tls.ts";
import { diagnoseTls } from "./tls_diagnosis.ts";

/** What a WatchHosts follow stream reports, in order: messages, then exactly one end. */
export interface WatchHandlers {
  message(msg: WatchHostsMessage): void;
  /** The stream ended: `error` is undefined only when the server closed it with OK. */
  end(error: RouterHostsError | undefined): void;
}

/** An open WatchHosts stream. */
export interface WatchCall {
  /** Ends the stream from our side; `end` still follows (CANCELLED). */
  cancel(): void;
}

/** How a WatchHosts stream ends when the client takes a new identity (replaceTls): reopen at once. */
export const WATCH_ROTATED = "client identity replaced; the stream reopens with it";

/** Called after every RPC, for metrics: method, status code name ("OK", ...), seconds. */
export type CallObserver = (method: string, code: string, seconds: number) => void;

/** How to reach the server. */
export interface ClientOptions {
  /** host:port, or a dns:, ipv4:, ipv6: or unix: target (see target.ts). */
  address: string;
  /** The TLS roots and client identity; undefined means plaintext (--insecure). */
  tls?: TlsMaterial;
  /** Deadline of each call in milliseconds (default 10 s). */
  deadlineMs?: number;
  /**
   * Close the connection after this long without calls (default 5 s, minimum
   * 1 s). Deno 2.9 can crash inside nghttp2 when a server's GOAWAY reaches an
   * idle HTTP/2 session (denoland/deno#36788, e.g. on a clean server
   * restart); holding no idle connection avoids most of that window.
   */
  idleTimeoutMs?: number;
  observer?: CallObserver;
}

/** Keepalive pings at least 20 s apart: the server closes connections that ping more often than every 15 s. */
const KEEPALIVE_MS = 30_000;

const SERVICE = "/router_hosts.v1.HostsService/";

/** How one RPC's messages are written and read (see proto/hosts_codec.ts). */
interface Codec<Req, Res> {
  encode: (req: Req) => Uint8Array;
  decode: (buf: Uint8Array) => Res;
}

function serializer<Req>(encode: (req: Req) => Uint8Array): (req: Req) => Buffer {
  return (req) => {
    const bytes = encode(req);
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  };
}

function toEntry(w: WireHostEntry | undefined): HostEntry {
  if (!w) throw new Error("router-hosts returned a response without an entry");
  const entry: HostEntry = {
    id: w.id,
    ipAddress: w.ipAddress,
    hostname: w.hostname,
    tags: w.tags ?? [],
    aliases: w.aliases ?? [],
    version: w.version,
  };
  if (w.comment !== undefined) entry.comment = w.comment;
  return entry;
}

/** A typed, deadline-bound router-hosts client. */
export class RouterHostsClient implements HostsPort {
  readonly address: string;
  readonly #target: ServerTarget;
  readonly #deadlineMs: number;
  readonly #idleTimeoutMs: number;
  readonly #observer?: CallObserver;
  #tls?: TlsMaterial;
  #stub: grpc.Client;
  #lastDiagnosis?: { at: number; text: string | undefined };
  /** Open WatchHosts streams: a new identity (replaceTls) ends them, so they reopen with it. */
  readonly #watches = new Set<{ cancel(): void }>();

  constructor(options: ClientOptions) {
    this.address = options.address;
    this.#target = parseTarget(options.address);
    this.#deadlineMs = options.deadlineMs ?? 10_000;
    this.#idleTimeoutMs = options.idleTimeoutMs ?? 5_000;
    this.#observer = options.observer;
    this.#tls = options.tls;
    this.#stub = this.#makeStub(options.tls);
  }

  #makeStub(material: TlsMaterial | undefined): grpc.Client {
    const channelOptions: grpc.ChannelOptions = {
      "grpc.keepalive_time_ms": KEEPALIVE_MS,
      "grpc.keepalive_timeout_ms": 10_000,
      "grpc.keepalive_permit_without_calls": 0,
      "grpc.max_reconnect_backoff_ms": 10_000,
      "grpc.client_idle_timeout_ms": this.#idleTimeoutMs,
    };
    let creds: grpc.ChannelCredentials;
    const target = this.#target;
    if (material) {
      const name = target.tlsName;
      creds = grpc.credentials.createFromSecureContext(secureContextOf(material), {
        // The certificate must name the host we dial, IP literals included;
        // a unix socket has no name, so only the chain is verified.
        checkServerIdentity: (_name, cert) =>
          name === undefined ? undefined : checkServerIdentity(name, cert),
      });
      if (name === undefined || isIpLiteral(name)) {
        // Deno refuses an IP address as TLS servername (SNI); present a
        // placeholder name and verify the IP SAN ourselves above.
        channelOptions["grpc.ssl_target_name_override"] = "router-hosts";
        channelOptions["grpc.default_authority"] = name === undefined ? "localhost" : this.address;
      }
    } else {
      creds = grpc.credentials.createInsecure();
    }
    return new grpc.Client(target.grpcTarget, creds, channelOptions);
  }

  /**
   * Swaps in a new client identity (certificate rotation). New calls use it;
   * calls in flight finish on the old connection, which is then closed.
   */
  replaceTls(material: TlsMaterial): void {
    const old = this.#stub;
    this.#tls = material;
    this.#stub = this.#makeStub(material);
    this.#lastDiagnosis = undefined;
    for (const call of this.#watches) call.cancel();
    setTimeout(() => old.close(), this.#deadlineMs).unref?.();
  }

  /**
   * Opens a WatchHosts stream in follow mode: a full snapshot now and a fresh
   * one after every change, until either side ends it. No deadline (it is
   * meant to stay open); the request side is never half-closed, because the
   * server ends a follow stream when its client does. Not counted in the
   * call observer: it is one long read, not a request.
   */
  watchHosts(handlers: WatchHandlers): WatchCall {
    const call = this.#stub.makeBidiStreamRequest(
      SERVICE + "WatchHosts",
      serializer(encodeWatchHostsRequest),
      decodeWatchHostsResponse,
      new grpc.Metadata(),
      {},
    );
    /** Why we ended it ourselves, when we did. */
    let endedBecause: string | undefined;
    const open = {
      cancel: () => {
        endedBecause = WATCH_ROTATED;
        call.cancel();
      },
    };
    this.#watches.add(open);
    call.on("data", (msg: WatchHostsMessage) => handlers.message(msg));
    // grpc-js reports a failure both as "error" and as "status"; "status" comes exactly once.
    call.on("error", () => {});
    call.on("status", (status: grpc.StatusObject) => {
      this.#watches.delete(open);
      if (status.code === grpc.status.OK) {
        handlers.end(undefined);
        return;
      }
      if (endedBecause) {
        handlers.end(
          new RouterHostsError({
            code: status.code,
            method: "WatchHosts",
            address: this.address,
            serverMessage: endedBecause,
          }),
        );
        return;
      }
      const err = Object.assign(new Error(status.details), status) as grpc.ServiceError;
      this.#fail("WatchHosts", err, Date.now() + 3_000).then(
        (e) => handlers.end(e),
        (e) => handlers.end(e),
      );
    });
    call.write({ follow: true });
    this.#endOnGoAway(() => !this.#watches.has(open), () => {
      endedBecause = "the server is closing the connection (GOAWAY)";
      call.cancel();
    });
    return { cancel: () => call.cancel() };
  }

  /**
   * A server shutting down cleanly sends GOAWAY and then waits for open
   * streams to finish (router-hosts: up to 30 s). grpc-js keeps a follow
   * stream open on the old connection, so the channel leaving READY while
   * it is open ends it: the server stops at once and the caller reconnects.
   */
  #endOnGoAway(ended: () => boolean, end: () => void): void {
    const channel = this.#stub.getChannel();
    const watch = (last: grpc.connectivityState) => {
      channel.watchConnectivityState(last, Infinity, () => {
        if (ended()) return;
        const now = channel.getConnectivityState(false);
        if (last === grpc.connectivityState.READY && now !== last) end();
        else watch(now);
      });
    };
    watch(channel.getConnectivityState(false));
  }

  /** Creates an entry; returns it with its id and version. */
  async addHost(host: NewHost): Promise<HostEntry> {
    const res = await this.#unary("AddHost", host, {
      encode: encodeAddHostRequest,
      decode: (buf) => decodeEntryResponse(buf, 2),
    });
    return toEntry(res.entry);
  }

  /** Reads one entry by id. */
  async getHost(id: string): Promise<HostEntry> {
    const res = await this.#unary("GetHost", { id }, {
      encode: encodeGetHostRequest,
      decode: (buf) => decodeEntryResponse(buf, 1),
    });
    return toEntry(res.entry);
  }

  /** Changes an entry, guarded by `expectedVersion`. */
  async updateHost(update: HostUpdate): Promise<HostEntry> {
    const res = await this.#unary("UpdateHost", update, {
      encode: encodeUpdateHostRequest,
      decode: (buf) => decodeEntryResponse(buf, 1),
    });
    return toEntry(res.entry);
  }

  /** Deletes an entry; unconditional unless `expectedVersion` is given. */
  async deleteHost(id: string, expectedVersion?: string): Promise<void> {
    await this.#unary("DeleteHost", { id, expectedVersion }, {
      encode: encodeDeleteHostRequest,
      decode: decodeBoolResponse,
    });
  }

  /** The server's loose search (substring over ip, hostname, comment, tags). */
  searchHosts(query: string): Promise<HostEntry[]> {
    return this.#stream("SearchHosts", { query }, encodeSearchHostsRequest);
  }

  /** Every entry on the server. */
  listHosts(): Promise<HostEntry[]> {
    return this.#stream("ListHosts", {}, encodeEmpty);
  }

  /** Entries whose ip and hostname are exactly these (the server's search is loose). */
  async findExact(ipAddress: string, hostname: string): Promise<HostEntry[]> {
    const found = await this.searchHosts(hostname);
    const want = hostname.toLowerCase();
    return found.filter((e) => e.ipAddress === ipAddress && e.hostname.toLowerCase() === want);
  }

  /** True when the server answers its liveness RPC. */
  async liveness(): Promise<boolean> {
    return await this.#unary("Liveness", {}, { encode: encodeEmpty, decode: decodeBoolResponse });
  }

  /** Closes the connection. */
  close(): void {
    this.#stub.close();
  }

  #unary<Req, Res>(method: string, req: Req, codec: Codec<Req, Res>): Promise<Res> {
    const started = performance.now();
    const deadline = Date.now() + this.#deadlineMs;
    return new Promise<Res>((resolve, reject) => {
      this.#stub.makeUnaryRequest(
        SERVICE + method,
        serializer(codec.encode),
        codec.decode,
        req,
        new grpc.Metadata(),
        { deadline },
        (err, res) => {
          this.#observe(method, err ? err.code : grpc.status.OK, started);
          if (err) this.#fail(method, err, deadline).then(reject, reject);
          else resolve(res as Res);
        },
      );
    });
  }

  #stream<Req>(
    method: string,
    req: Req,
    encode: (req: Req) => Uint8Array,
  ): Promise<HostEntry[]> {
    const started = performance.now();
    const deadline = Date.now() + this.#deadlineMs;
    return new Promise<HostEntry[]>((resolve, reject) => {
      const out: HostEntry[] = [];
      const call = this.#stub.makeServerStreamRequest(
        SERVICE + method,
        serializer(encode),
        (buf: Uint8Array) => decodeEntryResponse(buf, 1),
        req,
        new grpc.Metadata(),
        { deadline },
      );
      call.on("data", (msg: { entry?: WireHostEntry }) => out.push(toEntry(msg.entry)));
      call.on("error", (err: grpc.ServiceError) => {
        this.#observe(method, err.code, started);
        this.#fail(method, err, deadline).then(reject, reject);
      });
      call.on("end", () => {
        this.#observe(method, grpc.status.OK, started);
        resolve(out);
      });
    });
  }

  #observe(method: string, code: number, started: number): void {
    this.#observer?.(method, codeName(code), (performance.now() - started) / 1000);
  }

  async #fail(method: string, err: grpc.ServiceError, deadline: number): Promise<RouterHostsError> {
    // grpc-js ends connection errors with "Resolution note: " even when it has no note.
    let serverMessage = stableDetails(err.details || err.message);
    if (err.code === grpc.status.UNAVAILABLE && this.#tls) {
      const diagnosis = await this.#diagnose(deadline);
      if (diagnosis) serverMessage = `${diagnosis}; ${serverMessage}`;
    }
    return new RouterHostsError({ code: err.code, method, address: this.address, serverMessage });
  }

  /**
   * A TLS diagnosis, cached for a few seconds so an outage does not multiply
   * handshakes. It runs within what is left of the call's deadline (at least
   * 250 ms, at most 3 s), so a failing call still settles about on time.
   */
  async #diagnose(deadline: number): Promise<string | undefined> {
    const now = Date.now();
    if (this.#lastDiagnosis && now - this.#lastDiagnosis.at < 5_000) {
      return this.#lastDiagnosis.text;
    }
    const budgetMs = Math.min(3_000, Math.max(250, deadline - now));
    const text = await diagnoseTls(this.#target.probe, this.#target.tlsName, this.#tls!, budgetMs);
    this.#lastDiagnosis = { at: now, text };
    return text;
  }
}

/**
 * grpc-js's connection-error text without its noise: the empty trailing
 * "Resolution note", timestamps and "Last error: null". The same failure
 * then reads the same on every retry, so status is not rewritten and Events
 * aggregate.
 */
export function stableDetails(details: string): string {
  return details
    .replace(/\.?\s*Resolution note:\s*$/, ".")
    .replace(/\s*\(\d{4}-\d\d-\d\dT[\d:.]+Z\)/g, "")
    .replace(/\s*Last error: null\.?/g, "")
    .trim();
}
