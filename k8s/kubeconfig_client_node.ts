/**
 * The fallback for kubeconfig users with a legacy `auth-provider` (oidc,
 * gcp, azure), which ./kubeconfig.ts does not implement: credentials from
 * @kubernetes/client-node's `KubeConfig`. client-node is imported here,
 * dynamically, so its large module graph is loaded only by those users.
 *
 * @module
 */
import type { KubeConfig } from "@kubernetes/client-node";
import type { CredentialProvider } from "./credentials.ts";

/**
 * Loads `files` (merged like before: the first file's current-context) into
 * client-node and adapts its `applyToHTTPSOptions` to our credentials.
 */
export async function clientNodeCredentials(files: string[]): Promise<CredentialProvider> {
  const { KubeConfig } = await import("@kubernetes/client-node");
  const kc = new KubeConfig();
  kc.loadFromFile(files[0]);
  for (const file of files.slice(1)) {
    const extra = new KubeConfig();
    extra.loadFromFile(file);
    kc.mergeConfig(extra, true);
  }
  return async () => {
    const opts: HttpsOptionsLike = {};
    await kc.applyToHTTPSOptions(opts as Parameters<KubeConfig["applyToHTTPSOptions"]>[0]);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(opts.headers ?? {})) {
      // Token files often end with a newline, which is not a valid header value.
      if (v !== undefined) headers[k] = String(v).trim();
    }
    if (opts.auth) headers["Authorization"] = `Basic ${btoa(opts.auth)}`;
    return {
      headers,
      caCerts: opts.ca ? [pemText(opts.ca)] : undefined,
      cert: opts.cert ? pemText(opts.cert) : undefined,
      key: opts.key ? pemText(opts.key) : undefined,
    };
  };
}

/** The fields of node's https.RequestOptions that client-node fills in. */
interface HttpsOptionsLike {
  headers?: Record<string, unknown>;
  auth?: string;
  ca?: unknown;
  cert?: unknown;
  key?: unknown;
}

function pemText(value: unknown): string {
  if (typeof value === "string") return value;
  if (value instanceof Uint8Array) return new TextDecoder().decode(value);
  if (Array.isArray(value)) return value.map(pemText).join("\n");
  throw new Error(`unsupported TLS material of type ${typeof value}`);
}
