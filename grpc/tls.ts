/**
 * The TLS client side: PEM files read and checked once at startup (and again
 * on rotation) and the secure context built from them. Why a handshake
 * fails is ./tls_diagnosis.ts.
 *
 * Three modes, as the Go operator: `--tls-ca` alone (the server is verified
 * against that CA, no client certificate), `--tls-cert` + `--tls-key` (a
 * client certificate; the server is verified against the system roots), or
 * all three (mutual TLS). TLS 1.3 is the minimum in every mode.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { join } from "node:path";
import * as tls from "node:tls";

/** The lowest TLS version the operator speaks, as the Go operator (tls.VersionTLS13). */
export const MIN_TLS_VERSION = "TLSv1.3";

/**
 * Where the system roots are read from when `--tls-ca` is not given. Deno
 * 2.9's node:tls under grpc-js trusts only its built-in Mozilla list (it
 * ignores DENO_CERT and SSL_CERT_FILE there), so the operator reads the
 * roots itself the way Go does: `SSL_CERT_FILE`, `SSL_CERT_DIR`, else the
 * distribution's bundle.
 */
export interface SystemRoots {
  /** `$SSL_CERT_FILE`: one PEM bundle, instead of the distribution's. */
  file?: string;
  /** `$SSL_CERT_DIR`: directories of PEM files (colon-separated in the variable). */
  dirs?: string[];
}

/** Paths of the PEM files (flags --tls-ca, --tls-cert, --tls-key); a mode needs some of them. */
export interface TlsFiles {
  caPath?: string;
  certPath?: string;
  keyPath?: string;
  /** Without caPath: where the system roots come from (default: the distribution's bundle). */
  systemRoots?: SystemRoots;
}

/** The PEM contents, checked: certificates parse and the key belongs to the certificate. */
export interface TlsMaterial {
  /** The roots the server certificate is verified against: --tls-ca, or the system roots. */
  ca: Buffer;
  /** Where `ca` came from, for messages: "--tls-ca" or "the system roots (<path>)". */
  caSource: string;
  /** The client certificate and key; absent with --tls-ca alone. */
  cert?: Buffer;
  key?: Buffer;
  /** SHA-256 fingerprint of the client certificate, for logs (never the key). */
  certFingerprint?: string;
  /** Expiry of the client certificate. */
  certNotAfter?: Date;
}

/** A TLS file that cannot be used; the message names the flag and the file. */
export class TlsConfigError extends Error {
  /** The flag (or variable) whose file is at fault, e.g. "--tls-cert". */
  readonly flag: string;
  constructor(flag: string, path: string, problem: string) {
    super(`${flag} ${path}: ${problem}`);
    this.name = "TlsConfigError";
    this.flag = flag;
  }
}

async function readPem(flag: string, path: string): Promise<Buffer> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    const why = e instanceof Deno.errors.NotFound
      ? "file not found"
      : e instanceof Deno.errors.PermissionDenied
      ? "permission denied"
      : (e as Error).message;
    throw new TlsConfigError(flag, path, `cannot read: ${why}`);
  }
  const buf = Buffer.from(bytes);
  if (!buf.toString("latin1").includes("-----BEGIN ")) {
    throw new TlsConfigError(flag, path, "not a PEM file (no -----BEGIN line)");
  }
  return buf;
}

function parseCert(flag: string, path: string, pem: Buffer): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (e) {
    throw new TlsConfigError(flag, path, `not a valid PEM certificate (${(e as Error).message})`);
  }
}

/** Go's crypto/x509 bundle locations on Linux, in its order. */
const DISTRO_BUNDLES = [
  "/etc/ssl/certs/ca-certificates.crt",
  "/etc/pki/tls/certs/ca-bundle.crt",
  "/etc/ssl/ca-bundle.pem",
  "/etc/pki/tls/cacert.pem",
  "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
  "/etc/ssl/cert.pem",
];

