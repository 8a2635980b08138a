/**
 * router-hosts protocol emulator: a test double that speaks the router-hosts
 * v0.13.0 gRPC API over mutual TLS, for test beds where the real server
 * cannot be installed. It is NOT router-hosts; see README.md for what it
 * reproduces and what it does not.
 *
 * Usage (the same as the real binary, as far as the test bed uses it):
 *
 *     deno run -A tests/testbed/router_hosts_emulator/main.ts serve --config server.toml
 *
 * Test-bed options the real server does not have: `--no-client-auth`
 * (TLS without asking for a client certificate, for clients that verify the
 * server only), `--unix-socket PATH` (also serve on a unix socket),
 * `--hosts-file-jitter-ms N` (wait up to N ms between a regeneration's list
 * and its hosts-file write, so overlapping writes reorder; regenerate.ts) and
 * `--no-watch-hosts` (answer WatchHosts with UNIMPLEMENTED, as a server
 * from before WatchHosts does).
 *
 * @module
 */
import * as grpc from "@grpc/grpc-js";
import { Buffer } from "node:buffer";
import * as fs from "node:fs";
import process from "node:process";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { constants as http2Constants } from "node:http2";
import type { Http2SecureServer, Http2Session, SecureServerOptions } from "node:http2";
import type { SecureContextOptions } from "node:tls";
import { parseArgs } from "node:util";
import { hostsPackageDefinition } from "../../../proto/mod.ts";
import {
  type HostEntry,
  HostsStore,
  HostsStoreError,
  parseSnapshot,
  renderHostsFile,
  type StoreSnapshot,
} from "./store.ts";
import { parseJitterMs, regenerator } from "./regenerate.ts";
import { ChangeNotifier, watchHostsHandler } from "./watch.ts";

const USAGE = "usage: main.ts serve --config <server.toml> [--no-client-auth] " +
  "[--unix-socket <path>] [--hosts-file-jitter-ms <ms>] [--no-watch-hosts]";

/** The real server waits this long for in-flight RPCs on SIGTERM/SIGINT. */
const GRACEFUL_SHUTDOWN_MS = 30_000;

/** The real server's keepalive enforcement: client pings closer together than this earn a strike. */
const MIN_CLIENT_PING_INTERVAL_MS = 15_000;

/** Like grpc-go: the third strike in a row (more than two) closes the connection. */
const MAX_PING_STRIKES = 2;

function log(message: string): void {
  console.error(`${new Date().toISOString()} router-hosts emulator ${message}`);
}

/** A startup failure: printed as one line, exit status 1, like the real server. */
class FatalError extends Error {}

// --- Configuration -------------------------------------------------------------

/** The settings the emulator reads from the real server's TOML config. */
interface EmulatorConfig {
  bindAddress: string;
  hostsFilePath: string;
  databasePath: string;
  certPath: string;
  keyPath: string;
  caCertPath: string;
}

type TomlValue = string | number | boolean;

/** Keys the emulator understands, per table. */
const KNOWN_KEYS: Record<string, readonly string[]> = {
  server: ["bind_address", "hosts_file_path"],
  database: ["path"],
  tls: ["cert_path", "key_path", "ca_cert_path"],
};

/** Tables the real server accepts whose behaviour (hooks, retention, metrics) is not emulated. */
const NOT_EMULATED_TABLES = new Set(["retention", "hooks", "metrics"]);

function parseTomlString(raw: string, where: string): { value: string; rest: string } {
  if (raw.startsWith("'")) {
    const end = raw.indexOf("'", 1);
    if (end < 0) throw new FatalError(`${where}: unterminated string`);
    return { value: raw.slice(1, end), rest: raw.slice(end + 1) };
  }
  let value = "";
  for (let i = 1; i < raw.length; i++) {
    const c = raw[i];
    if (c === '"') return { value, rest: raw.slice(i + 1) };
    if (c !== "\\") {
      value += c;
      continue;
    }
    const e = raw[++i];
    const simple: Record<string, string> = {
      '"': '"',
      "\\": "\\",
      b: "\b",
      t: "\t",
      n: "\n",
      f: "\f",
      r: "\r",
    };
    if (e in simple) {
      value += simple[e];
    } else if (e === "u" || e === "U") {
      const digits = e === "u" ? 4 : 8;
      const hex = raw.slice(i + 1, i + 1 + digits);
      if (!new RegExp(`^[0-9a-fA-F]{${digits}}$`).test(hex)) {
        throw new FatalError(`${where}: bad \\${e} escape`);
      }
      value += String.fromCodePoint(parseInt(hex, 16));
      i += digits;
    } else {
      throw new FatalError(`${where}: bad escape \\${e ?? ""}`);
    }
  }
  throw new FatalError(`${where}: unterminated string`);
}

