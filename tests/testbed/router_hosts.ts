/**
 * A router-hosts server for e2e tests, on a free loopback port with its own
 * mTLS PKI, database and hosts file in a temp dir.
 *
 * The real server (`ROUTER_HOSTS_BIN`, or the one `build.ts` installed) is
 * used when available; otherwise the protocol emulator in
 * `router_hosts_emulator/`, started with the same CLI and config file. Which
 * one runs, and why, is printed once per process and exposed as `kind`.
 *
 * @module
 */
import { dirname, join } from "node:path";
import { ensureRouterHosts, progress, ROOT, type RouterHostsChoice } from "./build.ts";
import { makeCa, makeClientLeaf, makeServerLeaf } from "./pki.ts";
import { freePort, logTail, type ManagedProcess, spawnManaged, waitForTcp } from "./process.ts";

/** Options for {@linkcode startRouterHosts}. */
export interface RouterHostsOptions {
  /** Force one implementation; default: the real server when available, else the emulator. */
  kind?: "real" | "emulator";
  /** How long to wait for the port to accept connections (default 60 s: the emulator starts a Deno). */
  startTimeoutMs?: number;
  /** Keep the temp dir after dispose(); also when TESTBED_KEEP=1. */
  keepDir?: boolean;
  /**
   * false: serve TLS without asking for a client certificate (clients that
   * verify the server only). The real server always asks, so this runs the
   * emulator with `--no-client-auth`. Default true.
   */
  clientAuth?: boolean;
  /** Also serve on a unix socket (`socketPath`); the emulator only. */
  unixSocket?: boolean;
  /**
   * The emulator waits up to this many ms between a regeneration's list and
   * its hosts-file write (`--hosts-file-jitter-ms`), so overlapping writes
   * can leave the file short as on the real server. The real server has
   * that race by nature and no such knob; it ignores this. Default 0.
   */
  hostsFileJitterMs?: number;
  /**
   * false: answer WatchHosts with UNIMPLEMENTED, as a server from before it
   * does. The real v0.13.0 server implements it, so this runs the emulator
   * with `--no-watch-hosts`. Default true.
   */
  watchHosts?: boolean;
}

/** One line of the generated hosts file. */
export interface HostsFileLine {
  /** IP address. */
  ip: string;
  /** Canonical hostname. */
  hostname: string;
  /** Aliases, in file order (the server sorts them). */
  aliases: string[];
  /** Comment text without tags, or undefined when absent. */
  comment?: string;
  /** Tags from the trailing `[a, b]`, or [] when absent. */
  tags: string[];
}

