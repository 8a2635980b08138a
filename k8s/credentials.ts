/**
 * Credentials of one kubeconfig user against one cluster: headers and TLS
 * material, re-read from their files on every refresh, and the `exec`
 * credential plugin. The kubeconfig loader (./kubeconfig.ts) and the
 * client-node fallback (./kubeconfig_client_node.ts) both produce a
 * {@link CredentialProvider}.
 *
 * @module
 */
import { type ExecConfig, ExecPlugin } from "./exec_credential.ts";

/** Headers and TLS material for requests; fetched again when they may have rotated. */
export interface Credentials {
  /** Authorization, Impersonate-User, ... */
  headers: Record<string, string>;
  /** PEM certificates trusted for the API server (in addition to the system roots). */
  caCerts?: string[];
  /** PEM client certificate. */
  cert?: string;
  /** PEM client key. */
  key?: string;
}

/**
 * Produces current credentials. `afterUnauthorized` is set when the API
 * server just answered 401 with the previous ones: cached plugin output
 * must not be served again.
 */
export type CredentialProvider = (
  request?: { afterUnauthorized?: boolean },
) => Promise<Credentials>;

/** A cluster entry of a kubeconfig; relative paths already resolved. */
export interface KubeconfigCluster {
  server?: string;
  "certificate-authority"?: string;
  "certificate-authority-data"?: string;
  "insecure-skip-tls-verify"?: boolean;
  "tls-server-name"?: string;
  "proxy-url"?: string;
}

/** A user entry of a kubeconfig; relative paths already resolved. */
export interface KubeconfigUser {
  "client-certificate"?: string;
  "client-certificate-data"?: string;
  "client-key"?: string;
  "client-key-data"?: string;
  token?: string;
  tokenFile?: string;
  username?: string;
  password?: string;
  as?: string;
  "as-groups"?: string[] | null;
  exec?: ExecConfig;
  "auth-provider"?: { name?: string; config?: Record<string, string> };
}

/**
 * Credentials of one kubeconfig user against one cluster. Static material
 * is re-read from its files on every call; an exec plugin runs again when
 * its credential is about to expire or was just refused.
 */
export function userCredentials(
  cluster: KubeconfigCluster,
  user: KubeconfigUser,
  now: () => number = Date.now,
): CredentialProvider {
  const exec = user.exec ? new ExecPlugin(user.exec, () => clusterInfo(cluster), now) : undefined;
  return async (request) => {
    const headers: Record<string, string> = {};
    const caCerts = pemFrom(
      cluster["certificate-authority-data"],
      cluster["certificate-authority"],
    );
    let cert = pemFrom(user["client-certificate-data"], user["client-certificate"]);
    let key = pemFrom(user["client-key-data"], user["client-key"]);
    if (exec) {
      const out = await exec.credential(request?.afterUnauthorized ?? false);
      if (out.token) headers["Authorization"] = `Bearer ${out.token}`;
      if (out.cert && out.key) [cert, key] = [out.cert, out.key];
    } else if (user.token) {
      headers["Authorization"] = `Bearer ${user.token.trim()}`;
    } else if (user.tokenFile) {
      // Token files often end with a newline, which is not a valid header value.
      headers["Authorization"] = `Bearer ${readText(user.tokenFile).trim()}`;
    } else if (user.username !== undefined || user.password !== undefined) {
      headers["Authorization"] = `Basic ${base64(`${user.username ?? ""}:${user.password ?? ""}`)}`;
    }
    if (user.as) headers["Impersonate-User"] = user.as;
    // fetch headers cannot repeat a name; the API server splits a comma-separated list.
    if (user["as-groups"]?.length) headers["Impersonate-Group"] = user["as-groups"].join(",");
    return { headers, caCerts: caCerts ? [caCerts] : undefined, cert, key };
  };
}

/** The cluster as an exec plugin sees it in `spec.cluster` (provideClusterInfo). */
function clusterInfo(c: KubeconfigCluster): Record<string, unknown> {
  const ca = pemFrom(c["certificate-authority-data"], c["certificate-authority"]);
  return {
    server: c.server,
    "certificate-authority-data": ca ? base64(ca) : undefined,
    "insecure-skip-tls-verify": c["insecure-skip-tls-verify"],
    "tls-server-name": c["tls-server-name"],
    "proxy-url": c["proxy-url"],
  };
}

/** PEM text from base64 `data`, else from the file at `path`. */
function pemFrom(data: string | undefined, path: string | undefined): string | undefined {
  if (data) return new TextDecoder().decode(Uint8Array.from(atob(data), (c) => c.charCodeAt(0)));
  return path ? readText(path) : undefined;
}

/** Reads a file; a missing one reads as "ENOENT: no such file or directory, open 'path'". */
export function readText(path: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new Error(`ENOENT: no such file or directory, open '${path}'`);
    }
    throw e;
  }
}

function base64(text: string): string {
  let binary = "";
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}
