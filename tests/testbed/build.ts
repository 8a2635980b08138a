/**
 * Builds the test bed's binaries into `.cache/testbed/bin/` from the pinned Go
 * modules, and tells the harness where each binary is.
 *
 * Versions are pinned in `versions.json` and, for Go, in the tools modules'
 * `go.mod` files; this script refuses to run when the two disagree. A binary
 * is rebuilt only when its pinned version changes: each has a
 * `<name>.stamp.json` beside it recording the version it was built from.
 *
 * Prebuilt binaries skip the build:
 * - `KUBEBUILDER_ASSETS`: a directory holding `kube-apiserver` and `etcd` (envtest's layout)
 * - `KUBE_APISERVER_BIN`, `ETCD_BIN`, `HELM_BIN`, `ROUTER_HOSTS_BIN`, `EXTERNAL_DNS_BIN`: one file each (win over KUBEBUILDER_ASSETS)
 *
 * external-dns (the real one, for the webhook provider's e2e tests) is built
 * with `go install <module>@<version>` under the Go toolchain pinned beside it
 * in versions.json (`GOTOOLCHAIN=go1.27.3` for that build only: it needs Go
 * 1.27, and the go command fetches that toolchain from the module proxy).
 * A cold build takes about 10 minutes.
 *
 * router-hosts is installed with `go install <module>@<version>` once per
 * version per day; the outcome (with the exact error) is kept in
 * `.cache/testbed/router-hosts.json`. While it is unavailable the harness runs
 * the protocol emulator instead, unless `ROUTER_HOSTS_REQUIRE_REAL=1`, which
 * makes a missing real server a hard failure.
 *
 * The real CRDs of the watched kinds (Traefik, Gateway API) are fetched by
 * `crds.ts` from their Go modules; the `crds` argument fetches them here so a
 * test run does not pay for the download inside a test's timeout.
 *
 * Usage: `deno run -A tests/testbed/build.ts [etcd|kube-apiserver|helm|router-hosts|crds|external-dns ...]`
 * (no arguments: all of them).
 *
 * @module
 */
import { dirname, join } from "node:path";
import { CRD_SET_NAMES, ensureCrdSet } from "./crds.ts";
import { progress, ROOT, TestbedSetupError } from "./setup.ts";
import versions from "./versions.json" with { type: "json" };

export { progress, ROOT, TestbedSetupError };
/** Where built binaries live (git-ignored). */
export const BIN_DIR: string = join(ROOT, ".cache", "testbed", "bin");
/** The pinned versions (`tests/testbed/versions.json`). */
export const VERSIONS: Readonly<typeof versions> = versions;

const TOOLS_DIR = join(ROOT, "tests", "testbed", "tools");
const ROUTER_HOSTS_RECORD = join(ROOT, ".cache", "testbed", "router-hosts.json");
const ROUTER_HOSTS_MODULE = "github.com/fzymgc-house/router-hosts";
const ROUTER_HOSTS_PKG = `${ROUTER_HOSTS_MODULE}/cmd/router-hosts`;
const INSTALL_RETRY_MS = 24 * 60 * 60 * 1000;
const MIN_GO_TOOLS = [1, 26, 0]; // the tools modules' `go` line
const MIN_GO_ROUTER_HOSTS = [1, 26, 5]; // router-hosts v0.13.0's minimum

/** A test-bed binary built from a Go package in one of our tools modules. */
export type GoToolName = "etcd" | "kube-apiserver" | "helm";

interface GoTool {
  name: GoToolName;
  version: string;
  /** The module whose version pins the tool (checked in go.mod and in the binary's build info). */
  module: string;
  /** Directory of the tools module that builds it. */
  moduleDir: string;
  /** Package to build, relative to moduleDir or a full import path. */
  pkg: string;
  /** Single-binary override variable. */
  envVar: string;
  /** Whether KUBEBUILDER_ASSETS can provide it. */
  inKubebuilderAssets: boolean;
}