/** A running router-hosts server and what a test needs to talk to it. */
export interface RouterHostsTestbed {
  /** `localhost:PORT`: dial the name, Deno's TLS refuses IP-address server names. */
  readonly address: string;
  /** The TCP port (bound on 127.0.0.1). */
  readonly port: number;
  /** The unix socket it also serves on, with `unixSocket: true`. */
  readonly socketPath?: string;
  /** False when it does not ask for client certificates (`clientAuth: false`). */
  readonly clientAuth: boolean;
  /** Which implementation serves. */
  readonly kind: "real" | "emulator";
  /** Why that implementation was chosen. */
  readonly why: string;
  /** CA that signed the server certificate and the operator's client certificate. */
  readonly caPath: string;
  /** Key of that CA, to sign more client certificates the server trusts (rotation tests). */
  readonly caKeyPath: string;
  /** Operator client certificate (clientAuth, chained to caPath). */
  readonly clientCertPath: string;
  /** Operator client key. */
  readonly clientKeyPath: string;
  /** A client certificate from another, untrusted CA: the server must refuse it. */
  readonly foreignClientCertPath: string;
  /** Key of the foreign client certificate. */
  readonly foreignClientKeyPath: string;
  /** The foreign CA (to build a client that trusts the server but presents the foreign cert). */
  readonly foreignCaPath: string;
  /** The hosts file the server writes. */
  readonly hostsFilePath: string;
  /** `server.toml`. */
  readonly configPath: string;
  /** The server's log file. */
  readonly logPath: string;
  /** The temp dir. */
  readonly dir: string;
  /** Parses the hosts file (entry lines only; [] when it does not exist yet). */
  readHostsFile(): Promise<HostsFileLine[]>;
  /** Starts the server again (same port, config and data) after stop(). */
  start(): Promise<void>;
  /** Stops the server, keeping its data. */
  stop(): Promise<void>;
  /**
   * SIGKILL, keeping its data: connections drop without the GOAWAY a clean
   * stop sends (a crashed server or a lost node); start() brings it back.
   */
  kill(): Promise<void>;
  /** stop() then start(). */
  restart(): Promise<void>;
  /** SIGSTOP: the port stays open but nothing answers. */
  pause(): void;
  /** SIGCONT. */
  resume(): void;
  /** Stops the server and removes the temp dir (unless kept). */
  dispose(): Promise<void>;
  /** Same as {@linkcode dispose}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

const EMULATOR_DIR = join(ROOT, "tests", "testbed", "router_hosts_emulator");
const EMULATOR_MAIN = join(EMULATOR_DIR, "main.ts");
const EMULATOR_BUNDLE = join(ROOT, ".cache", "testbed", "router-hosts-emulator.mjs");

let bundled: Promise<string> | undefined;

/**
 * The emulator bundled for Node (`deno bundle --platform node`), rebuilt when
 * its sources' content changes. It runs on Node because Deno 2.9's
 * HTTP/2 server can crash inside nghttp2 when a client's GOAWAY arrives
 * (denoland/deno#36788) — and the operator closes idle connections with one.
 */
function emulatorBundle(): Promise<string> {
  bundled ??= (async () => {
    const sources = [
      ...[...Deno.readDirSync(EMULATOR_DIR)].map((e) => join(EMULATOR_DIR, e.name)),
      join(ROOT, "proto", "mod.ts"),
      join(ROOT, "proto", "router_hosts", "v1", "hosts.proto"),
    ];
    // Named by the sources' content, not their mtime: the cache is shared by
    // several checkouts, each of which must run its own emulator.
    const digest = new Uint8Array(
      await crypto.subtle.digest(
        "SHA-256",
        new TextEncoder().encode(sources.sort().map((f) => Deno.readTextFileSync(f)).join("\0")),
      ),
    );
    const hash = [...digest.slice(0, 8)].map((b) => b.toString(16).padStart(2, "0")).join("");
    const bundle = EMULATOR_BUNDLE.replace(/\.mjs$/, `-${hash}.mjs`);
    if (await Deno.stat(bundle).then(() => true, () => false)) return bundle;
    await Deno.mkdir(dirname(bundle), { recursive: true });
    // The output name must end in .mjs: the bundler picks the module format by it.
    const temp = `${bundle}.${Deno.pid}.tmp.mjs`;
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "bundle",
        "--quiet",
        "--platform",
        "node",
        "-o",
        temp,
        join(EMULATOR_DIR, "node_main.ts"),
      ],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) {
      throw new Error(
        `bundling the router-hosts emulator failed: ${new TextDecoder().decode(out.stderr)}`,
      );
    }
    await Deno.rename(temp, bundle);
    return bundle;
  })();
  return bundled;
}

let announced = false;

