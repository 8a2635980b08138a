/**
 * A real Kubernetes control plane for e2e tests: etcd plus kube-apiserver as
 * local processes on free loopback ports (controller-runtime's envtest idea).
 *
 * No kube-controller-manager runs: namespaces are never finalized, owned
 * objects are never garbage-collected and no "default" service account is
 * created — tests must not rely on any of that. Start it once per test file
 * and give each test its own namespace.
 *
 * @module
 */
import { join } from "node:path";
import { ensureGoTool, progress } from "./build.ts";
import { makeCa, makeClientLeaf, makeServerLeaf, makeSigningKey } from "./pki.ts";
import { freePort, logTail, type ManagedProcess, sleep, spawnManaged } from "./process.ts";

/** Options for {@linkcode startKube}. */
export interface KubeOptions {
  /** How long to wait for `/readyz` (default 90 s: a cold start on 2 cores takes several seconds). */
  readyTimeoutMs?: number;
  /** Extra kube-apiserver flags (`--name=value`), appended last so they win. */
  extraApiserverArgs?: string[];
  /** Keep the temp dir (logs, PKI, etcd data) after stop(); also when TESTBED_KEEP=1. */
  keepDir?: boolean;
}

/** Options for one request through {@linkcode KubeTestbed.request}. */
export interface KubeRequestOptions {
  /** JSON-serialised as the body. */
  body?: unknown;
  /** Defaults to `application/json`; use `application/merge-patch+json` etc. for PATCH. */
  contentType?: string;
  /** Deadline for the whole request including the body (default 30 s). */
  timeoutMs?: number;
}

/** A response whose body was read (and parsed when it is JSON). */
export interface KubeResponse<T = unknown> {
  /** HTTP status. */
  status: number;
  /** 2xx. */
  ok: boolean;
  /** Parsed JSON body, or the text when it is not JSON. */
  body: T;
  /** Raw body text. */
  text: string;
}

/** A non-2xx answer from the apiserver, with its `Status` reason and message. */
export class KubeApiError extends Error {
  override name = "KubeApiError";
  constructor(
    /** HTTP status. */
    readonly status: number,
    /** `Status.reason` (e.g. `Invalid`, `NotFound`, `AlreadyExists`). */
    readonly reason: string,
    message: string,
    /** The full response body. */
    readonly body: unknown,
  ) {
    super(message);
  }
}

/** Result of {@linkcode KubeTestbed.kubectl}. */
export interface KubectlResult {
  /** Exit code. */
  code: number;
  /** Standard output. */
  stdout: string;
  /** Standard error. */
  stderr: string;
}

/** A service-account identity for RBAC tests. */
export interface ServiceAccountCredentials {
  /** Kubeconfig that authenticates as the service account (bearer token). */
  kubeconfigPath: string;
  /** The token from the TokenRequest API. */
  token: string;
  /** `system:serviceaccount:<namespace>:<name>`. */
  username: string;
}

