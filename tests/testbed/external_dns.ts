/**
 * The real external-dns (`sigs.k8s.io/external-dns`, pinned in versions.json,
 * built by build.ts or given by EXTERNAL_DNS_BIN) against the bed's
 * kube-apiserver, with `--provider=webhook` pointed at the operator's
 * webhook: once (`--once`, to completion) or looping.
 *
 * @module
 */
import { join } from "node:path";
import { ensureExternalDns, ROOT, TestbedSetupError, VERSIONS } from "./build.ts";
import type { KubeTestbed } from "./kube.ts";
import { freePort, type ManagedProcess, spawnManaged } from "./process.ts";

/** Options of {@link runExternalDnsOnce} and {@link startExternalDns}. */
export interface ExternalDnsOptions {
  kube: KubeTestbed;
  /** `http://127.0.0.1:PORT` of the operator's `--webhook-bind-address`. */
  webhookUrl: string;
  /** Only this namespace's objects (tests share one API server). */
  namespace?: string;
  /** `--registry` (default noop; external-dns refuses a repeated flag, so not via args). */
  registry?: string;
  /** More flags (external-dns refuses a flag given twice: only flags not set here). */
  args?: string[];
  /** Directory for the log file (default: a new temp dir). */
  dir?: string;
}

/** The flags every run has: Service and Ingress sources, the webhook, a registry. */
async function command(o: ExternalDnsOptions, extra: string[]) {
  const bin = await ensureExternalDns();
  const dir = o.dir ?? await Deno.makeTempDir({ prefix: "external-dns-" });
  const metricsPort = freePort();
  return {
    metricsPort,
    logPath: join(dir, `external-dns-${metricsPort}.log`),
    command: bin.path,
    args: [
      `--kubeconfig=${o.kube.kubeconfigPath}`,
      "--source=service",
      "--source=ingress",
      "--provider=webhook",
      `--webhook-provider-url=${o.webhookUrl}`,
      // A hosts file cannot hold TXT records: ownership is the webhook's tags (README).
      `--registry=${o.registry ?? "noop"}`,
      `--metrics-address=127.0.0.1:${metricsPort}`,
      "--log-level=debug",
      ...(o.namespace ? [`--namespace=${o.namespace}`] : []),
      ...extra,
      ...(o.args ?? []),
    ],
  };
}

/** A finished `--once` run. */
export interface ExternalDnsRun {
  code: number;
  /** Its whole log (logrus text lines). */
  log: string;
  logPath: string;
  /** Wall time of the run, in milliseconds. */
  ms: number;
}

/** Runs `external-dns --once` to completion. */
export async function runExternalDnsOnce(o: ExternalDnsOptions): Promise<ExternalDnsRun> {
  const c = await command(o, ["--once"]);
  const started = performance.now();
  const process = spawnManaged({
    name: "external-dns",
    command: c.command,
    args: c.args,
    logPath: c.logPath,
  });
  const status = await process.status;
  const ms = performance.now() - started;
  return { code: status.code, log: await Deno.readTextFile(c.logPath), logPath: c.logPath, ms };
}

/** A looping external-dns. */
export interface ExternalDnsProcess {
  readonly process: ManagedProcess;
  readonly logPath: string;
  /** GET /metrics text of external-dns itself. */
  metrics(): Promise<string>;
  stop(): Promise<void>;
}

/** Starts external-dns looping every `intervalS` seconds (default 1). */
export async function startExternalDns(
  o: ExternalDnsOptions & { intervalS?: number },
): Promise<ExternalDnsProcess> {
  const c = await command(o, [`--interval=${o.intervalS ?? 1}s`]);
  const process = spawnManaged({
    name: "external-dns",
    command: c.command,
    args: c.args,
    logPath: c.logPath,
  });
  return {
    process,
    logPath: c.logPath,
    async metrics() {
      const res = await fetch(`http://127.0.0.1:${c.metricsPort}/metrics`, {
        signal: AbortSignal.timeout(5_000),
      });
      return await res.text();
    },
    stop: () => process.stop(10_000),
  };
}

/**
 * The directory of external-dns's Helm chart (`charts/external-dns` of the
 * pinned module), fetched with `go mod download` into the test bed's module
 * cache and checked against the module sum in versions.json.
 */
export async function externalDnsChartDir(): Promise<string> {
  const pin = VERSIONS.externalDns;
  const ref = `${pin.module}@${pin.version}`;
  // Outside any module, `go mod download` fetches exactly `ref`.
  const cwd = await Deno.makeTempDir({ prefix: "testbed-gomod-" });
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command("go", {
      args: ["mod", "download", "-json", ref],
      cwd,
      env: {
        GOMODCACHE: join(ROOT, ".cache", "testbed", "gomod"),
        GOFLAGS: `${Deno.env.get("GOFLAGS") ?? ""} -modcacherw`.trim(),
      },
      stdout: "piped",
      stderr: "piped",
    }).output();
  } finally {
    await Deno.remove(cwd).catch(() => {});
  }
  const text = new TextDecoder().decode(out.stdout);
  const info = (text.trim() ? JSON.parse(text) : {}) as {
    Dir?: string;
    Sum?: string;
    Error?: string;
  };
  if (!out.success || !info.Dir) {
    throw new TestbedSetupError(
      `go mod download ${ref} failed: ${info.Error ?? new TextDecoder().decode(out.stderr).trim()}`,
    );
  }
  if (info.Sum !== pin.sum) {
    throw new TestbedSetupError(
      `${ref}: the module proxy served sum ${info.Sum}, but tests/testbed/versions.json pins ${pin.sum}`,
    );
  }
  return join(info.Dir, "charts", "external-dns");
}