const GO_TOOLS: Record<GoToolName, GoTool> = {
  "etcd": {
    name: "etcd",
    version: versions.etcd,
    module: "go.etcd.io/etcd/server/v3",
    moduleDir: TOOLS_DIR,
    pkg: "./etcd",
    envVar: "ETCD_BIN",
    inKubebuilderAssets: true,
  },
  "kube-apiserver": {
    name: "kube-apiserver",
    version: versions.kubernetes,
    module: "k8s.io/kubernetes",
    moduleDir: TOOLS_DIR,
    pkg: "k8s.io/kubernetes/cmd/kube-apiserver",
    envVar: "KUBE_APISERVER_BIN",
    inKubebuilderAssets: true,
  },
  // helm v3.22 requires k8s.io/* v0.37, which conflicts with the v0.36 replaces
  // kube-apiserver needs, so it has a module of its own.
  "helm": {
    name: "helm",
    version: versions.helm,
    module: "helm.sh/helm/v3",
    moduleDir: join(TOOLS_DIR, "helm"),
    pkg: "helm.sh/helm/v3/cmd/helm",
    envVar: "HELM_BIN",
    inKubebuilderAssets: false,
  },
};

/** Where a binary came from, for progress lines and error messages. */
export interface ResolvedBinary {
  /** Absolute path of the executable. */
  path: string;
  /** Human-readable origin, e.g. `ETCD_BIN`, `built from k8s.io/kubernetes v1.36.3`. */
  source: string;
}

/** How the harness will run router-hosts, and why. */
export type RouterHostsChoice =
  | { kind: "real"; path: string; why: string }
  | { kind: "emulator"; why: string };

interface Stamp {
  version: string;
  module: string;
  builtAt: string;
  buildSeconds?: number;
  goVersion?: string;
  adoptedFromBuildInfo?: boolean;
}

interface InstallRecord {
  version: string;
  module: string;
  attemptedAt: string;
  ok: boolean;
  seconds: number;
  error?: string;
  binary?: string;
}

/**
 * Returns the binary for `name`, building it first when it is missing or was
 * built from another version. Env overrides win and are never built.
 */
export async function ensureGoTool(name: GoToolName): Promise<ResolvedBinary> {
  const tool = GO_TOOLS[name];
  const override = overrideFor(tool);
  if (override) return override;

  const path = join(BIN_DIR, name);
  const stamp = await readJson<Stamp>(stampPath(name));
  if (stamp?.version === tool.version && await isExecutable(path)) {
    return { path, source: `built from ${tool.module} ${tool.version}` };
  }
  await checkPins();
  const go = await requireGo(`build ${name}`, tool.envVar, MIN_GO_TOOLS);
  if (
    !stamp && await isExecutable(path) && await buildInfoVersion(path, tool.module) === tool.version
  ) {
    // Built by hand (or by an earlier version of this script) from the right version: keep it.
    await writeStamp(name, {
      version: tool.version,
      module: tool.module,
      adoptedFromBuildInfo: true,
    });
    progress(
      `${name} ${tool.version}: adopted existing ${
        rel(path)
      } (its build info says ${tool.module} ${tool.version})`,
    );
    return { path, source: `built from ${tool.module} ${tool.version}` };
  }
  await buildGoTool(tool, go, stamp?.version);
  return { path, source: `built from ${tool.module} ${tool.version}` };
}

/**
 * Decides between the real router-hosts server and the emulator. Tries `go
 * install` of the pinned version at most once per version per day (the outcome
 * is recorded), honours ROUTER_HOSTS_BIN, and throws when
 * ROUTER_HOSTS_REQUIRE_REAL=1 and no real server is available.
 */
export async function ensureRouterHosts(): Promise<RouterHostsChoice> {
  const choice = await chooseRouterHosts();
  if (choice.kind === "emulator" && Deno.env.get("ROUTER_HOSTS_REQUIRE_REAL") === "1") {
    throw new TestbedSetupError(
      `ROUTER_HOSTS_REQUIRE_REAL=1 but the real router-hosts server is not available: ${choice.why}. ` +
        `Provide it with ROUTER_HOSTS_BIN=/path/to/router-hosts (${ROUTER_HOSTS_MODULE} ${versions.routerHosts}), ` +
        `or unset ROUTER_HOSTS_REQUIRE_REAL to use the emulator.`,
    );
  }
  return choice;
}