/** Starts router-hosts (real or emulator) with fresh PKI, database and hosts file. */
export async function startRouterHosts(opts: RouterHostsOptions = {}): Promise<RouterHostsTestbed> {
  const clientAuth = opts.clientAuth ?? true;
  const emulatorOnly = !clientAuth
    ? "the real server always asks for a client certificate (clientAuth: false)"
    : opts.unixSocket
    ? "the real server does not serve on a unix socket (unixSocket: true)"
    : opts.watchHosts === false
    ? "the real server implements WatchHosts (watchHosts: false)"
    : undefined;
  if (emulatorOnly && opts.kind === "real") {
    throw new Error(`the test requires the real router-hosts server, but ${emulatorOnly}`);
  }
  const choice = emulatorOnly
    ? { kind: "emulator" as const, why: emulatorOnly }
    : await choose(opts.kind);
  if (emulatorOnly) {
    progress(`router-hosts: using the EMULATOR for this test: ${emulatorOnly}`);
  } else if (!announced) {
    announced = true;
    progress(
      choice.kind === "real"
        ? `router-hosts: using the REAL server ${choice.path} (${choice.why})`
        : `router-hosts: using the EMULATOR ${
          rel(EMULATOR_MAIN)
        } because the real server is unavailable: ${choice.why}`,
    );
  }

  const dir = await Deno.makeTempDir({ prefix: "testbed-router-hosts-" });
  const keepDir = opts.keepDir ?? Deno.env.get("TESTBED_KEEP") === "1";
  const pkiDir = join(dir, "pki");
  const dataDir = join(dir, "data");
  await Deno.mkdir(pkiDir);
  await Deno.mkdir(dataDir);

  const ca = await makeCa(pkiDir, { name: "ca", commonName: "testbed-router-hosts-ca" });
  const foreignCa = await makeCa(pkiDir, { name: "foreign-ca", commonName: "testbed-foreign-ca" });
  const [serverLeaf, client, foreign] = await Promise.all([
    makeServerLeaf(pkiDir, ca, { name: "server", commonName: "router-hosts" }),
    makeClientLeaf(pkiDir, ca, { name: "operator", commonName: "router-hosts-operator" }),
    makeClientLeaf(pkiDir, foreignCa, { name: "foreign", commonName: "foreign" }),
  ]);

  const port = freePort();
  const socketPath = opts.unixSocket ? join(dir, "router-hosts.sock") : undefined;
  const hostsFilePath = join(dir, "hosts");
  const configPath = join(dir, "server.toml");
  const logPath = join(dir, "router-hosts.log");
  await Deno.writeTextFile(
    configPath,
    [
      "[server]",
      `bind_address = ${toml(`127.0.0.1:${port}`)}`,
      `hosts_file_path = ${toml(hostsFilePath)}`,
      "",
      "[database]",
      `path = ${toml(join(dataDir, "router-hosts.db"))}`,
      "",
      "[tls]",
      `cert_path = ${toml(serverLeaf.certPath)}`,
      `key_path = ${toml(serverLeaf.keyPath)}`,
      `ca_cert_path = ${toml(ca.certPath)}`,
      "",
    ].join("\n"),
    // The server refuses a config file that is group- or world-writable.
    { mode: 0o600 },
  );

  const [command, args] = choice.kind === "real"
    ? [choice.path, ["serve", "--config", configPath]]
    : ["node", [
      await emulatorBundle(),
      "serve",
      "--config",
      configPath,
      ...(clientAuth ? [] : ["--no-client-auth"]),
      ...(socketPath ? ["--unix-socket", socketPath] : []),
      ...(opts.hostsFileJitterMs ? ["--hosts-file-jitter-ms", String(opts.hostsFileJitterMs)] : []),
      ...(opts.watchHosts === false ? ["--no-watch-hosts"] : []),
    ]];
  const startTimeoutMs = opts.startTimeoutMs ?? 60_000;

  let proc: ManagedProcess | undefined;
  async function start(): Promise<void> {
    if (proc && !proc.exited) return;
    const started = performance.now();
    const p = spawnManaged({
      name: `router-hosts (${choice.kind})`,
      command,
      args,
      logPath,
      cwd: ROOT,
    });
    proc = p;
    try {
      await waitForTcp("127.0.0.1", port, startTimeoutMs, () => !p.exited);
    } catch (e) {
      await p.stop();
      throw new Error(
        `router-hosts (${choice.kind}) did not start on 127.0.0.1:${port}: ${
          (e as Error).message
        }. ` +
          `Last lines of ${logPath}:\n${logTail(logPath)}`,
      );
    }
    progress(
      `router-hosts (${choice.kind}) serving on localhost:${port} after ${
        Math.round(performance.now() - started)
      } ms`,
    );
  }
  async function stop(): Promise<void> {
    await proc?.stop();
  }
  async function kill(): Promise<void> {
    proc?.signal("SIGKILL");
    await proc?.status;
  }
  let disposed = false;
  async function dispose(): Promise<void> {
    if (disposed) return;
    disposed = true;
    await stop();
    if (keepDir) progress(`router-hosts test bed files kept in ${dir}`);
    else await Deno.remove(dir, { recursive: true }).catch(() => {});
  }

  try {
    await start();
  } catch (e) {
    await dispose();
    throw e;
  }

  return {
    address: `localhost:${port}`,
    port,
    socketPath,
    clientAuth,
    kind: choice.kind,
    why: choice.why,
    caPath: ca.certPath,
    caKeyPath: ca.keyPath,
    clientCertPath: client.certPath,
    clientKeyPath: client.keyPath,
    foreignClientCertPath: foreign.certPath,
    foreignClientKeyPath: foreign.keyPath,
    foreignCaPath: foreignCa.certPath,
    hostsFilePath,
    configPath,
    logPath,
    dir,
    async readHostsFile() {
      try {
        return parseHostsFile(await Deno.readTextFile(hostsFilePath));
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) return [];
        throw e;
      }
    },
    start,
    stop,
    kill,
    async restart() {
      await stop();
      await start();
    },
    pause: () => proc?.signal("SIGSTOP"),
    resume: () => proc?.signal("SIGCONT"),
    dispose,
    [Symbol.asyncDispose]: dispose,
  };
}

