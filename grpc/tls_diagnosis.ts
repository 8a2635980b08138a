/**
 * Why a TLS connection to router-hosts fails, in a sentence that names the
 * cause and the flag to fix: a bare TLS probe with the client identity, the
 * server certificate checked by hand, and the TLS stack's error codes
 * explained.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { X509Certificate } from "node:crypto";
import * as tls from "node:tls";
import { isIpLiteral, type ProbeAddress } from "./target.ts";
import { MIN_TLS_VERSION, type TlsMaterial } from "./tls.ts";

/**
 * Opens a bare TLS connection with the client identity and returns a
 * sentence saying why router-hosts cannot be reached over it, or undefined
 * when the server accepts the connection. gRPC only reports "UNAVAILABLE"
 * for these; this tells the person what to fix.
 *
 * The server certificate is checked here, not by the TLS stack: Deno 2.9
 * reports an expired, a not-yet-valid and a foreign-CA server certificate
 * alike as UNABLE_TO_VERIFY_LEAF_SIGNATURE, and it checks the name even when
 * told not to verify. A server that refuses our client certificate does so
 * after a TLS 1.3 handshake has completed on our side, with an alert (Go) or
 * by just closing (a Deno server), so the probe sends the HTTP/2 preface and
 * counts only an answer as acceptance.
 */
export async function diagnoseTls(
  address: ProbeAddress,
  tlsName: string | undefined,
  material: TlsMaterial,
  timeoutMs = 3000,
): Promise<string | undefined> {
  const probe = await probeTls(address, tlsName, material, timeoutMs);
  if (probe.error) return explainTlsError(probe.error);
  const serverProblem = checkServerCertificate(tlsName, material, probe);
  if (serverProblem) return `TLS: ${serverProblem}`;
  switch (probe.after) {
    case "answered":
      return undefined;
    case "silent":
      return `TLS: handshake completed but the server sent nothing within ${timeoutMs} ms — ` +
        "is --server-address the router-hosts gRPC port, and is the server responsive?";
    default:
      return `TLS: ${clientCertificateRefusal(material, probe.afterError)}`;
  }
}

/** What a bare TLS connection saw. */
interface TlsProbe {
  /** A failure before the handshake completed (connect, handshake, timeout). */
  error?: Error;
  /** The server's leaf certificate, once the handshake completed. */
  serverCert?: X509Certificate;
  /** The TLS stack's verdict on the server certificate against --tls-ca (null: trusted). */
  authorizationError?: string;
  /** After the handshake: the server sent HTTP/2 frames, hung up, or stayed silent. */
  after?: "answered" | "closed" | "silent";
  /** An error the server's hang-up surfaced as (an alert, a reset), if any. */
  afterError?: Error;
}

/** Client connection preface and an empty SETTINGS frame (RFC 9113 §3.4): a server answers with its own SETTINGS. */
const HTTP2_PREFACE = Buffer.concat([
  Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1"),
  Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]),
]);

function probeTls(
  address: ProbeAddress,
  tlsName: string | undefined,
  material: TlsMaterial,
  timeoutMs: number,
): Promise<TlsProbe> {
  return new Promise<TlsProbe>((resolve) => {
    const probe: TlsProbe = {};
    let settled = false;
    const socket = tls.connect({
      ...address,
      ca: material.ca,
      cert: material.cert,
      key: material.key,
      // Deno refuses an IP address as SNI; a socket has no name at all.
      servername: tlsName && !isIpLiteral(tlsName) ? tlsName : undefined,
      minVersion: MIN_TLS_VERSION,
      ALPNProtocols: ["h2"],
      // Verified in checkServerCertificate, which names the cause. Deno
      // checks the name even with rejectUnauthorized false, so skip it here.
      rejectUnauthorized: false,
      checkServerIdentity: () => undefined,
    });
    const finish = (update: Partial<TlsProbe>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(Object.assign(probe, update));
    };
    const timer = setTimeout(() => {
      if (probe.serverCert) finish({ after: "silent" });
      else finish({ error: new Error(`TLS handshake timed out after ${timeoutMs} ms`) });
    }, timeoutMs);
    socket.once("secureConnect", () => {
      const peer = socket.getPeerCertificate();
      if (peer?.raw) probe.serverCert = new X509Certificate(peer.raw);
      probe.authorizationError = socket.authorizationError
        ? String(socket.authorizationError)
        : undefined;
      socket.write(HTTP2_PREFACE);
    });
    const hungUp = (error?: Error) =>
      finish(
        probe.serverCert
          ? { after: "closed", afterError: error }
          : { error: error ?? new Error("connection closed during the TLS handshake") },
      );
    socket.once("data", () => finish({ after: "answered" }));
    socket.once("end", () => hungUp());
    socket.once("close", () => hungUp());
    socket.once("error", (error: Error) => hungUp(error));
  });
}