async function chooseRouterHosts(): Promise<RouterHostsChoice> {
  const fromEnv = Deno.env.get("ROUTER_HOSTS_BIN");
  if (fromEnv) {
    await requireExecutable(fromEnv, "ROUTER_HOSTS_BIN");
    return { kind: "real", path: fromEnv, why: `ROUTER_HOSTS_BIN=${fromEnv}` };
  }
  const path = join(BIN_DIR, "router-hosts");
  const want = versions.routerHosts;
  const stamp = await readJson<Stamp>(stampPath("router-hosts"));
  if (stamp?.version === want && await isExecutable(path)) {
    return { kind: "real", path, why: `installed ${ROUTER_HOSTS_MODULE} ${want} at ${rel(path)}` };
  }
  const record = await readJson<InstallRecord>(ROUTER_HOSTS_RECORD);
  if (record && record.version === want && !record.ok) {
    const age = Date.now() - Date.parse(record.attemptedAt);
    if (age < INSTALL_RETRY_MS) {
      const retryAt = new Date(Date.parse(record.attemptedAt) + INSTALL_RETRY_MS).toISOString();
      return {
        kind: "emulator",
        why: `go install ${ROUTER_HOSTS_PKG}@${want} failed at ${record.attemptedAt} (${
          firstLine(record.error ?? "")
        }); next attempt after ${retryAt} (delete ${rel(ROUTER_HOSTS_RECORD)} to retry now)`,
      };
    }
  }
  let go: string;
  try {
    go = await requireGo("install router-hosts", "ROUTER_HOSTS_BIN", MIN_GO_ROUTER_HOSTS);
  } catch (e) {
    return { kind: "emulator", why: (e as Error).message };
  }
  const result = await installRouterHosts(go, want);
  return result.ok
    ? { kind: "real", path, why: `installed ${ROUTER_HOSTS_MODULE} ${want} at ${rel(path)}` }
    : {
      kind: "emulator",
      why: `go install ${ROUTER_HOSTS_PKG}@${want} failed: ${firstLine(result.error ?? "")}`,
    };
}

