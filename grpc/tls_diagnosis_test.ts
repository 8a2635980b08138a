/**
 * The sentence each TLS failure becomes. The failures themselves, produced
 * by real servers and certificates: tests/e2e/grpc_client_test.ts.
 */
import { assertEquals } from "../tests/assert.ts";
import { explainTlsError } from "./tls_diagnosis.ts";

function coded(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

Deno.test("explainTlsError names the cause and the flag to fix, keeping the original text", () => {
  const cases: Array<[Error, string]> = [
    [
      coded("ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED", "alert certificate required"),
      "TLS: server requires a client certificate — give --tls-cert and --tls-key (mutual TLS), or check them (alert certificate required)",
    ],
    [
      new Error("received fatal alert: UnknownCA"),
      "TLS: server rejected the client certificate — check --tls-cert/--tls-key are signed by the CA the server trusts (received fatal alert: UnknownCA)",
    ],
    [
      coded("SELF_SIGNED_CERT_IN_CHAIN", "self-signed certificate in certificate chain"),
      "TLS: server certificate signed by unknown authority — check --tls-ca (self-signed certificate in certificate chain)",
    ],
    [
      new Error("invalid peer certificate: NotValidForName"),
      "TLS: server certificate does not match the address — check --server-address against the certificate's SANs (invalid peer certificate: NotValidForName)",
    ],
    [
      coded("ECONNREFUSED", "connect ECONNREFUSED 127.0.0.1:1"),
      "connection refused — is router-hosts running at --server-address? (connect ECONNREFUSED 127.0.0.1:1)",
    ],
    [new Error("something new"), "TLS: something new"],
  ];
  for (const [error, sentence] of cases) assertEquals(explainTlsError(error), sentence);
});