/** A running control plane and what a test needs to use it. */
export interface KubeTestbed {
  /** Admin kubeconfig (client certificate with O=system:masters). */
  readonly kubeconfigPath: string;
  /** `https://127.0.0.1:PORT`. */
  readonly server: string;
  /** The secure port. */
  readonly port: number;
  /** CA that signed the serving certificate and the client certificates. */
  readonly caPath: string;
  /** Admin client certificate. */
  readonly adminCertPath: string;
  /** Admin client key. */
  readonly adminKeyPath: string;
  /** The temp dir holding PKI, logs and etcd data. */
  readonly dir: string;
  /** Log files of etcd and kube-apiserver. */
  readonly logPaths: { etcd: string; apiserver: string };
  /** Deno fetch as admin; `path` is appended to {@linkcode server}. No deadline is added. */
  fetch(path: string, init?: RequestInit): Promise<Response>;
  /** A JSON request as admin with a deadline; never throws for HTTP errors. */
  request<T = unknown>(
    method: string,
    path: string,
    opts?: KubeRequestOptions,
  ): Promise<KubeResponse<T>>;
  /** GET, throwing {@linkcode KubeApiError} unless 2xx. */
  getJson<T = unknown>(path: string): Promise<T>;
  /** POST, throwing {@linkcode KubeApiError} unless 2xx. */
  postJson<T = unknown>(path: string, body: unknown): Promise<T>;
  /** PUT, throwing {@linkcode KubeApiError} unless 2xx. */
  putJson<T = unknown>(path: string, body: unknown): Promise<T>;
  /** PATCH with `application/merge-patch+json`, throwing {@linkcode KubeApiError} unless 2xx. */
  mergePatchJson<T = unknown>(path: string, body: unknown): Promise<T>;
  /** DELETE, throwing {@linkcode KubeApiError} unless 2xx. */
  deleteJson<T = unknown>(path: string): Promise<T>;
  /** Runs `kubectl --kubeconfig <admin> ...args` (stdin optional). */
  kubectl(
    args: string[],
    opts?: { stdin?: string; kubeconfigPath?: string },
  ): Promise<KubectlResult>;
  /** `kubectl apply --server-side` of files; returns the applied object names (`kind.group/name`). */
  applyFiles(files: string[]): Promise<string[]>;
  /** `kubectl apply --server-side` of YAML text; returns the applied object names. */
  applyYaml(yaml: string): Promise<string[]>;
  /** Applies CRD files and waits until every CRD is Established and its resource is served. */
  installCrds(files: string[]): Promise<void>;
  /** Creates a namespace (fine if it exists); returns its name. */
  createNamespace(name: string): Promise<string>;
  /** Creates (if missing) a service account and writes a token kubeconfig for it. */
  makeServiceAccountKubeconfig(namespace: string, name: string): Promise<ServiceAccountCredentials>;
  /**
   * SIGSTOP kube-apiserver: connections stay open, nothing answers. Resolves
   * once every one of its threads is stopped: until then a thread already
   * running can still answer a request.
   */
  freeze(): Promise<void>;
  /** SIGCONT kube-apiserver. */
  thaw(): void;
  /** Stops kube-apiserver and starts it again on the same port with the same etcd; waits for /readyz. */
  restartApiserver(): Promise<void>;
  /** Stops both processes and removes the temp dir (unless kept). */
  stop(): Promise<void>;
  /** Same as {@linkcode stop}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

// The apiserver's own Service IP is the first address of this range; the
// serving certificate includes it so in-cluster style clients also verify.
const SERVICE_CIDR = "10.0.0.0/24";
const SERVICE_IP = "10.0.0.1";

/** Starts etcd and kube-apiserver, waits for `/readyz`, writes an admin kubeconfig. */
export async function startKube(opts: KubeOptions = {}): Promise<KubeTestbed> {
  // One after the other: two cold Go builds at once would only fight over the cores.
  const etcdBin = await ensureGoTool("etcd");
  const apiserverBin = await ensureGoTool("kube-apiserver");
  const dir = await Deno.makeTempDir({ prefix: "testbed-kube-" });
  const keepDir = opts.keepDir ?? Deno.env.get("TESTBED_KEEP") === "1";
  const pkiDir = join(dir, "pki");
  await Deno.mkdir(pkiDir);

  const ca = await makeCa(pkiDir, { name: "ca", commonName: "testbed-kube-ca" });
  const [serving, admin, saKey] = await Promise.all([
    makeServerLeaf(pkiDir, ca, {
      name: "apiserver",
      commonName: "kube-apiserver",
      extraDnsNames: ["kubernetes", "kubernetes.default", "kubernetes.default.svc"],
      extraIpAddresses: [SERVICE_IP],
    }),
    makeClientLeaf(pkiDir, ca, {
      name: "admin",
      commonName: "testbed-admin",
      organizations: ["system:masters"],
    }),
    makeSigningKey(pkiDir, "service-account"),
  ]);

  const logPaths = { etcd: join(dir, "etcd.log"), apiserver: join(dir, "kube-apiserver.log") };
  const etcdPort = freePort();
  const peerPort = freePort();
  const etcdUrl = `http://127.0.0.1:${etcdPort}`;
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  const etcd = spawnManaged({
    name: "etcd",
    command: etcdBin.path,
    args: [
      "--name=testbed",
      `--data-dir=${join(dir, "etcd-data")}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      // An explicit peer URL: the default (:2380) would collide between parallel test beds.
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=testbed=${peerUrl}`,
      // Test data is thrown away: skip fsync for speed.
      "--unsafe-no-fsync",
    ],
    logPath: logPaths.etcd,
  });

  const port = freePort();
  const server = `https://127.0.0.1:${port}`;
  const apiserverArgs = [
    `--etcd-servers=${etcdUrl}`,
    "--bind-address=127.0.0.1",
    "--advertise-address=127.0.0.1",
    `--secure-port=${port}`,
    `--cert-dir=${join(dir, "apiserver-certs")}`,
    `--tls-cert-file=${serving.certPath}`,
    `--tls-private-key-file=${serving.keyPath}`,
    `--client-ca-file=${ca.certPath}`,
    "--authorization-mode=RBAC",
    "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
    `--service-account-key-file=${saKey.publicKeyPath}`,
    `--service-account-signing-key-file=${saKey.privateKeyPath}`,
    `--service-cluster-ip-range=${SERVICE_CIDR}`,
    "--allow-privileged=true",
    // Without kube-controller-manager nobody creates the "default" service
    // account, and this plugin then refuses every Pod ("error looking up
    // service account"); envtest disables it for the same reason.
    "--disable-admission-plugins=ServiceAccount",
    // The apiserver would keep trying to publish 127.0.0.1 as the endpoint of
    // the "kubernetes" Service, which the API refuses (loopback), logging an error each time.
    "--endpoint-reconciler-type=none",
    "--profiling=false",
    ...(opts.extraApiserverArgs ?? []),
  ];

  const httpClient = Deno.createHttpClient({
    caCerts: [await Deno.readTextFile(ca.certPath)],
    cert: await Deno.readTextFile(admin.certPath),
    key: await Deno.readTextFile(admin.keyPath),
  });
  const readyTimeoutMs = opts.readyTimeoutMs ?? 90_000;

  let apiserver: ManagedProcess | undefined;
  const spawnApiserver = () =>
    spawnManaged({
      name: "kube-apiserver",
      command: apiserverBin.path,
      args: apiserverArgs,
      logPath: logPaths.apiserver,
    });

  const kubeFetch = (path: string, init?: RequestInit) =>
    fetch(server + path, { ...init, client: httpClient });

  async function waitReady(proc: ManagedProcess, what: string): Promise<number> {
    const started = performance.now();
    const deadline = Date.now() + readyTimeoutMs;
    let last = "no answer yet";
    while (Date.now() < deadline) {
      if (proc.exited) {
        throw new Error(
          `kube-apiserver exited before it became ready (${what}). Last lines of ${logPaths.apiserver}:\n` +
            logTail(logPaths.apiserver),
        );
      }
      try {
        const res = await kubeFetch("/readyz", { signal: AbortSignal.timeout(2000) });
        const text = await res.text();
        if (res.status === 200) return (performance.now() - started) / 1000;
        last = `HTTP ${res.status}: ${
          text.split("\n").filter((l) => l.includes("failed")).join("; ") || text
        }`;
      } catch (e) {
        last = (e as Error).message;
      }
      await sleep(100);
    }
    throw new Error(
      `kube-apiserver was not ready within ${readyTimeoutMs} ms (${what}); last /readyz: ${last}. ` +
        `Last lines of ${logPaths.apiserver}:\n${logTail(logPaths.apiserver)}`,
    );
  }

  let stopped = false;
  async function stop(): Promise<void> {
    if (stopped) return;
    stopped = true;
    await apiserver?.stop();
    await etcd.stop();
    httpClient.close();
    if (keepDir) progress(`kube test bed files kept in ${dir}`);
    else await Deno.remove(dir, { recursive: true }).catch(() => {});
  }

  try {
    await waitForEtcd(etcdUrl, etcd, logPaths.etcd);
    apiserver = spawnApiserver();
    const seconds = await waitReady(apiserver, "first start");
    progress(
      `kube-apiserver ready at ${server} in ${
        seconds.toFixed(1)
      } s (etcd ${etcdUrl}, logs in ${dir})`,
    );
  } catch (e) {
    await stop();
    throw e;
  }

  const kubeconfigPath = join(dir, "admin.kubeconfig");
  await Deno.writeTextFile(
    kubeconfigPath,
    kubeconfig(server, await Deno.readTextFile(ca.certPath), "testbed-admin", {
      "client-certificate-data": b64(await Deno.readTextFile(admin.certPath)),
      "client-key-data": b64(await Deno.readTextFile(admin.keyPath)),
    }),
    { mode: 0o600 },
  );

  async function request<T>(
    method: string,
    path: string,
    ro: KubeRequestOptions = {},
  ): Promise<KubeResponse<T>> {
    const res = await kubeFetch(path, {
      method,
      headers: {
        "Accept": "application/json",
        ...(ro.body === undefined ? {} : { "Content-Type": ro.contentType ?? "application/json" }),
      },
      body: ro.body === undefined ? undefined : JSON.stringify(ro.body),
      signal: AbortSignal.timeout(ro.timeoutMs ?? 30_000),
    });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // Not JSON (e.g. /readyz): keep the text.
    }
    return { status: res.status, ok: res.ok, body: body as T, text };
  }