async function installRouterHosts(go: string, version: string): Promise<InstallRecord> {
  progress(
    `router-hosts ${version}: go install ${ROUTER_HOSTS_PKG}@${version} (GOBIN=${rel(BIN_DIR)})`,
  );
  await Deno.mkdir(BIN_DIR, { recursive: true });
  const started = performance.now();
  const out = await new Deno.Command(go, {
    args: ["install", `${ROUTER_HOSTS_PKG}@${version}`],
    cwd: ROOT,
    env: { GOBIN: BIN_DIR },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const seconds = round((performance.now() - started) / 1000);
  const error = out.success
    ? undefined
    : new TextDecoder().decode(out.stderr).trim() || `exit ${out.code}`;
  const record: InstallRecord = {
    version,
    module: ROUTER_HOSTS_MODULE,
    attemptedAt: new Date().toISOString(),
    ok: out.success,
    seconds,
    ...(error ? { error } : { binary: join(BIN_DIR, "router-hosts") }),
  };
  await Deno.mkdir(dirname(ROUTER_HOSTS_RECORD), { recursive: true });
  await Deno.writeTextFile(ROUTER_HOSTS_RECORD, JSON.stringify(record, null, 2) + "\n");
  if (out.success) {
    await writeStamp("router-hosts", {
      version,
      module: ROUTER_HOSTS_MODULE,
      buildSeconds: seconds,
    });
    progress(`router-hosts ${version}: installed in ${seconds} s`);
  } else {
    progress(
      `router-hosts ${version}: NOT AVAILABLE after ${seconds} s; the exact error (recorded in ${
        rel(ROUTER_HOSTS_RECORD)
      }):\n${indent(error ?? "")}`,
    );
  }
  return record;
}

async function buildGoTool(tool: GoTool, go: string, previous: string | undefined): Promise<void> {
  await Deno.mkdir(BIN_DIR, { recursive: true });
  const out = join(BIN_DIR, tool.name);
  // Build next to the target and rename, so a concurrent user never runs a half-written file.
  const tmp = `${out}.tmp-${Deno.pid}`;
  const why = previous ? `stamp says ${previous}, pinned ${tool.version}` : "not built yet";
  progress(
    `${tool.name} ${tool.version}: building ${tool.pkg} in ${
      rel(tool.moduleDir)
    } (${why}); a cold build takes minutes`,
  );
  const started = performance.now();
  const heartbeat = setInterval(() => {
    progress(
      `${tool.name}: still building (${Math.round((performance.now() - started) / 1000)} s)`,
    );
  }, 30_000);
  let status: Deno.CommandStatus;
  try {
    status = await new Deno.Command(go, {
      args: ["build", "-o", tmp, tool.pkg],
      cwd: tool.moduleDir,
      stdout: "inherit",
      stderr: "inherit",
    }).spawn().status;
  } finally {
    clearInterval(heartbeat);
  }
  const seconds = round((performance.now() - started) / 1000);
  if (!status.success) {
    await Deno.remove(tmp).catch(() => {});
    throw new TestbedSetupError(
      `go build of ${tool.pkg} (${tool.module} ${tool.version}) failed with exit ${status.code} after ${seconds} s ` +
        `(its errors are printed above). Fix the tools module ${
          rel(tool.moduleDir)
        } or provide a prebuilt binary ` +
        `with ${tool.envVar}${tool.inKubebuilderAssets ? " or KUBEBUILDER_ASSETS" : ""}.`,
    );
  }
  await Deno.rename(tmp, out);
  await writeStamp(tool.name, {
    version: tool.version,
    module: tool.module,
    buildSeconds: seconds,
    goVersion: await goVersion(go),
  });
  progress(`${tool.name} ${tool.version}: built in ${seconds} s -> ${rel(out)}`);
}

function overrideFor(tool: GoTool): ResolvedBinary | undefined {
  const single = Deno.env.get(tool.envVar);
  if (single) {
    requireExecutableSync(single, tool.envVar);
    return { path: single, source: tool.envVar };
  }
  const assets = tool.inKubebuilderAssets ? Deno.env.get("KUBEBUILDER_ASSETS") : undefined;
  if (assets) {
    const path = join(assets, tool.name);
    requireExecutableSync(path, `KUBEBUILDER_ASSETS (${assets})`);
    return { path, source: `KUBEBUILDER_ASSETS=${assets}` };
  }
  return undefined;
}

/** Fails when versions.json and a tools module's go.mod pin different versions. */
async function checkPins(): Promise<void> {
  for (const tool of Object.values(GO_TOOLS)) {
    const goMod = join(tool.moduleDir, "go.mod");
    const text = await Deno.readTextFile(goMod);
    const m = text.match(
      new RegExp(`^\\s*(?:require\\s+)?${escapeRegExp(tool.module)}\\s+(v\\S+)`, "m"),
    );
    if (m?.[1] !== tool.version) {
      throw new TestbedSetupError(
        `tests/testbed/versions.json pins ${tool.name} ${tool.version} but ${
          rel(goMod)
        } requires ${tool.module} ${
          m?.[1] ?? "(nothing)"
        }: change both together (for kubernetes also the k8s.io/* replace block).`,
      );
    }
  }
}

async function requireGo(purpose: string, envVar: string, min: number[]): Promise<string> {
  const version = await goVersion("go").catch(() => undefined);
  if (!version) {
    throw new TestbedSetupError(
      `cannot ${purpose}: no \`go\` on PATH. Install Go >= ${
        min.join(".")
      } (the test bed builds its binaries ` +
        `from pinned Go modules), or provide a prebuilt binary with ${envVar}` +
        (["ROUTER_HOSTS_BIN", "HELM_BIN", "EXTERNAL_DNS_BIN"].includes(envVar)
          ? "."
          : " or KUBEBUILDER_ASSETS."),
    );
  }
  if (olderThan(version, min)) {
    throw new TestbedSetupError(
      `cannot ${purpose}: ${version} is older than the go${
        min.join(".")
      } the pinned modules need. ` +
        `Install a newer Go, or provide a prebuilt binary with ${envVar}.`,
    );
  }
  return "go";
}

async function goVersion(go: string): Promise<string> {
  const out = await new Deno.Command(go, {
    args: ["env", "GOVERSION"],
    stdout: "piped",
    stderr: "null",
  }).output();
  if (!out.success) throw new Error(`go env failed (exit ${out.code})`);
  return new TextDecoder().decode(out.stdout).trim();
}

async function buildInfoVersion(path: string, module: string): Promise<string | undefined> {
  const out = await new Deno.Command("go", {
    args: ["version", "-m", path],
    stdout: "piped",
    stderr: "null",
  })
    .output();
  if (!out.success) return undefined;
  const text = new TextDecoder().decode(out.stdout);
  return text.match(new RegExp(`^\\s*(?:mod|dep)\\s+${escapeRegExp(module)}\\s+(\\S+)`, "m"))?.[1];
}

/** True when a `go1.X.Y` version string is below `min` ([major, minor, patch]). */
function olderThan(version: string, min: number[]): boolean {
  const m = version.match(/^go(\d+)\.(\d+)(?:\.(\d+))?/);
  if (!m) return false; // a devel toolchain: let the build itself judge
  const have = [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
  for (let i = 0; i < min.length; i++) {
    if (have[i] !== min[i]) return have[i] < min[i];
  }
  return false;
}

function stampPath(name: string): string {
  return join(BIN_DIR, `${name}.stamp.json`);
}

async function writeStamp(name: string, stamp: Omit<Stamp, "builtAt">): Promise<void> {
  const full: Stamp = { ...stamp, builtAt: new Date().toISOString() };
  await Deno.writeTextFile(stampPath(name), JSON.stringify(full, null, 2) + "\n");
}

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await Deno.readTextFile(path)) as T;
  } catch {
    return undefined;
  }
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    const info = await Deno.stat(path);
    return info.isFile && ((info.mode ?? 0) & 0o111) !== 0;
  } catch {
    return false;
  }
}

