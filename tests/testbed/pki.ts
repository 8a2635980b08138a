/**
 * Test PKI made with the `openssl` CLI: a CA, server leaves and client leaves,
 * all X.509 v3. Deno rejects v1 client certificates (what `openssl x509 -req`
 * makes without an extensions file), so every certificate here is signed with
 * an extensions file that sets basicConstraints, keyUsage and extendedKeyUsage.
 *
 * Keys are ECDSA P-256: fast to generate, accepted by Go (kube-apiserver,
 * router-hosts), rustls (Deno fetch) and grpc-js.
 *
 * @module
 */
import { join } from "node:path";

/** A certificate and its private key, both PEM files. */
export interface CertFiles {
  /** PEM certificate. */
  certPath: string;
  /** PEM private key (PKCS#8), mode 0600. */
  keyPath: string;
}

/** Options for {@linkcode makeCa}. */
export interface CaOptions {
  /** File base name inside the directory: `<name>.crt`, `<name>.key`. */
  name: string;
  /** Subject CN; defaults to `name`. */
  commonName?: string;
  /** Validity in days (default 365). */
  days?: number;
}

/** Options for {@linkcode makeServerLeaf}. */
export interface ServerLeafOptions {
  /** File base name inside the directory. */
  name: string;
  /** Subject CN; defaults to `name`. */
  commonName?: string;
  /** DNS SANs in addition to `localhost`. */
  extraDnsNames?: string[];
  /** IP SANs in addition to `127.0.0.1` and `::1`. */
  extraIpAddresses?: string[];
  /** Validity in days (default 365). */
  days?: number;
}

/** Options for {@linkcode makeClientLeaf}. */
export interface ClientLeafOptions {
  /** File base name inside the directory. */
  name: string;
  /** Subject CN (Kubernetes reads it as the user name). */
  commonName: string;
  /** Subject O entries (Kubernetes reads them as groups, e.g. `system:masters`). */
  organizations?: string[];
  /** Validity in days (default 365). */
  days?: number;
}

/** An RSA key pair for signing tokens (kube-apiserver service-account keys). */
export interface SigningKeyFiles {
  /** PEM private key (PKCS#8), mode 0600. */
  privateKeyPath: string;
  /** PEM public key (SubjectPublicKeyInfo). */
  publicKeyPath: string;
}

const DEFAULT_DAYS = 365;

// `req` insists on a distinguished_name section even when -subj gives the subject.
const REQ_SECTION = "[req]\ndistinguished_name = dn\n[dn]\n";

/** Creates a self-signed CA certificate and key in `dir`. */
export async function makeCa(dir: string, opts: CaOptions): Promise<CertFiles> {
  const files = paths(dir, opts.name);
  const cnf = join(dir, `${opts.name}.cnf`);
  await Deno.writeTextFile(
    cnf,
    REQ_SECTION +
      "[v3_ca]\n" +
      "basicConstraints = critical, CA:TRUE\n" +
      "keyUsage = critical, keyCertSign, cRLSign, digitalSignature\n" +
      "subjectKeyIdentifier = hash\n" +
      "authorityKeyIdentifier = keyid:always\n",
  );
  await ecKey(files.keyPath);
  await openssl([
    "req",
    "-x509",
    "-new",
    "-sha256",
    "-key",
    files.keyPath,
    "-subj",
    subject(opts.commonName ?? opts.name, []),
    "-days",
    String(opts.days ?? DEFAULT_DAYS),
    "-config",
    cnf,
    "-extensions",
    "v3_ca",
    "-out",
    files.certPath,
  ]);
  return files;
}

/**
 * Creates a server leaf signed by `ca`: serverAuth, SANs `localhost`,
 * `127.0.0.1`, `::1` plus any extras.
 */
export async function makeServerLeaf(
  dir: string,
  ca: CertFiles,
  opts: ServerLeafOptions,
): Promise<CertFiles> {
  const dns = ["localhost", ...(opts.extraDnsNames ?? [])];
  const ips = ["127.0.0.1", "::1", ...(opts.extraIpAddresses ?? [])];
  const san = [...dns.map((d) => `DNS:${d}`), ...ips.map((ip) => `IP:${ip}`)].join(", ");
  return await signLeaf(dir, ca, {
    name: opts.name,
    subject: subject(opts.commonName ?? opts.name, []),
    days: opts.days,
    extensions: "extendedKeyUsage = serverAuth\n" + `subjectAltName = ${san}\n`,
  });
}