/**
 * The small part of TOML a router-hosts server config uses: `[table]`
 * headers and `key = value` lines with string, integer or boolean values.
 * Anything richer is refused rather than guessed at.
 */
function parseToml(text: string): Map<string, Map<string, TomlValue>> {
  const tables = new Map<string, Map<string, TomlValue>>([["", new Map()]]);
  let current = "";
  for (const [index, rawLine] of text.split(/\r?\n/).entries()) {
    const where = `line ${index + 1}`;
    const line = rawLine.trim();
    if (line === "" || line.startsWith("#")) continue;
    const header = /^(\[\[?)\s*([A-Za-z0-9_.-]+)\s*(\]\]?)\s*(#.*)?$/.exec(line);
    if (header) {
      const name = header[2];
      const root = name.split(".")[0];
      if (header[1] !== "[" || header[3] !== "]" || name.includes(".")) {
        if (NOT_EMULATED_TABLES.has(root)) {
          throw new FatalError(
            `${where}: [${root}] is a router-hosts setting the emulator does not implement`,
          );
        }
        throw new FatalError(`${where}: unsupported table header ${line}`);
      }
      if (tables.has(name)) throw new FatalError(`${where}: table [${name}] defined twice`);
      tables.set(name, new Map());
      current = name;
      continue;
    }
    const pair = /^([A-Za-z0-9_-]+)\s*=\s*(.*)$/.exec(line);
    if (!pair) throw new FatalError(`${where}: expected "key = value"`);
    const [, key, rawValue] = pair;
    let value: TomlValue;
    let rest: string;
    if (rawValue.startsWith('"') || rawValue.startsWith("'")) {
      if (rawValue.startsWith('"""') || rawValue.startsWith("'''")) {
        throw new FatalError(`${where}: multi-line strings are not supported`);
      }
      ({ value, rest } = parseTomlString(rawValue, where));
    } else {
      const scalar = /^(true|false|[+-]?[0-9][0-9_]*)(.*)$/.exec(rawValue);
      if (!scalar) throw new FatalError(`${where}: unsupported value ${rawValue}`);
      value = scalar[1] === "true"
        ? true
        : scalar[1] === "false"
        ? false
        : Number(scalar[1].replaceAll("_", ""));
      rest = scalar[2];
    }
    if (!/^\s*(#.*)?$/.test(rest)) throw new FatalError(`${where}: unexpected text after value`);
    const table = tables.get(current) as Map<string, TomlValue>;
    if (table.has(key)) throw new FatalError(`${where}: key ${key} defined twice`);
    table.set(key, value);
  }
  return tables;
}

function defaultDatabasePath(): string {
  // The real server's default: $XDG_DATA_HOME or ~/.local/share, then router-hosts/hosts.db.
  const dataHome = process.env.XDG_DATA_HOME ||
    `${process.env.HOME ?? ""}/.local/share`;
  return `${dataHome}/router-hosts/hosts.db`;
}

/** Reads and checks the config file: not group/world-writable, known keys only, required keys present. */
function loadConfig(path: string): EmulatorConfig {
  let info: fs.Stats;
  try {
    info = fs.statSync(path);
  } catch (e) {
    throw new FatalError(`load config: stat config file: ${(e as Error).message}`);
  }
  const mode = (info.mode ?? 0) & 0o777;
  if (mode & 0o022) {
    throw new FatalError(
      `load config: file "${path}" is group- or world-writable (mode ${
        mode.toString(8).padStart(4, "0")
      }); fix with: chmod go-w ${path}`,
    );
  }
  let tables: Map<string, Map<string, TomlValue>>;
  try {
    tables = parseToml(fs.readFileSync(path, "utf8"));
  } catch (e) {
    throw new FatalError(`load config: parse config file: ${(e as Error).message}`);
  }
  const unknown: string[] = [];
  for (const [table, keys] of tables) {
    if (NOT_EMULATED_TABLES.has(table)) {
      throw new FatalError(
        `load config: [${table}] is a router-hosts setting the emulator does not implement`,
      );
    }
    const known = KNOWN_KEYS[table] ?? [];
    for (const key of keys.keys()) {
      if (!known.includes(key)) unknown.push(table === "" ? key : `${table}.${key}`);
    }
  }
  if (unknown.length > 0) {
    throw new FatalError(`load config: unknown keys: ${unknown.join(", ")}`);
  }
  const get = (table: string, key: string): string | undefined => {
    const value = tables.get(table)?.get(key);
    if (value !== undefined && typeof value !== "string") {
      throw new FatalError(`load config: ${table}.${key} must be a string`);
    }
    return value;
  };
  const required = (table: string, key: string): string => {
    const value = get(table, key);
    if (value === undefined || value === "") {
      throw new FatalError(`load config: config: ${key} is required`);
    }
    return value;
  };
  return {
    bindAddress: required("server", "bind_address"),
    hostsFilePath: required("server", "hosts_file_path"),
    databasePath: get("database", "path") || defaultDatabasePath(),
    certPath: required("tls", "cert_path"),
    keyPath: required("tls", "key_path"),
    caCertPath: required("tls", "ca_cert_path"),
  };
}

// --- Files ---------------------------------------------------------------------------

function dirname(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash < 0 ? "." : slash === 0 ? "/" : path.slice(0, slash);
}

/**
 * Writes via a temp file in the same directory, fsync, then rename, so a
 * reader (or a crash) never sees half a file. Synchronous on purpose: the
 * database save finishes before the next RPC runs, which orders commits
 * the way the real server's single write queue does (hosts-file writes may
 * still reorder with --hosts-file-jitter-ms; regenerate.ts).
 */
function writeFileAtomic(path: string, text: string, mode: number): void {
  const slash = path.lastIndexOf("/");
  const temp = `${dirname(path)}/.${path.slice(slash + 1)}.${process.pid}.${
    crypto.randomUUID().slice(0, 8)
  }.tmp`;
  const data = new TextEncoder().encode(text);
  try {
    const fd = fs.openSync(temp, "wx", mode);
    try {
      let written = 0;
      while (written < data.length) written += fs.writeSync(fd, data, written);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(temp, path);
  } catch (e) {
    try {
      fs.rmSync(temp);
    } catch {
      // The temp file was never created or is already renamed.
    }
    throw e;
  }
}

function openDatabase(path: string): HostsStore {
  const dir = dirname(path);
  try {
    if (!fs.statSync(dir).isDirectory()) throw new Error("not a directory");
  } catch (e) {
    throw new FatalError(
      `open database: directory ${dir} is not usable: ${(e as Error).message}`,
    );
  }
  let text: string;
  try {
    text = fs.readFileSync(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return new HostsStore();
    throw new FatalError(`open database: ${(e as Error).message}`);
  }
  try {
    return new HostsStore({ snapshot: parseSnapshot(JSON.parse(text)) });
  } catch (e) {
    throw new FatalError(
      `open database: ${path} is not a database written by this emulator: ${(e as Error).message}`,
    );
  }
}

function saveDatabase(path: string, snapshot: StoreSnapshot): void {
  writeFileAtomic(path, JSON.stringify(snapshot, null, 2) + "\n", 0o600);
}

function writeHostsFile(path: string, entries: HostEntry[]): void {
  writeFileAtomic(path, renderHostsFile(entries, Date.now()), 0o644);
}

// --- TLS -------------------------------------------------------------------------------

/**
 * Server credentials whose certificate can be swapped while serving (SIGHUP),
 * with TLS 1.3 as the minimum and a client certificate required and verified
 * against the CA — the real server's policy. grpc-js's createSsl offers
 * neither a minimum version nor reloading; its credential base class lets a
 * subclass push new secure-context options to the listening server.
 */
class ReloadableServerCredentials extends grpc.ServerCredentials {
  /**
   * Credentials serving `context` (CA, certificate, key); `clientAuth` false
   * (test beds only) does not ask for a client certificate.
   */
  constructor(context: SecureContextOptions, clientAuth = true) {
    const serverOptions: SecureServerOptions = {
      requestCert: clientAuth,
      rejectUnauthorized: clientAuth,
      minVersion: "TLSv1.3",
    };
    super(serverOptions, context);
  }

  /** Serves new handshakes with `context`; open connections keep theirs. */
  reload(context: SecureContextOptions): void {
    this.updateSecureContextOptions(context);
  }

  override _equals(other: grpc.ServerCredentials): boolean {
    return other === this;
  }
}

function readTlsContext(config: EmulatorConfig, ca: Buffer): SecureContextOptions {
  const read = (what: string, path: string): Buffer => {
    try {
      return fs.readFileSync(path);
    } catch (e) {
      throw new FatalError(`${what} ${path}: ${(e as Error).message}`);
    }
  };
  const cert = read("load server certificate", config.certPath);
  const key = read("load server key", config.keyPath);
  // Checked here because a bad pair handed to a listening grpc-js server
  // makes it drop every new connection instead of keeping the old pair.
  try {
    if (!new X509Certificate(cert).checkPrivateKey(createPrivateKey(key))) {
      throw new Error("private key does not match public key");
    }
  } catch (e) {
    throw new FatalError(
      `load server certificate ${config.certPath} / key ${config.keyPath}: ${(e as Error).message}`,
    );
  }
  // The settings that must hold after a reload too (setSecureContext replaces them all).
  return { ca, cert, key, minVersion: "TLSv1.3" };
}

// --- Keepalive enforcement ----------------------------------------------------------------

/**
 * grpc-js has no server-side ping policy, so the real server's is rebuilt on
 * the HTTP/2 sessions: a client ping less than 15 s after the previous one is
 * a strike; strikes reset whenever the server starts answering a new call
 * (grpc-go resets them when it sends headers or data); the third strike gets
 * GOAWAY ENHANCE_YOUR_CALM "too_many_pings" and the connection is closed.
 * Pings on idle connections are allowed (PermitWithoutStream).
 */
function enforcePingPolicy(server: grpc.Server): void {
  // grpc-js keeps its HTTP/2 listeners in a field that is private to
  // TypeScript only; reaching it is the one way to see client pings.
  const listeners = (server as unknown as { http2Servers?: unknown }).http2Servers;
  if (!(listeners instanceof Map)) {
    log("WARNING: cannot reach grpc-js's HTTP/2 listeners; client ping rate is NOT enforced");
    return;
  }
  for (const listener of listeners.keys() as Iterable<Http2SecureServer>) {
    listener.on("session", (session: Http2Session) => watchPings(session));
  }
}

function watchPings(session: Http2Session): void {
  let lastPingAt: number | undefined;
  let strikes = 0;
  let lastStreamId = 0;
  session.on("stream", (stream: { id?: number }) => {
    strikes = 0;
    lastStreamId = Math.max(lastStreamId, stream.id ?? 0);
  });
  session.on("ping", () => {
    const now = performance.now();
    if (lastPingAt !== undefined && now - lastPingAt < MIN_CLIENT_PING_INTERVAL_MS) strikes++;
    lastPingAt = now;
    if (strikes <= MAX_PING_STRIKES || session.destroyed) return;
    log("closing a connection: client pings more often than every 15 s (too_many_pings)");
    session.goaway(
      http2Constants.NGHTTP2_ENHANCE_YOUR_CALM,
      lastStreamId,
      Buffer.from("too_many_pings"),
    );
    // Let the GOAWAY frame leave before the socket closes.
    setTimeout(() => session.destroy(), 50);
  });
}

// --- The service -------------------------------------------------------------------------

interface WireTimestamp {
  seconds: string;
  nanos: number;
}

interface WireHostEntry {
  id: string;
  ipAddress: string;
  hostname: string;
  comment?: string;
  tags: string[];
  aliases: string[];
  createdAt: WireTimestamp;
  updatedAt: WireTimestamp;
  version: string;
}

interface ValuesWrapper {
  values?: string[] | null;
}

/** Requests as @grpc/proto-loader decodes them (camelCase; absent optionals are undefined). */
interface AddHostRequest {
  ipAddress: string;
  hostname: string;
  comment?: string;
  tags?: string[];
  aliases?: string[];
}
interface IdRequest {
  id: string;
}
interface UpdateHostRequest {
  id: string;
  ipAddress?: string;
  hostname?: string;
  comment?: string;
  expectedVersion?: string;
  aliases?: ValuesWrapper | null;
  tags?: ValuesWrapper | null;
}
interface DeleteHostRequest {
  id: string;
  expectedVersion?: string;
}
interface SearchHostsRequest {
  query?: string;
}

function timestamp(ms: number): WireTimestamp {
  return { seconds: String(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1_000_000 };
}

function toWire(entry: HostEntry): WireHostEntry {
  const wire: WireHostEntry = {
    id: entry.id,
    ipAddress: entry.ipAddress,
    hostname: entry.hostname,
    tags: [...entry.tags],
    aliases: [...entry.aliases],
    createdAt: timestamp(entry.createdAtMs),
    updatedAt: timestamp(entry.updatedAtMs),
    version: String(entry.version),
  };
  if (entry.comment !== undefined) wire.comment = entry.comment;
  return wire;
}

function toStatus(error: unknown): { code: grpc.status; details: string } {
  if (error instanceof HostsStoreError) {
    return { code: grpc.status[error.code], details: error.message };
  }
  // The real server never shows internal detail to clients; the log gets it.
  log(`internal error: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
  return { code: grpc.status.INTERNAL, details: "internal server error" };
}

function logCall(method: string, peer: string, status: grpc.status, detail: string): void {
  const suffix = detail === "" ? "" : `: ${detail}`;
  log(`rpc ${method} from ${peer} -> ${grpc.status[status]}${suffix}`);
}

function unary<Req, Res>(
  method: string,
  handle: (request: Req) => Res | Promise<Res>,
): grpc.handleUnaryCall<Req, Res> {
  return async (call, callback) => {
    const peer = call.getPeer();
    let response: Res;
    try {
      response = await handle(call.request);
    } catch (e) {
      const status = toStatus(e);
      logCall(method, peer, status.code, status.details);
      callback(status);
      return;
    }
    logCall(method, peer, grpc.status.OK, "");
    callback(null, response);
  };
}

function serverStream<Req, Res>(
  method: string,
  handle: (request: Req) => Res[],
): grpc.handleServerStreamingCall<Req, Res> {
  return (call) => {
    const peer = call.getPeer();
    let responses: Res[];
    try {
      responses = handle(call.request);
    } catch (e) {
      const status = toStatus(e);
      logCall(method, peer, status.code, status.details);
      call.emit("error", status);
      return;
    }
    for (const response of responses) call.write(response);
    call.end();
    logCall(method, peer, grpc.status.OK, `${responses.length} entries`);
  };
}

function hostsService(
  store: HostsStore,
  config: EmulatorConfig,
  hostsFileJitterMs: number,
  watchHosts: boolean,
): grpc.UntypedServiceImplementation {
  const changes = new ChangeNotifier();
  /**
   * Every successful write is saved and the hosts file regenerated before
   * the RPC answers (regenerate.ts: list, then write, not serialized with
   * other writes' regenerations). A failed save rolls the state back and
   * answers INTERNAL; a failed hosts-file write is only logged, as the real
   * server does.
   */
  const regenerate = regenerator({
    list: () => store.listHosts(),
    write: (entries) => writeHostsFile(config.hostsFilePath, entries),
    jitterMs: hostsFileJitterMs,
    onError: (e, method) => log(`hosts file regeneration failed after ${method}: ${e.message}`),
  });
  const write = async <T>(method: string, change: () => T): Promise<T> => {
    const before = store.snapshot();
    const result = change();
    try {
      saveDatabase(config.databasePath, store.snapshot());
    } catch (e) {
      store.restore(before);
      throw new Error(`saving ${config.databasePath} failed: ${(e as Error).message}`);
    }
    // Committed: WatchHosts followers are woken first, as the real server does.
    changes.notify();
    await regenerate(method);
    return result;
  };

  return {
    AddHost: unary("AddHost", (req: AddHostRequest) =>
      write("AddHost", () => {
        const entry = store.addHost({
          ipAddress: req.ipAddress ?? "",
          hostname: req.hostname ?? "",
          comment: req.comment,
          tags: req.tags ?? [],
          aliases: req.aliases ?? [],
        });
        return { id: entry.id, entry: toWire(entry) };
      })),
    GetHost: unary("GetHost", (req: IdRequest) => ({ entry: toWire(store.getHost(req.id ?? "")) })),
    UpdateHost: unary("UpdateHost", (req: UpdateHostRequest) =>
      write("UpdateHost", () => ({
        entry: toWire(store.updateHost({
          id: req.id ?? "",
          ipAddress: req.ipAddress,
          hostname: req.hostname,
          comment: req.comment,
          expectedVersion: req.expectedVersion,
          aliases: req.aliases ? req.aliases.values ?? [] : undefined,
          tags: req.tags ? req.tags.values ?? [] : undefined,
        })),
      }))),
    DeleteHost: unary("DeleteHost", (req: DeleteHostRequest) =>
      write("DeleteHost", () => {
        store.deleteHost({ id: req.id ?? "", expectedVersion: req.expectedVersion });
        return { success: true };
      })),
    ListHosts: serverStream(
      "ListHosts",
      () => store.listHosts().map((e) => ({ entry: toWire(e) })),
    ),
    SearchHosts: serverStream(
      "SearchHosts",
      (req: SearchHostsRequest) =>
        store.searchHosts(req.query ?? "").map((e) => ({ entry: toWire(e) })),
    ),
    Liveness: unary("Liveness", () => ({ alive: true })),
    Readiness: unary("Readiness", () => ({ ready: true, reason: "" })),
    // Left out, grpc-js answers UNIMPLEMENTED: a server from before WatchHosts.
    ...(watchHosts
      ? {
        WatchHosts: watchHostsHandler(
          {
            changeId: () => String(store.eventCount).padStart(26, "0"),
            list: () => store.listHosts().map(toWire),
          },
          changes,
          log,
        ),
      }
      : {}),
  };
}

// --- Process -------------------------------------------------------------------------------

function bind(server: grpc.Server, address: string, credentials: grpc.ServerCredentials) {
  return new Promise<number>((resolve, reject) => {
    server.bindAsync(address, credentials, (error, port) => {
      if (error) reject(new FatalError(`listen on ${address}: ${error.message}`));
      else resolve(port);
    });
  });
}

/** Test-bed options the real server does not have. */
interface ServeOptions {
  /** Ask for and verify a client certificate (the real server always does). */
  clientAuth: boolean;
  /** Also serve on this unix socket. */
  unixSocket?: string;
  /** Serve WatchHosts (the real v0.13.0 server does); false answers UNIMPLEMENTED. */
  watchHosts: boolean;
  /** The longest wait between a regeneration's list and its hosts-file write (regenerate.ts). */
  hostsFileJitterMs: number;
}

async function serve(configPath: string, options: ServeOptions): Promise<void> {
  const config = loadConfig(configPath);
  const store = openDatabase(config.databasePath);
  try {
    saveDatabase(config.databasePath, store.snapshot());
  } catch (e) {
    throw new FatalError(`open database: ${(e as Error).message}`);
  }
  try {
    writeHostsFile(config.hostsFilePath, store.listHosts());
  } catch (e) {
    throw new FatalError(`write hosts file: ${(e as Error).message}`);
  }

  let ca: Buffer;
  try {
    ca = fs.readFileSync(config.caCertPath);
    // Parsed only to refuse a file that is no certificate, as the real server does.
    new X509Certificate(ca);
  } catch (e) {
    throw new FatalError(`configure TLS: read CA certificate: ${(e as Error).message}`);
  }
  let credentials: ReloadableServerCredentials;
  try {
    credentials = new ReloadableServerCredentials(readTlsContext(config, ca), options.clientAuth);
  } catch (e) {
    throw new FatalError(`configure TLS: ${(e as Error).message}`);
  }

  const server = new grpc.Server();
  const definition = hostsPackageDefinition()["router_hosts.v1.HostsService"];
  server.addService(
    definition as grpc.ServiceDefinition,
    hostsService(store, config, options.hostsFileJitterMs, options.watchHosts),
  );
  const port = await bind(server, config.bindAddress, credentials);
  if (options.unixSocket) {
    fs.rmSync(options.unixSocket, { force: true });
    await bind(server, `unix:${options.unixSocket}`, credentials);
  }
  enforcePingPolicy(server);

  const host = config.bindAddress.slice(0, config.bindAddress.lastIndexOf(":"));
  log(
    `serving on ${host}:${port} (router-hosts v0.13.0 protocol emulator, not the real server; ` +
      `database ${config.databasePath}, hosts file ${config.hostsFilePath})` +
      (options.unixSocket ? `, and on unix:${options.unixSocket}` : "") +
      (options.clientAuth ? "" : "; NOT asking for client certificates (--no-client-auth)") +
      (options.hostsFileJitterMs > 0
        ? `; hosts-file writes wait up to ${options.hostsFileJitterMs} ms after their list`
        : "") +
      (options.watchHosts ? "" : "; WatchHosts answers UNIMPLEMENTED (--no-watch-hosts)"),
  );

  process.on("SIGHUP", () => {
    log("received SIGHUP, reloading TLS certificates");
    try {
      credentials.reload(readTlsContext(config, ca));
      log("TLS certificates reloaded successfully");
    } catch (e) {
      log(`failed to reload certificates, keeping the old ones: ${(e as Error).message}`);
    }
  });

  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log(`received ${signal}, draining connections`);
      const force = setTimeout(() => {
        log("graceful shutdown timed out, forcing stop");
        server.forceShutdown();
        resolve();
      }, GRACEFUL_SHUTDOWN_MS);
      server.tryShutdown(() => {
        clearTimeout(force);
        log("graceful shutdown complete");
        resolve();
      });
    };
    process.on("SIGTERM", () => stop("SIGTERM"));
    process.on("SIGINT", () => stop("SIGINT"));
  });
}

/** Runs the CLI; returns the exit status. */
export async function main(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: {
        config: { type: "string" },
        help: { type: "boolean", short: "h" },
        "no-client-auth": { type: "boolean" },
        "unix-socket": { type: "string" },
        "hosts-file-jitter-ms": { type: "string" },
        "no-watch-hosts": { type: "boolean" },
      },
      allowPositionals: true,
    });
  } catch (e) {
    console.error(`${(e as Error).message}\n${USAGE}`);
    return 1;
  }
  if (parsed.values.help) {
    console.error(USAGE);
    return 0;
  }
  if (parsed.positionals.length !== 1 || parsed.positionals[0] !== "serve") {
    console.error(`expected the "serve" command\n${USAGE}`);
    return 1;
  }
  if (!parsed.values.config) {
    console.error(`required flag "config" not set\n${USAGE}`);
    return 1;
  }
  let hostsFileJitterMs;
  try {
    hostsFileJitterMs = parseJitterMs(parsed.values["hosts-file-jitter-ms"]);
  } catch (e) {
    console.error(`${(e as Error).message}\n${USAGE}`);
    return 1;
  }
  try {
    await serve(parsed.values.config, {
      clientAuth: !parsed.values["no-client-auth"],
      unixSocket: parsed.values["unix-socket"],
      hostsFileJitterMs,
      watchHosts: !parsed.values["no-watch-hosts"],
    });
    return 0;
  } catch (e) {
    if (!(e instanceof FatalError)) throw e;
    log(`error: ${e.message}`);
    return 1;
  }
}

if (import.meta.main) process.exit(await main(process.argv.slice(2)));
