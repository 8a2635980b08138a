/**
 * The mTLS client identity: PEM files read and checked once at startup (and
 * again on rotation), and a diagnosis of TLS handshake failures that names
 * the cause and the flag to fix.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { createPrivateKey, X509Certificate } from "node:crypto";
import * as tls from "node:tls";

/** Paths of the client identity's PEM files (flags --tls-ca, --tls-cert, --tls-key). */
export interface TlsFiles {
  caPath: string;
  certPath: string;
  keyPath: string;
}

/** The PEM contents, checked: certificates parse and the key belongs to the certificate. */
export interface TlsMaterial {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
  /** SHA-256 fingerprint of the client certificate, for logs (never the key). */
  certFingerprint: string;
  /** Expiry of the client certificate. */
  certNotAfter: Date;
}

/** A TLS file that cannot be used; the message names the flag and the file. */
export class TlsConfigError extends Error {
  /** The flag whose file is at fault, e.g. "--tls-cert". */
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

/** Reads and checks the three PEM files; throws {@link TlsConfigError} naming the bad one. */
export async function loadTlsMaterial(files: TlsFiles): Promise<TlsMaterial> {
  const [ca, cert, key] = await Promise.all([
    readPem("--tls-ca", files.caPath),
    readPem("--tls-cert", files.certPath),
    readPem("--tls-key", files.keyPath),
  ]);
  parseCert("--tls-ca", files.caPath, ca);
  const x509 = parseCert("--tls-cert", files.certPath, cert);
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch (e) {
    throw new TlsConfigError(
      "--tls-key",
      files.keyPath,
      `not a valid PEM private key (${(e as Error).message})`,
    );
  }
  if (!x509.checkPrivateKey(privateKey)) {
    throw new TlsConfigError(
      "--tls-key",
      files.keyPath,
      `private key does not match the certificate in ${files.certPath}`,
    );
  }
  return {
    ca,
    cert,
    key,
    certFingerprint: x509.fingerprint256,
    certNotAfter: new Date(x509.validTo),
  };
}

/** True when `host` is an IPv4 or IPv6 literal. */
export function isIpLiteral(host: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host.includes(":");
}

/**
 * Opens a bare TLS connection with the client identity and returns a
 * sentence saying why the handshake fails, or undefined when it succeeds.
 * gRPC only reports "UNAVAILABLE" for these; this tells the person what to fix.
 */
export async function diagnoseTls(
  host: string,
  port: number,
  material: TlsMaterial,
  timeoutMs = 3000,
): Promise<string | undefined> {
  const result = await new Promise<{ error?: Error; authorized?: boolean }>((resolve) => {
    const socket = tls.connect({
      host,
      port,
      ca: material.ca,
      cert: material.cert,
      key: material.key,
      servername: isIpLiteral(host) ? undefined : host,
      minVersion: "TLSv1.2",
      ALPNProtocols: ["h2"],
      checkServerIdentity: (_name, cert) => tls.checkServerIdentity(host, cert),
    });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ error: new Error("handshake timed out") });
    }, timeoutMs);
    socket.once("secureConnect", () => {
      // A server that rejects our certificate only says so after the
      // handshake (TLS 1.3); wait briefly for its alert.
      setTimeout(() => {
        clearTimeout(timer);
        socket.destroy();
        resolve({ authorized: true });
      }, 150);
    });
    socket.once("error", (error) => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ error });
    });
  });
  if (!result.error) return undefined;
  return explainTlsError(result.error);
}

/** Turns a Node/Deno TLS error into a cause and the flag to check. */
export function explainTlsError(error: Error): string {
  const text = `${(error as { code?: string }).code ?? ""} ${error.message}`;
  const rules: [RegExp, string][] = [
    [
      /UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT|unknown ?issuer|UnknownIssuer|unable to get (local )?issuer|unknown authority|self[- ]signed/i,
      "server certificate signed by unknown authority — check --tls-ca",
    ],
    [
      /CERT_HAS_EXPIRED|expired/i,
      "certificate has expired — renew the server or client certificate",
    ],
    [/CERT_NOT_YET_VALID|not yet valid/i, "certificate is not yet valid — check clocks"],
    [
      /ERR_TLS_CERT_ALTNAME_INVALID|altname|NotValidForName|hostname|does not match/i,
      "server certificate does not match the address — check --server-address against the certificate's SANs",
    ],
    [
      /certificate required|CertificateRequired|alert (bad|unknown) ?certificate|unknown ca|bad certificate|UnknownCA|BadCertificate|decrypt/i,
      "server rejected the client certificate — check --tls-cert/--tls-key are signed by the CA the server trusts",
    ],
    [
      /ECONNREFUSED|Connection refused/i,
      "connection refused — is the server running at --server-address?",
    ],
    [/timed out|ETIMEDOUT/i, "TLS handshake timed out — check --server-address and the network"],
    [
      /ECONNRESET|socket hang up|closed|reset/i,
      "connection closed during the TLS handshake — the server may have rejected the client certificate (check --tls-cert/--tls-key)",
    ],
  ];
  for (const [pattern, meaning] of rules) {
    if (pattern.test(text)) return `TLS: ${meaning} (${error.message})`;
  }
  return `TLS: ${error.message}`;
}