async function requireExecutable(path: string, from: string): Promise<void> {
  if (!await isExecutable(path)) {
    throw new TestbedSetupError(`${from} points to ${path}, which is not an executable file`);
  }
}

function requireExecutableSync(path: string, from: string): void {
  let ok = false;
  try {
    const info = Deno.statSync(path);
    ok = info.isFile && ((info.mode ?? 0) & 0o111) !== 0;
  } catch {
    ok = false;
  }
  if (!ok) {
    throw new TestbedSetupError(`${from} points to ${path}, which is not an executable file`);
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function rel(path: string): string {
  return path.startsWith(ROOT) ? path.slice(ROOT.length) : path;
}

function firstLine(text: string): string {
  return text.split("\n").map((l) => l.trim()).filter(Boolean).join(" ").slice(0, 400);
}

function indent(text: string): string {
  return text.split("\n").map((l) => `    ${l}`).join("\n");
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

/**
 * Returns the external-dns binary: EXTERNAL_DNS_BIN, else the cached build of
 * the pinned version, else a fresh `go install` (minutes). A failed build is
 * a hard failure: the webhook tests have no stand-in.
 */
export async function ensureExternalDns(): Promise<ResolvedBinary> {
  const fromEnv = Deno.env.get("EXTERNAL_DNS_BIN");
  if (fromEnv) {
    await requireExecutable(fromEnv, "EXTERNAL_DNS_BIN");
    return { path: fromEnv, source: `EXTERNAL_DNS_BIN=${fromEnv}` };
  }
  const pin = versions.externalDns;
  const path = join(BIN_DIR, "external-dns");
  const source = `built from ${pin.module} ${pin.version}`;
  const stamp = await readJson<Stamp>(stampPath("external-dns"));
  if (stamp?.version === pin.version && await isExecutable(path)) return { path, source };
  const go = await requireGo("build external-dns", "EXTERNAL_DNS_BIN", MIN_GO_TOOLS);
  const pkg = `${pin.module}@${pin.version}`;
  progress(
    `external-dns ${pin.version}: go install ${pkg} with GOTOOLCHAIN=${pin.goToolchain} (GOBIN=${
      rel(BIN_DIR)
    }); a cold build takes about 10 minutes`,
  );
  await Deno.mkdir(BIN_DIR, { recursive: true });
  // Install into a private GOBIN and rename, so a concurrent user never runs a half-written file.
  const gobin = await Deno.makeTempDir({ dir: BIN_DIR, prefix: ".external-dns-" });
  const started = performance.now();
  const heartbeat = setInterval(() => {
    progress(
      `external-dns: still building (${Math.round((performance.now() - started) / 1000)} s)`,
    );
  }, 30_000);
  let status: Deno.CommandStatus;
  try {
    status = await new Deno.Command(go, {
      args: ["install", pkg],
      cwd: ROOT,
      env: { GOBIN: gobin, GOTOOLCHAIN: pin.goToolchain },
      stdout: "inherit",
      stderr: "inherit",
    }).spawn().status;
  } finally {
    clearInterval(heartbeat);
  }
  const seconds = round((performance.now() - started) / 1000);
  if (!status.success) {
    await Deno.remove(gobin, { recursive: true }).catch(() => {});
    throw new TestbedSetupError(
      `go install ${pkg} (GOTOOLCHAIN=${pin.goToolchain}) failed with exit ${status.code} after ${seconds} s ` +
        `(its errors are printed above). Provide a prebuilt binary with EXTERNAL_DNS_BIN.`,
    );
  }
  await Deno.rename(join(gobin, "external-dns"), path);
  await Deno.remove(gobin, { recursive: true });
  await writeStamp("external-dns", {
    version: pin.version,
    module: pin.module,
    buildSeconds: seconds,
    goVersion: pin.goToolchain,
  });
  progress(`external-dns ${pin.version}: built in ${seconds} s -> ${rel(path)}`);
  return { path, source };
}

const ALL = ["etcd", "kube-apiserver", "helm", "router-hosts", "crds", "external-dns"] as const;

async function main(args: string[]): Promise<number> {
  const wanted = args.length ? args : [...ALL];
  const unknown = wanted.filter((a) => !(ALL as readonly string[]).includes(a));
  if (unknown.length) {
    console.error(`unknown tool(s): ${unknown.join(", ")}; choose from ${ALL.join(", ")}`);
    return 2;
  }
  const started = performance.now();
  let failed = false;
  for (const name of wanted) {
    const t0 = performance.now();
    try {
      if (name === "crds") {
        for (const set of CRD_SET_NAMES) {
          progress(`${set} CRDs: ${(await ensureCrdSet(set)).length} file(s) ready`);
        }
      } else if (name === "external-dns") {
        const bin = await ensureExternalDns();
        progress(`external-dns: ${bin.path} (${bin.source})`);
      } else if (name === "router-hosts") {
        const choice = await ensureRouterHosts();
        progress(
          choice.kind === "real"
            ? `router-hosts: real server ${choice.path} (${choice.why})`
            : `router-hosts: emulator will be used (${choice.why})`,
        );
      } else {
        const bin = await ensureGoTool(name as GoToolName);
        progress(
          `${name}: ${bin.path} (${bin.source}) [${round((performance.now() - t0) / 1000)} s]`,
        );
      }
    } catch (e) {
      failed = true;
      progress(
        `${name}: FAILED: ${e instanceof TestbedSetupError ? e.message : (e as Error).stack}`,
      );
    }
  }
  progress(
    `done in ${round((performance.now() - started) / 1000)} s${failed ? " (with failures)" : ""}`,
  );
  return failed ? 1 : 0;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
