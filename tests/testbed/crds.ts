/**
 * The CRDs the test bed installs: ours from `chart/crds/`, and the real ones
 * of the kinds the operator watches, taken from their projects' published Go
 * modules — Traefik's (`github.com/traefik/traefik/v3`) and the Gateway API's
 * standard channel (`sigs.k8s.io/gateway-api`, `config/crd/standard/`) — and
 * the Prometheus Operator's ServiceMonitor, which the chart renders.
 *
 * A downloaded set is fetched once with `go mod download -json` (module cache
 * in `.cache/testbed/gomod/`), checked against the module sum pinned in
 * `versions.json`, and its CRD files copied to
 * `.cache/testbed/crds/<set>@<version>/` with a `stamp.json`; a set is
 * fetched again only when its pinned version changes. Nothing is committed.
 *
 * ```ts
 * await installCrds(kube, "router-hosts", "traefik");
 * // later, for "operator started before the CRDs" tests:
 * await installCrds(kube, "gateway-api");
 * ```
 *
 * @module
 */
import { basename, join } from "node:path";
import { progress, ROOT, TestbedSetupError } from "./setup.ts";
import versions from "./versions.json" with { type: "json" };

/** A named set of CRDs the harness can install. */
export type CrdSetName = "router-hosts" | "traefik" | "gateway-api" | "prometheus-operator";

/** Every set, in the order `build.ts` fetches them. */
export const CRD_SET_NAMES: readonly CrdSetName[] = [
  "router-hosts",
  "traefik",
  "gateway-api",
  "prometheus-operator",
];

/** A set that comes from a Go module: which module, and where its CRDs are in it. */
interface ModuleSet {
  /** Key in `versions.json`'s `crds`. */
  pin: keyof typeof versions.crds;
  /** Directory inside the module. */
  dir: string;
  /** Files in `dir`; every file in it that defines a CustomResourceDefinition when absent. */
  files?: string[];
}

const MODULE_SETS: Record<Exclude<CrdSetName, "router-hosts">, ModuleSet> = {
  "traefik": {
    pin: "traefik",
    dir: "docs/content/reference/dynamic-configuration",
    files: ["kubernetes-crd-definition-v1.yml"],
  },
  // The directory also holds a ValidatingAdmissionPolicy guarding upgrades
  // between channels; it is not a CRD and nothing here upgrades, so it stays out.
  "gateway-api": { pin: "gateway-api", dir: "config/crd/standard" },
  "prometheus-operator": {
    pin: "prometheus-operator",
    dir: "example/prometheus-operator-crd",
    files: ["monitoring.coreos.com_servicemonitors.yaml"],
  },
};

interface CrdStamp {
  module: string;
  version: string;
  sum: string;
  files: string[];
  fetchedAt: string;
}

/** What `go mod download -json` prints for one module. */
interface GoModDownload {
  Path?: string;
  Version?: string;
  Dir?: string;
  Sum?: string;
  Error?: string;
}

/**
 * Returns the absolute paths of the CRD files of `set`, downloading the
 * pinned module first when the cache does not hold that version yet.
 */
export async function ensureCrdSet(set: CrdSetName): Promise<string[]> {
  if (set === "router-hosts") {
    const dir = join(ROOT, "chart", "crds");
    const files: string[] = [];
    for await (const e of Deno.readDir(dir)) {
      if (e.isFile && /\.ya?ml$/.test(e.name)) files.push(join(dir, e.name));
    }
    return files.sort();
  }
  const spec = MODULE_SETS[set];
  const pin = versions.crds[spec.pin];
  const target = join(ROOT, ".cache", "testbed", "crds", `${set}@${pin.version}`);
  const cached = await readStamp(target);
  if (cached && cached.sum === pin.sum && await allExist(target, cached.files)) {
    return cached.files.map((f) => join(target, f));
  }
  return await fetchSet(set, spec, pin, target);
}

/**
 * What {@link installCrds} needs of the bed's apiserver (the KubeTestbed of
 * ./kube.ts has it; named here so this module does not import the bed).
 */
export interface CrdInstaller {
  /** Applies the CRD files and waits until every CRD is Established and served. */
  installCrds(files: string[]): Promise<void>;
}

/**
 * Installs the named CRD sets on the bed's apiserver and waits until every
 * CRD is Established and served.
 */
export async function installCrds(kube: CrdInstaller, ...sets: CrdSetName[]): Promise<void> {
  const files = (await Promise.all(sets.map(ensureCrdSet))).flat();
  await kube.installCrds(files);
}