  async function must<T>(method: string, path: string, ro?: KubeRequestOptions): Promise<T> {
    const res = await request<T>(method, path, ro);
    if (res.ok) return res.body;
    const status = res.body as { reason?: string; message?: string };
    throw new KubeApiError(
      res.status,
      status?.reason ?? "",
      `${method} ${path}: HTTP ${res.status} ${status?.reason ?? ""}: ${
        status?.message ?? res.text
      }`,
      res.body,
    );
  }

  async function kubectl(
    args: string[],
    ko: { stdin?: string; kubeconfigPath?: string } = {},
  ): Promise<KubectlResult> {
    const child = new Deno.Command("kubectl", {
      args: ["--kubeconfig", ko.kubeconfigPath ?? kubeconfigPath, ...args],
      stdin: ko.stdin === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    if (ko.stdin !== undefined) {
      const writer = child.stdin.getWriter();
      await writer.write(new TextEncoder().encode(ko.stdin));
      await writer.close();
    }
    const out = await child.output();
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  }

  async function apply(args: string[], stdin?: string): Promise<string[]> {
    const res = await kubectl([
      "apply",
      "--server-side",
      "--force-conflicts",
      "-o",
      "name",
      ...args,
    ], { stdin });
    if (res.code !== 0) {
      throw new Error(`kubectl apply ${args.join(" ")} failed (exit ${res.code}): ${res.stderr}`);
    }
    return res.stdout.split("\n").map((l) => l.trim()).filter(Boolean);
  }

  async function waitCrdServed(name: string, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = "";
    while (Date.now() < deadline) {
      const crd = await request<CrdObject>(
        "GET",
        `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`,
      );
      if (crd.ok) {
        const conds = crd.body.status?.conditions ?? [];
        const established = conds.some((c) => c.type === "Established" && c.status === "True");
        last = conds.map((c) => `${c.type}=${c.status}${c.message ? ` (${c.message})` : ""}`).join(
          ", ",
        );
        if (established) {
          // Established can precede the handler being wired into discovery; a
          // create right after would then 404. List the resource until it answers.
          const version = crd.body.spec.versions.find((v) => v.storage)?.name ??
            crd.body.spec.versions[0].name;
          const list = await request(
            "GET",
            `/apis/${crd.body.spec.group}/${version}/${crd.body.spec.names.plural}?limit=1`,
          );
          if (list.ok) return;
          last = `Established, but listing it answers HTTP ${list.status}`;
        }
      } else {
        last = `HTTP ${crd.status}`;
      }
      await sleep(100);
    }
    throw new Error(`CRD ${name} not established and served within ${timeoutMs} ms: ${last}`);
  }

  return {
    kubeconfigPath,
    server,
    port,
    caPath: ca.certPath,
    adminCertPath: admin.certPath,
    adminKeyPath: admin.keyPath,
    dir,
    logPaths,
    fetch: kubeFetch,
    request,
    getJson: <T>(path: string) => must<T>("GET", path),
    postJson: <T>(path: string, body: unknown) => must<T>("POST", path, { body }),
    putJson: <T>(path: string, body: unknown) => must<T>("PUT", path, { body }),
    mergePatchJson: <T>(path: string, body: unknown) =>
      must<T>("PATCH", path, { body, contentType: "application/merge-patch+json" }),
    deleteJson: <T>(path: string) => must<T>("DELETE", path),
    kubectl,
    applyFiles: (files) => apply(files.flatMap((f) => ["-f", f])),
    applyYaml: (yaml) => apply(["-f", "-"], yaml),
    async installCrds(files) {
      const names = await apply(files.flatMap((f) => ["-f", f]));
      const crds = names.filter((n) =>
        n.startsWith("customresourcedefinition.apiextensions.k8s.io/")
      );
      await Promise.all(crds.map((n) => waitCrdServed(n.slice(n.indexOf("/") + 1))));
    },
    async createNamespace(name) {
      const res = await request("POST", "/api/v1/namespaces", {
        body: { apiVersion: "v1", kind: "Namespace", metadata: { name } },
      });
      if (!res.ok && res.status !== 409) {
        throw new Error(`create namespace ${name}: HTTP ${res.status}: ${res.text}`);
      }
      return name;
    },
    async makeServiceAccountKubeconfig(namespace, name) {
      const sa = await request("POST", `/api/v1/namespaces/${namespace}/serviceaccounts`, {
        body: { apiVersion: "v1", kind: "ServiceAccount", metadata: { name, namespace } },
      });
      if (!sa.ok && sa.status !== 409) {
        throw new Error(
          `create service account ${namespace}/${name}: HTTP ${sa.status}: ${sa.text}`,
        );
      }
      const tr = await must<{ status: { token: string } }>(
        "POST",
        `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`,
        {
          body: {
            apiVersion: "authentication.k8s.io/v1",
            kind: "TokenRequest",
            spec: { expirationSeconds: 3600 },
          },
        },
      );
      const username = `system:serviceaccount:${namespace}:${name}`;
      const path = join(dir, `sa-${namespace}-${name}.kubeconfig`);
      await Deno.writeTextFile(
        path,
        kubeconfig(server, await Deno.readTextFile(ca.certPath), username, {
          token: tr.status.token,
        }, namespace),
        { mode: 0o600 },
      );
      return { kubeconfigPath: path, token: tr.status.token, username };
    },
    async freeze() {
      if (!apiserver) return;
      apiserver.signal("SIGSTOP");
      await waitStopped(apiserver.pid);
    },
    thaw: () => apiserver?.signal("SIGCONT"),
    async restartApiserver() {
      await apiserver?.stop();
      apiserver = spawnApiserver();
      const seconds = await waitReady(apiserver, "restart");
      progress(`kube-apiserver restarted on ${server}, ready in ${seconds.toFixed(1)} s`);
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

interface CrdObject {
  spec: {
    group: string;
    names: { plural: string };
    versions: { name: string; storage?: boolean }[];
  };
  status?: { conditions?: { type: string; status: string; message?: string }[] };
}

/** Waits until every thread of `pid` is in state T (stopped), from /proc. */
async function waitStopped(pid: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let running: string[] = [];
  while (Date.now() < deadline) {
    running = [];
    for await (const task of Deno.readDir(`/proc/${pid}/task`)) {
      // The state follows the parenthesised command name, which may itself contain spaces.
      const stat = await Deno.readTextFile(`/proc/${pid}/task/${task.name}/stat`).catch(() => "");
      const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
      if (stat && state !== "T" && state !== "t") running.push(`${task.name}:${state}`);
    }
    if (running.length === 0) return;
    await sleep(10);
  }
  throw new Error(
    `kube-apiserver (pid ${pid}) not stopped ${timeoutMs} ms after SIGSTOP; running threads: ${
      running.join(", ")
    }`,
  );
}

async function waitForEtcd(
  url: string,
  proc: ManagedProcess,
  logPath: string,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    if (proc.exited) {
      throw new Error(`etcd exited during startup. Last lines of ${logPath}:\n${logTail(logPath)}`);
    }
    try {
      const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) });
      const body = await res.json() as { health?: string };
      if (res.ok && body.health === "true") return;
      last = JSON.stringify(body);
    } catch (e) {
      last = (e as Error).message;
    }
    await sleep(50);
  }
  throw new Error(
    `etcd at ${url} not healthy within ${timeoutMs} ms (${last}). Last lines of ${logPath}:\n${
      logTail(logPath)
    }`,
  );
}

// JSON is valid YAML, so kubectl, client-go and client-node all read this kubeconfig.
function kubeconfig(
  server: string,
  caPem: string,
  user: string,
  credentials: Record<string, string>,
  namespace?: string,
): string {
  return JSON.stringify(
    {
      apiVersion: "v1",
      kind: "Config",
      clusters: [{
        name: "testbed",
        cluster: { server, "certificate-authority-data": b64(caPem) },
      }],
      users: [{ name: user, user: credentials }],
      contexts: [{
        name: "testbed",
        context: { cluster: "testbed", user, ...(namespace ? { namespace } : {}) },
      }],
      "current-context": "testbed",
      preferences: {},
    },
    null,
    2,
  ) + "\n";
}

function b64(text: string): string {
  return btoa(text);
}