/** Why the server certificate is not acceptable for `host`, or undefined when it is. */
function checkServerCertificate(
  host: string | undefined,
  material: TlsMaterial,
  probe: TlsProbe,
): string | undefined {
  const cert = probe.serverCert;
  if (!cert) return undefined;
  if (probe.authorizationError) {
    const now = Date.now();
    const notAfter = new Date(cert.validTo);
    const notBefore = new Date(cert.validFrom);
    if (now > notAfter.getTime()) {
      return `server certificate expired on ${notAfter.toISOString()} — renew the router-hosts server certificate`;
    }
    if (now < notBefore.getTime()) {
      return `server certificate is not valid before ${notBefore.toISOString()} — check the clocks of both machines`;
    }
    if (!caCertificates(material.ca).some((ca) => issuedBy(cert, ca))) {
      return `server certificate signed by unknown authority (issuer ${
        oneLine(cert.issuer)
      } is not in ${material.caSource}) — ${
        material.caSource === "--tls-ca"
          ? "check --tls-ca"
          : "give the CA that signed it with --tls-ca, or add it to the system roots"
      }`;
    }
    return explainTlsError(new Error(probe.authorizationError)).replace(/^TLS: /, "");
  }
  // A unix socket has no name to compare: the chain alone decides.
  if (host === undefined) return undefined;
  const named = isIpLiteral(host) ? cert.checkIP(host) : cert.checkHost(host);
  if (!named) {
    return `server certificate does not name ${host} (it names ${
      cert.subjectAltName ?? "nothing"
    }) — dial a name from the certificate in --server-address, or reissue the certificate`;
  }
  return undefined;
}

/**
 * The server completed the handshake and then hung up: it refused our
 * certificate. Go's crypto/tls (the real server) sends an alert first, which
 * Deno surfaces as an error ("received fatal alert: UnknownCA"); a Deno
 * server just closes. Say why when the certificate itself shows it.
 */
function clientCertificateRefusal(material: TlsMaterial, afterError?: Error): string {
  const said = afterError ? ` (${afterError.message})` : "";
  if (!material.cert) {
    return `server requires a client certificate and none is configured — give --tls-cert and --tls-key (mutual TLS)${said}`;
  }
  const cert = new X509Certificate(material.cert);
  const now = Date.now();
  const notAfter = new Date(cert.validTo);
  const notBefore = new Date(cert.validFrom);
  if (now > notAfter.getTime()) {
    return `server rejected the client certificate: it expired on ${notAfter.toISOString()} — renew --tls-cert${said}`;
  }
  if (now < notBefore.getTime()) {
    return `server rejected the client certificate: it is not valid before ${notBefore.toISOString()} — check --tls-cert and the clocks${said}`;
  }
  const cas = caCertificates(material.ca);
  const hint = cas.length > 0 && !cas.some((ca) => issuedBy(cert, ca))
    ? `; --tls-cert is issued by ${oneLine(cert.issuer)}, which is not the CA in --tls-ca`
    : "";
  const how = afterError
    ? `(${afterError.message})`
    : "(it closed the connection right after the handshake)";
  return `server rejected the client certificate ${how} — ` +
    `check --tls-cert/--tls-key are signed by the CA the server trusts${hint}`;
}

function caCertificates(bundle: Buffer): X509Certificate[] {
  const blocks = bundle.toString("latin1").match(
    /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g,
  ) ?? [];
  const out: X509Certificate[] = [];
  for (const block of blocks) {
    try {
      out.push(new X509Certificate(block));
    } catch {
      // loadTlsMaterial already refused a CA file whose first certificate is bad; skip later ones.
    }
  }
  return out;
}

function issuedBy(cert: X509Certificate, ca: X509Certificate): boolean {
  return cert.checkIssued(ca) && cert.verify(ca.publicKey);
}

/** X.509 names print one attribute per line. */
function oneLine(name: string): string {
  return `"${name.split("\n").filter(Boolean).join(", ")}"`;
}