/**
 * The system roots as Go reads them: `SSL_CERT_FILE` (must be readable), the
 * PEM files in `SSL_CERT_DIR`, else the first distribution bundle that
 * exists; when there is none, the Mozilla list built into the runtime.
 */
async function loadSystemRoots(roots: SystemRoots): Promise<{ ca: Buffer; source: string }> {
  const parts: Buffer[] = [];
  const from: string[] = [];
  if (roots.file) {
    parts.push(await readPem("SSL_CERT_FILE", roots.file));
    from.push(roots.file);
  }
  for (const dir of roots.dirs ?? []) {
    let names: string[];
    try {
      names = [...Deno.readDirSync(dir)].filter((e) => !e.isDirectory).map((e) => e.name).sort();
    } catch {
      continue; // Go skips directories it cannot read.
    }
    for (const name of names) {
      const bytes = await Deno.readFile(join(dir, name)).catch(() => undefined);
      if (bytes && Buffer.from(bytes).toString("latin1").includes("-----BEGIN CERTIFICATE")) {
        parts.push(Buffer.from(bytes));
      }
    }
    from.push(dir);
  }
  if (!roots.file && !roots.dirs?.length) {
    for (const path of DISTRO_BUNDLES) {
      const bytes = await Deno.readFile(path).catch(() => undefined);
      if (bytes) {
        parts.push(Buffer.from(bytes));
        from.push(path);
        break;
      }
    }
  }
  if (parts.length === 0) {
    return {
      ca: Buffer.from(tls.rootCertificates.join("\n")),
      source: "the system roots (the runtime's built-in Mozilla list)",
    };
  }
  return {
    ca: Buffer.concat(parts.flatMap((p) => [p, Buffer.from("\n")])),
    source: `the system roots (${from.join(", ")})`,
  };
}

/** Reads and checks the PEM files of the mode; throws {@link TlsConfigError} naming the bad one. */
export async function loadTlsMaterial(files: TlsFiles): Promise<TlsMaterial> {
  const read = await Promise.allSettled([
    files.caPath ? readPem("--tls-ca", files.caPath) : loadSystemRoots(files.systemRoots ?? {}),
    files.certPath ? readPem("--tls-cert", files.certPath) : undefined,
    files.keyPath ? readPem("--tls-key", files.keyPath) : undefined,
  ]);
  // Report the first bad file in flag order, not whichever read failed first.
  const [roots, cert, key] = read.map((r) => {
    if (r.status === "rejected") throw r.reason;
    return r.value;
  }) as [Buffer | { ca: Buffer; source: string }, Buffer | undefined, Buffer | undefined];
  let material: TlsMaterial;
  if (Buffer.isBuffer(roots)) {
    parseCert("--tls-ca", files.caPath!, roots);
    material = { ca: roots, caSource: "--tls-ca" };
  } else {
    material = { ca: roots.ca, caSource: roots.source };
  }
  if (!cert || !key) return material;
  const x509 = parseCert("--tls-cert", files.certPath!, cert);
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch (e) {
    throw new TlsConfigError(
      "--tls-key",
      files.keyPath!,
      `not a valid PEM private key (${(e as Error).message})`,
    );
  }
  if (!x509.checkPrivateKey(privateKey)) {
    throw new TlsConfigError(
      "--tls-key",
      files.keyPath!,
      `private key does not match the certificate in ${files.certPath}`,
    );
  }
  return {
    ...material,
    cert,
    key,
    certFingerprint: x509.fingerprint256,
    certNotAfter: new Date(x509.validTo),
  };
}

/**
 * The secure context of every connection to router-hosts: the roots, the
 * client identity if any, TLS 1.3 at least. Deno 2.9 honours minVersion on
 * a context handed to grpc-js (a TLS 1.2-only server is refused with a
 * protocol_version alert), which grpc-js' createSsl cannot set.
 */
export function secureContextOf(material: TlsMaterial): tls.SecureContext {
  return tls.createSecureContext({
    ca: material.ca,
    cert: material.cert,
    key: material.key,
    minVersion: MIN_TLS_VERSION,
  });
}