/** Creates a client leaf signed by `ca`: clientAuth, subject CN and O as given. */
export async function makeClientLeaf(
  dir: string,
  ca: CertFiles,
  opts: ClientLeafOptions,
): Promise<CertFiles> {
  return await signLeaf(dir, ca, {
    name: opts.name,
    subject: subject(opts.commonName, opts.organizations ?? []),
    days: opts.days,
    extensions: "extendedKeyUsage = clientAuth\n",
  });
}

/** Creates an RSA-2048 key pair (`<name>.key`, `<name>.pub`) in `dir`. */
export async function makeSigningKey(dir: string, name: string): Promise<SigningKeyFiles> {
  const privateKeyPath = join(dir, `${name}.key`);
  const publicKeyPath = join(dir, `${name}.pub`);
  await openssl([
    "genpkey",
    "-algorithm",
    "RSA",
    "-pkeyopt",
    "rsa_keygen_bits:2048",
    "-out",
    privateKeyPath,
  ]);
  await Deno.chmod(privateKeyPath, 0o600);
  await openssl(["pkey", "-in", privateKeyPath, "-pubout", "-out", publicKeyPath]);
  return { privateKeyPath, publicKeyPath };
}

interface LeafSpec {
  name: string;
  subject: string;
  days?: number;
  extensions: string;
}

async function signLeaf(dir: string, ca: CertFiles, spec: LeafSpec): Promise<CertFiles> {
  const files = paths(dir, spec.name);
  const csr = join(dir, `${spec.name}.csr`);
  const cnf = join(dir, `${spec.name}.cnf`);
  await Deno.writeTextFile(
    cnf,
    REQ_SECTION +
      "[v3_leaf]\n" +
      "basicConstraints = critical, CA:FALSE\n" +
      "keyUsage = critical, digitalSignature, keyEncipherment\n" +
      "subjectKeyIdentifier = hash\n" +
      "authorityKeyIdentifier = keyid, issuer\n" +
      spec.extensions,
  );
  await ecKey(files.keyPath);
  await openssl([
    "req",
    "-new",
    "-key",
    files.keyPath,
    "-subj",
    spec.subject,
    "-config",
    cnf,
    "-out",
    csr,
  ]);
  await openssl([
    "x509",
    "-req",
    "-sha256",
    "-in",
    csr,
    "-CA",
    ca.certPath,
    "-CAkey",
    ca.keyPath,
    // A random serial instead of -CAcreateserial: no shared .srl file to race on.
    "-set_serial",
    randomSerial(),
    "-days",
    String(spec.days ?? DEFAULT_DAYS),
    "-extfile",
    cnf,
    "-extensions",
    "v3_leaf",
    "-out",
    files.certPath,
  ]);
  return files;
}

function paths(dir: string, name: string): CertFiles {
  return { certPath: join(dir, `${name}.crt`), keyPath: join(dir, `${name}.key`) };
}

async function ecKey(path: string): Promise<void> {
  await openssl([
    "genpkey",
    "-algorithm",
    "EC",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-out",
    path,
  ]);
  await Deno.chmod(path, 0o600);
}

// openssl's -subj syntax separates attributes with "/", so escape it (and "\") in values.
function subject(commonName: string, organizations: string[]): string {
  const esc = (v: string) => v.replace(/[\\/]/g, (c) => `\\${c}`);
  return organizations.map((o) => `/O=${esc(o)}`).join("") + `/CN=${esc(commonName)}`;
}

function randomSerial(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[0] &= 0x7f; // keep it positive, as RFC 5280 requires
  return "0x" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

async function openssl(args: string[]): Promise<void> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command("openssl", { args, stdout: "piped", stderr: "piped" }).output();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new Error(
        "openssl not found on PATH: the test-bed PKI needs the openssl CLI (apt-get install openssl)",
      );
    }
    throw e;
  }
  if (!out.success) {
    const stderr = new TextDecoder().decode(out.stderr).trim();
    throw new Error(`openssl ${args[0]} failed (exit ${out.code}): ${stderr}`);
  }
}