async function fetchSet(
  set: CrdSetName,
  spec: ModuleSet,
  pin: { module: string; version: string; sum: string },
  target: string,
): Promise<string[]> {
  const ref = `${pin.module}@${pin.version}`;
  progress(`${set} CRDs: go mod download ${ref}`);
  const started = performance.now();
  const downloaded = await goModDownload(ref);
  if (downloaded.Sum !== pin.sum) {
    throw new TestbedSetupError(
      `${ref}: the module proxy served sum ${downloaded.Sum}, but tests/testbed/versions.json ` +
        `pins ${pin.sum}. Change version and sum together (the sum is the "h1:" line of ` +
        `\`go mod download -json ${ref}\`).`,
    );
  }
  const from = join(downloaded.Dir!, spec.dir);
  const files = spec.files ?? await crdFilesIn(from);
  if (files.length === 0) {
    throw new TestbedSetupError(`${ref}: no CRD files in ${spec.dir}`);
  }
  // Assemble next to the target and rename: a concurrent test run never sees half a set.
  const tmp = `${target}.tmp-${Deno.pid}`;
  await Deno.remove(tmp, { recursive: true }).catch(() => {});
  await Deno.mkdir(tmp, { recursive: true });
  for (const f of files) {
    await Deno.copyFile(join(from, f), join(tmp, basename(f)));
  }
  const stamp: CrdStamp = {
    module: pin.module,
    version: pin.version,
    sum: pin.sum,
    files: files.map((f) => basename(f)),
    fetchedAt: new Date().toISOString(),
  };
  await Deno.writeTextFile(join(tmp, "stamp.json"), JSON.stringify(stamp, null, 2) + "\n");
  if ((await readStamp(target))?.sum !== pin.sum) {
    await Deno.remove(target, { recursive: true }).catch(() => {});
  }
  try {
    await Deno.rename(tmp, target);
  } catch (e) {
    // Another run renamed its copy first; theirs is as good as ours.
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    if (!(await readStamp(target))) throw e;
  }
  progress(
    `${set} CRDs: ${stamp.files.length} file(s) from ${ref} in ${
      Math.round(performance.now() - started)
    } ms -> ${target.slice(ROOT.length)}`,
  );
  return stamp.files.map((f) => join(target, f));
}

async function goModDownload(ref: string): Promise<GoModDownload> {
  const env = {
    GOMODCACHE: join(ROOT, ".cache", "testbed", "gomod"),
    // Writable module files, so the cache can be deleted with plain `rm -rf`.
    GOFLAGS: `${Deno.env.get("GOFLAGS") ?? ""} -modcacherw`.trim(),
  };
  // Run outside any module: `go mod download` then fetches exactly `ref`.
  const cwd = await Deno.makeTempDir({ prefix: "testbed-gomod-" });
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command("go", {
      args: ["mod", "download", "-json", ref],
      cwd,
      env,
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (e) {
    throw new TestbedSetupError(
      `cannot download ${ref}: running \`go\` failed (${(e as Error).message}). ` +
        `Install Go (the test bed takes the real CRDs from the Go module proxy).`,
    );
  } finally {
    await Deno.remove(cwd).catch(() => {});
  }
  const text = new TextDecoder().decode(out.stdout);
  let info: GoModDownload = {};
  try {
    info = JSON.parse(text) as GoModDownload;
  } catch {
    // Reported below with stderr.
  }
  if (!out.success || info.Error || !info.Dir) {
    const why = info.Error ?? (new TextDecoder().decode(out.stderr).trim() || `exit ${out.code}`);
    throw new TestbedSetupError(`go mod download ${ref} failed: ${why}`);
  }
  return info;
}

async function crdFilesIn(dir: string): Promise<string[]> {
  const files: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (!e.isFile || !/\.ya?ml$/.test(e.name)) continue;
    const text = await Deno.readTextFile(join(dir, e.name));
    if (/^kind:\s*CustomResourceDefinition\s*$/m.test(text)) files.push(e.name);
  }
  return files.sort();
}

async function readStamp(dir: string): Promise<CrdStamp | undefined> {
  try {
    return JSON.parse(await Deno.readTextFile(join(dir, "stamp.json"))) as CrdStamp;
  } catch {
    return undefined;
  }
}

async function allExist(dir: string, files: string[]): Promise<boolean> {
  for (const f of files) {
    try {
      await Deno.stat(join(dir, f));
    } catch {
      return false;
    }
  }
  return true;
}
