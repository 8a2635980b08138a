/**
 * The operator as a user runs it: a separate `deno run main.ts` process with
 * real flags, observed only from outside (logs, /metrics, /healthz, /readyz).
 *
 * @module
 */
import { join } from "node:path";
import { ROOT } from "./build.ts";
import { freePort, type ManagedProcess, sleep, spawnManaged } from "./process.ts";
import { Scrape } from "./prometheus.ts";
import type { RouterHostsTestbed } from "./router_hosts.ts";

export { metricSum } from "./prometheus.ts";

/**
 * The `deno run` flags the operator runs with — permissions and V8 memory
 * settings — read from the `start` task in deno.json, so tests and benches
 * run exactly what `deno task start` runs.
 */
export const OPERATOR_FLAGS: string[] = startTaskFlags();

function startTaskFlags(): string[] {
  const config = JSON.parse(Deno.readTextFileSync(join(ROOT, "deno.json")));
  const words = String(config.tasks?.start ?? "").split(/\s+/);
  if (words[0] !== "deno" || words[1] !== "run" || words.at(-1) !== "main.ts") {
    throw new Error(`deno.json: tasks.start should be "deno run <flags> main.ts", not ${words}`);
  }
  return words.slice(2, -1);
}

/** Path of the entry point. */
export const MAIN = join(ROOT, "main.ts");

/** Options of {@link startOperator}. */
export interface OperatorOptions {
  kubeconfigPath: string;
  /** Supplies --server-address and the mTLS flags. */
  routerHosts: RouterHostsTestbed;
  /** More flags (they come after the defaults, so they win). */
  args?: string[];
  /** More Deno permissions, e.g. `--allow-write=<socket>` for a unix socket elsewhere. */
  permissions?: string[];
  /** Extra environment. */
  env?: Record<string, string>;
  /** Name in log dumps (default "operator"). */
  name?: string;
  /** Directory for the log file (default: a new temp dir). */
  dir?: string;
  /** Wait for /readyz (default true). */
  waitReady?: boolean;
}

/** A running operator process. */
export interface OperatorProcess {
  readonly process: ManagedProcess;
  readonly metricsPort: number;
  readonly probePort: number;
  readonly logPath: string;
  /** The JSON log lines so far (non-JSON lines are skipped). */
  logs(): Array<Record<string, unknown>>;
  /** GET /metrics text. */
  metrics(): Promise<string>;
  /** GET /metrics, parsed (throws when the exposition is malformed). */
  scrape(): Promise<Scrape>;
  /** Status code of a probe path ("/healthz", "/readyz"); 0 when nothing answers. */
  probe(path: string): Promise<number>;
  /** Resolves when /readyz answers 200. */
  waitReady(timeoutMs?: number): Promise<void>;
  /** SIGTERM and wait (SIGKILL after graceMs). */
  stop(graceMs?: number): Promise<void>;
}

/** Starts the operator against the test bed with the usual flags. */
export async function startOperator(o: OperatorOptions): Promise<OperatorProcess> {
  const dir = o.dir ?? await Deno.makeTempDir({ prefix: "operator-" });
  const metricsPort = freePort();
  const probePort = freePort();
  const logPath = join(dir, `${o.name ?? "operator"}-${metricsPort}.log`);
  const rh = o.routerHosts;
  const args = [
    "run",
    ...OPERATOR_FLAGS,
    ...(o.permissions ?? []),
    MAIN,
    `--kubeconfig=${o.kubeconfigPath}`,
    `--server-address=${rh.address}`,
    `--tls-ca=${rh.caPath}`,
    `--tls-cert=${rh.clientCertPath}`,
    `--tls-key=${rh.clientKeyPath}`,
    `--metrics-bind-address=127.0.0.1:${metricsPort}`,
    `--health-probe-bind-address=127.0.0.1:${probePort}`,
    "--log-level=debug",
    ...(o.args ?? []),
  ];
  const process = spawnManaged({
    name: o.name ?? "operator",
    command: Deno.execPath(),
    args,
    logPath,
    cwd: ROOT,
    env: { NO_COLOR: "1", ...o.env },
  });
  const op: OperatorProcess = {
    process,
    metricsPort,
    probePort,
    logPath,
    logs() {
      let text = "";
      try {
        text = Deno.readTextFileSync(logPath);
      } catch {
        return [];
      }
      const out: Array<Record<string, unknown>> = [];
      for (const line of text.split("\n")) {
        if (!line.startsWith("{")) continue;
        try {
          out.push(JSON.parse(line));
        } catch {
          // a line being written right now
        }
      }
      return out;
    },
    async metrics() {
      const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`, {
        signal: AbortSignal.timeout(5_000),
      });
      return await res.text();
    },
    async scrape() {
      return new Scrape(await op.metrics());
    },
    async probe(path) {
      try {
        const res = await fetch(`http://127.0.0.1:${probePort}${path}`, {
          signal: AbortSignal.timeout(2_000),
        });
        await res.body?.cancel();
        return res.status;
      } catch {
        return 0;
      }
    },
    async waitReady(timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        if (process.exited) {
          throw new Error(`operator exited before it was ready; log: ${logPath}`);
        }
        if (await op.probe("/readyz") === 200) return;
        await sleep(200);
      }
      throw new Error(`operator not ready after ${timeoutMs} ms; log: ${logPath}`);
    },
    stop: (graceMs = 30_000) => process.stop(graceMs),
  };
  if (o.waitReady ?? true) await op.waitReady();
  return op;
}

/** Runs the operator to completion with `args` (for startup-error tests). */
export async function runOperator(
  args: string[],
  timeoutMs = 30_000,
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...OPERATOR_FLAGS, MAIN, ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1", KUBECONFIG: "/nonexistent/kubeconfig", ...env },
    stdin: "null",
    signal: AbortSignal.timeout(timeoutMs),
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/**
 * Polls `check` until it returns a value other than undefined/false, or
 * throws with `what` and the last value seen after `timeoutMs`.
 */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 30_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (true) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}; last: ${
          last instanceof Error ? last.message : JSON.stringify(last)
        }`,
      );
    }
    await sleep(intervalMs);
  }
}