/**
 * Parses router-hosts' hosts file: `IP<TAB>hostname[ alias ...][<TAB># comment [tag1, tag2]]`,
 * skipping `#` header lines and blank lines.
 */
export function parseHostsFile(text: string): HostsFileLine[] {
  const lines: HostsFileLine[] = [];
  for (const raw of text.split("\n")) {
    if (raw.trim() === "" || raw.startsWith("#")) continue;
    const [ip, names = "", ...rest] = raw.split("\t");
    const [hostname = "", ...aliases] = names.split(" ").filter(Boolean);
    const line: HostsFileLine = { ip, hostname, aliases, tags: [] };
    let suffix = rest.join("\t").trim();
    if (suffix.startsWith("#")) {
      suffix = suffix.slice(1).trim();
      // Tags are the last bracketed group; a comment may itself contain brackets.
      const m = suffix.match(/(?:^|\s)\[([^\[\]]*)\]$/);
      if (m) {
        line.tags = m[1].split(",").map((t) => t.trim()).filter(Boolean);
        suffix = suffix.slice(0, m.index).trim();
      }
      if (suffix !== "") line.comment = suffix;
    }
    lines.push(line);
  }
  return lines;
}

async function choose(forced: "real" | "emulator" | undefined): Promise<RouterHostsChoice> {
  if (forced === "emulator") {
    return { kind: "emulator", why: "requested by the test (kind: emulator)" };
  }
  const choice = await ensureRouterHosts();
  if (forced === "real" && choice.kind !== "real") {
    throw new Error(
      `the test requires the real router-hosts server, which is unavailable: ${choice.why}`,
    );
  }
  if (choice.kind === "emulator") {
    try {
      await Deno.stat(EMULATOR_MAIN);
    } catch {
      throw new Error(
        `neither router-hosts implementation is available: the real server is not (${choice.why}) and the ` +
          `emulator ${
            rel(EMULATOR_MAIN)
          } does not exist. Provide ROUTER_HOSTS_BIN=/path/to/router-hosts.`,
      );
    }
  }
  return choice;
}

// TOML basic strings use JSON's escapes for the characters that can occur in paths.
function toml(value: string): string {
  return JSON.stringify(value);
}

function rel(path: string): string {
  return path.startsWith(ROOT) ? path.slice(ROOT.length) : path;
}
