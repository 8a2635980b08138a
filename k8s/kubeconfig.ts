/**
 * Where the Kubernetes client's server address and credentials come from:
 * `--kubeconfig` / `$KUBECONFIG` (merged lists), the in-cluster service
 * account, `~/.kube/config`.
 *
 * A small loader of our own reads every form users run — client
 * certificate and key (file or data), bearer token and tokenFile, basic
 * auth, impersonation, `exec` credential plugins
 * (client.authentication.k8s.io v1 and v1beta1) and the in-cluster service
 * account — because @kubernetes/client-node, which did this before, costs
 * about 80 MiB of RSS for its module graph alone. Legacy `auth-provider`
 * users (oidc, gcp, azure) still go through client-node, imported only then
 * (see ./kubeconfig_client_node.ts).
 *
 * Files (CA, client certificate and key, tokens) are read again on every
 * credential refresh, so rotated service-account tokens and renewed
 * certificates are picked up without a restart.
 *
 * @module
 */
import { load as parseYaml } from "js-yaml";
import type { Logger } from "../observability/log.ts";
import { errorText } from "./api_error.ts";
import {
  type CredentialProvider,
  type KubeconfigCluster,
  type KubeconfigUser,
  readText,
  userCredentials,
} from "./credentials.ts";
import { clientNodeCredentials } from "./kubeconfig_client_node.ts";

/** Where configuration is looked for, as read from the environment by the caller. */
export interface KubeconfigEnv {
  KUBERNETES_SERVICE_HOST?: string;
  KUBERNETES_SERVICE_PORT?: string;
  HOME?: string;
}

/** Options of {@link loadKubeconfig}. */
export interface LoadKubeconfigOptions {
  /**
   * `--kubeconfig`, else `$KUBECONFIG` (read by the caller). Several files
   * separated by ":" are merged like kubectl does. When set, it must work:
   * there is no fallback to other sources.
   */
  kubeconfigPath?: string;
  /**
   * The environment snapshot (`KUBERNETES_SERVICE_HOST/PORT` for in-cluster,
   * `HOME` for `~/.kube/config`); library code never reads the environment.
   */
  env?: KubeconfigEnv;
  /** Service-account mount (default `/var/run/secrets/kubernetes.io/serviceaccount`). */
  serviceAccountDir?: string;
  log: Logger;
}

/** What a configuration source says about the cluster and who we are there. */
export interface ClusterConfig {
  /** Where it came from, for messages: "kubeconfig /path", "in-cluster service account (dir)". */
  source: string;
  /** API server base URL. */
  server: string;
  credentials: CredentialProvider;
  /** "context/user", for logs. */
  identity: string;
  /** The context's default namespace (in-cluster: the pod's namespace). */
  namespace?: string;
  proxyUrl?: string;
  /** `insecure-skip-tls-verify` (which Deno's HTTP client cannot honour). */
  skipTLSVerify: boolean;
  /** `tls-server-name` (which Deno's HTTP client cannot honour). */
  tlsServerName?: string;
}

interface KubeconfigContext {
  cluster?: string;
  user?: string;
  namespace?: string;
}

/** The merged view of one or more kubeconfig files. */
interface Merged {
  currentContext?: string;
  clusters: Map<string, KubeconfigCluster>;
  users: Map<string, KubeconfigUser>;
  contexts: Map<string, KubeconfigContext>;
}

const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";
/**
 * The first configuration source that exists, in order: `kubeconfigPath`
 * (the flag or `$KUBECONFIG`), the in-cluster service account,
 * `~/.kube/config`. Throws one error naming everything tried when none
 * exists, or naming the file that cannot be read or parsed.
 */
export async function loadKubeconfig(options: LoadKubeconfigOptions): Promise<ClusterConfig> {
  if (options.kubeconfigPath) {
    const files = options.kubeconfigPath.split(":").filter((f) => f);
    return await fromFiles(files, `kubeconfig ${options.kubeconfigPath}`, options.log);
  }
  const tried: string[] = ["--kubeconfig / $KUBECONFIG: not set"];
  const inCluster = inClusterConfig(options, tried);
  if (inCluster) return inCluster;
  const home = options.env?.HOME;
  if (home) {
    const file = `${home.replace(/\/+$/, "")}/.kube/config`;
    if (fileExists(file)) return await fromFiles([file], `kubeconfig ${file}`, options.log);
    tried.push(`${file}: not found`);
  } else {
    tried.push("~/.kube/config: HOME not set");
  }
  throw new Error(`no Kubernetes configuration found (tried ${tried.join("; ")})`);
}

async function fromFiles(files: string[], source: string, log: Logger): Promise<ClusterConfig> {
  let merged: Merged;
  try {
    merged = mergeKubeconfigs(files.map((file) => ({ file, text: readText(file) })));
  } catch (e) {
    throw new Error(`${source}: ${errorText(e)}`);
  }
  const contextName = merged.currentContext ?? "";
  const context = merged.contexts.get(contextName);
  const cluster = context?.cluster !== undefined ? merged.clusters.get(context.cluster) : undefined;
  if (!context || !cluster) {
    throw new Error(`${source}: no current cluster (check current-context)`);
  }
  if (!cluster.server) {
    throw new Error(`${source}: cluster "${context.cluster}" has no server`);
  }
  const user = context.user !== undefined ? merged.users.get(context.user) : undefined;
  let credentials: CredentialProvider;
  const authProvider = user?.["auth-provider"];
  if (authProvider) {
    log.info(
      "kubeconfig user uses an auth-provider, which the built-in loader does not handle; " +
        "loading @kubernetes/client-node for it",
      { source, user: context.user, authProvider: authProvider.name },
    );
    credentials = await clientNodeCredentials(files);
  } else {
    credentials = userCredentials(cluster, user ?? {});
  }
  return {
    source,
    server: cluster.server,
    credentials,
    identity: `${contextName}/${user ? context.user : "anonymous"}`,
    namespace: context.namespace?.trim() || undefined,
    proxyUrl: cluster["proxy-url"] || undefined,
    skipTLSVerify: cluster["insecure-skip-tls-verify"] === true,
    tlsServerName: cluster["tls-server-name"] || undefined,
  };
}