/**
 * Turns a Node/Deno TLS or connection error into a cause and the flag to
 * check. Alerts are what the *server* says about our certificate; the other
 * certificate errors come from our own check of the server's certificate.
 */
export function explainTlsError(error: Error): string {
  const text = `${(error as { code?: string }).code ?? ""} ${error.message}`;
  const rules: [RegExp, string][] = [
    [
      /ALERT_CERTIFICATE_REQUIRED|alert certificate required|alert: ?CertificateRequired|PEER_DID_NOT_RETURN_A_CERTIFICATE/i,
      "TLS: server requires a client certificate — give --tls-cert and --tls-key (mutual TLS), or check them",
    ],
    [
      /ALERT_PROTOCOL_VERSION|alert protocol version|alert: ?ProtocolVersion|UNSUPPORTED_PROTOCOL|unsupported protocol|no protocols available/i,
      "TLS: the server does not offer TLS 1.3, the minimum the operator accepts (as the Go operator) — upgrade the server's TLS",
    ],
    [
      /ALERT_CERTIFICATE_EXPIRED|alert certificate expired|alert: ?CertificateExpired/i,
      "TLS: server rejected the client certificate as expired — renew --tls-cert",
    ],
    [
      /ALERT_(CERTIFICATE_REQUIRED|UNKNOWN_CA|BAD_CERTIFICATE|CERTIFICATE_UNKNOWN|UNSUPPORTED_CERTIFICATE|DECRYPT_ERROR)|alert (certificate required|unknown ca|bad certificate|certificate unknown|unsupported certificate|decrypt error)|alert: ?(CertificateRequired|UnknownCA|BadCertificate|CertificateUnknown|UnsupportedCertificate|DecryptError)|PEER_DID_NOT_RETURN_A_CERTIFICATE/i,
      "TLS: server rejected the client certificate — check --tls-cert/--tls-key are signed by the CA the server trusts",
    ],
    [
      /UNABLE_TO_GET_ISSUER_CERT|SELF_SIGNED_CERT|unknown ?issuer|unable to get (local )?issuer|unknown authority|self[- ]signed/i,
      "TLS: server certificate signed by unknown authority — check --tls-ca",
    ],
    [
      /CERT_HAS_EXPIRED|certificate has expired|\bExpired\b/,
      "TLS: server certificate has expired — renew the router-hosts server certificate",
    ],
    [
      /CERT_NOT_YET_VALID|not yet valid|NotValidYet/i,
      "TLS: server certificate is not yet valid — check the clocks",
    ],
    [
      // Node: the issuer is not in --tls-ca. Deno 2.9: also an expired or not-yet-valid certificate.
      /UNABLE_TO_VERIFY_LEAF_SIGNATURE|unable to verify the first certificate/i,
      "TLS: server certificate cannot be verified with --tls-ca (another CA, expired or not yet valid) — check --tls-ca and the server certificate",
    ],
    [
      /INVALID_PURPOSE|RequiredEkuNotFound/i,
      "TLS: server certificate lacks the serverAuth extended key usage — reissue the router-hosts server certificate",
    ],
    [
      /ERR_TLS_CERT_ALTNAME_INVALID|altnames|NotValidForName|does not match certificate/i,
      "TLS: server certificate does not match the address — check --server-address against the certificate's SANs",
    ],
    [
      /WRONG_VERSION_NUMBER|wrong version number|CorruptMessage|InvalidContentType/i,
      "TLS: the server did not answer with TLS — is --server-address the router-hosts gRPC port?",
    ],
    [
      /ECONNREFUSED|Connection refused/i,
      "connection refused — is router-hosts running at --server-address?",
    ],
    [
      /ENOTFOUND|EAI_AGAIN|failed to lookup address|Name or service not known/i,
      "cannot resolve the host in --server-address",
    ],
    [
      /timed out|ETIMEDOUT/i,
      "TLS handshake timed out — is router-hosts at --server-address up and responsive?",
    ],
    [
      /ECONNRESET|EPIPE|socket hang up|closed|reset/i,
      "TLS: connection closed during the handshake — the server may have rejected the client certificate (check --tls-cert/--tls-key)",
    ],
  ];
  for (const [pattern, meaning] of rules) {
    if (pattern.test(text)) return `${meaning} (${error.message})`;
  }
  return `TLS: ${error.message}`;
}