/**
 * Merges kubeconfig files like kubectl does with a `$KUBECONFIG` list: the
 * first file that names a cluster, user or context wins for that name, and
 * the first non-empty `current-context` wins. Relative file paths (CA,
 * certificate, key, token file, an exec command with a "/") are resolved
 * against the directory of the file that holds them.
 */
function mergeKubeconfigs(files: Array<{ file: string; text: string }>): Merged {
  const merged: Merged = { clusters: new Map(), users: new Map(), contexts: new Map() };
  for (const { file, text } of files) {
    const doc = parseDocument(file, text);
    const dir = file.includes("/") ? file.slice(0, file.lastIndexOf("/") + 1) || "/" : "./";
    if (!merged.currentContext && typeof doc["current-context"] === "string") {
      merged.currentContext = doc["current-context"] || undefined;
    }
    for (const { name, value } of namedEntries(file, doc, "clusters", "cluster")) {
      if (!merged.clusters.has(name)) {
        const cluster = { ...value } as KubeconfigCluster;
        resolvePath(cluster, "certificate-authority", dir);
        merged.clusters.set(name, cluster);
      }
    }
    for (const { name, value } of namedEntries(file, doc, "users", "user")) {
      if (!merged.users.has(name)) {
        const user = { ...value } as KubeconfigUser;
        resolvePath(user, "client-certificate", dir);
        resolvePath(user, "client-key", dir);
        resolvePath(user, "tokenFile", dir);
        if (user.exec?.command?.includes("/")) {
          user.exec = { ...user.exec };
          resolvePath(user.exec, "command", dir);
        }
        merged.users.set(name, user);
      }
    }
    for (const { name, value } of namedEntries(file, doc, "contexts", "context")) {
      if (!merged.contexts.has(name)) merged.contexts.set(name, value as KubeconfigContext);
    }
  }
  return merged;
}

function parseDocument(file: string, text: string): Record<string, unknown> {
  const doc = parseYaml(text);
  if (doc === undefined || doc === null) return {};
  if (typeof doc !== "object" || Array.isArray(doc)) {
    throw new Error(`${file}: not a kubeconfig (expected a mapping at the top level)`);
  }
  return doc as Record<string, unknown>;
}

function namedEntries(
  file: string,
  doc: Record<string, unknown>,
  list: string,
  field: string,
): Array<{ name: string; value: Record<string, unknown> }> {
  const items = doc[list];
  if (items === undefined || items === null) return [];
  if (!Array.isArray(items)) throw new Error(`${file}: ${list} is not a list`);
  return items.map((item, i) => {
    const name = item?.name;
    if (typeof name !== "string" || !name) {
      throw new Error(`${file}: ${list}[${i}].name is missing`);
    }
    const value = item[field] ?? {};
    if (typeof value !== "object" || Array.isArray(value)) {
      throw new Error(`${file}: ${list}[${i}].${field} is not a mapping`);
    }
    return { name, value };
  });
}

function resolvePath<K extends string>(
  entry: { [key in K]?: string },
  key: K,
  dir: string,
): void {
  const value = entry[key];
  if (typeof value === "string" && value && !value.startsWith("/")) entry[key] = dir + value;
}

/**
 * The in-cluster configuration, as client-go builds it: the API server from
 * `KUBERNETES_SERVICE_HOST/PORT`, the CA and the token from the
 * service-account mount. The token file is read again at every refresh —
 * projected service-account tokens rotate (hourly by default).
 */
function inClusterConfig(
  options: LoadKubeconfigOptions,
  tried: string[],
): ClusterConfig | undefined {
  const host = options.env?.KUBERNETES_SERVICE_HOST;
  const port = options.env?.KUBERNETES_SERVICE_PORT;
  const dir = (options.serviceAccountDir ?? SERVICE_ACCOUNT_DIR).replace(/\/+$/, "");
  if (!host || !port) {
    tried.push("in-cluster: KUBERNETES_SERVICE_HOST/PORT not set");
    return undefined;
  }
  if (!fileExists(`${dir}/token`)) {
    tried.push(`in-cluster: ${dir}/token not found`);
    return undefined;
  }
  const hostPart = host.includes(":") ? `[${host}]` : host;
  const server = `https://${hostPart}:${port}`;
  return {
    source: `in-cluster service account (${dir})`,
    server,
    credentials: userCredentials(
      { server, "certificate-authority": `${dir}/ca.crt` },
      { tokenFile: `${dir}/token` },
    ),
    identity: "inCluster/serviceaccount",
    namespace: readOptional(`${dir}/namespace`)?.trim() || undefined,
    skipTLSVerify: false,
  };
}

function fileExists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

function readOptional(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return undefined;
  }
}
