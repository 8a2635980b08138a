/**
 * The TLS files of each mode, read and checked: what loads, and the error
 * that names the flag and the file when one is bad. Handshakes against a
 * real server: tests/e2e/grpc_client_test.ts and tests/e2e/tls_modes_test.ts.
 */
import { assertEquals, assertMatch, assertOk, assertRejects } from "../tests/assert.ts";
import { makeCa, makeClientLeaf } from "../tests/testbed/pki.ts";
import { loadTlsMaterial, secureContextOf, TlsConfigError } from "./tls.ts";

async function pki() {
  const dir = await Deno.makeTempDir({ prefix: "tls-test-" });
  const ca = await makeCa(dir, { name: "ca" });
  const client = await makeClientLeaf(dir, ca, { name: "client", commonName: "operator" });
  const other = await makeClientLeaf(dir, ca, { name: "other", commonName: "someone" });
  return {
    dir,
    ca,
    client,
    other,
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}

Deno.test("mutual TLS: roots from --tls-ca, the client identity with its fingerprint and expiry", async () => {
  await using p = await pki();
  const m = await loadTlsMaterial({
    caPath: p.ca.certPath,
    certPath: p.client.certPath,
    keyPath: p.client.keyPath,
  });
  assertEquals(m.caSource, "--tls-ca");
  assertOk(m.cert && m.key);
  assertMatch(m.certFingerprint ?? "", /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  assertOk(m.certNotAfter!.getTime() > Date.now());
  secureContextOf(m);
});

Deno.test("--tls-ca alone: roots only; a client certificate without --tls-ca: the system roots", async () => {
  await using p = await pki();
  const caOnly = await loadTlsMaterial({ caPath: p.ca.certPath });
  assertEquals([caOnly.caSource, caOnly.cert], ["--tls-ca", undefined]);
  const system = await loadTlsMaterial({
    certPath: p.client.certPath,
    keyPath: p.client.keyPath,
    systemRoots: { dirs: [p.dir] },
  });
  assertEquals(system.caSource, `the system roots (${p.dir})`);
  assertOk(system.ca.toString().includes("-----BEGIN CERTIFICATE"));
});

Deno.test("a bad file is a TlsConfigError naming the flag, the file and the problem", async () => {
  await using p = await pki();
  const notPem = `${p.dir}/not.pem`;
  await Deno.writeTextFile(notPem, "hello\n");
  const cases: Array<[Parameters<typeof loadTlsMaterial>[0], string, RegExp]> = [
    [{ caPath: `${p.dir}/missing.crt` }, "--tls-ca", /missing\.crt: cannot read: file not found$/],
    [{ caPath: notPem }, "--tls-ca", /not\.pem: not a PEM file \(no -----BEGIN line\)$/],
    [
      { caPath: p.ca.certPath, certPath: p.client.certPath, keyPath: p.other.keyPath },
      "--tls-key",
      /other\.key: private key does not match the certificate in .*client\.crt$/,
    ],
    [
      { caPath: p.ca.certPath, certPath: p.client.keyPath, keyPath: p.client.keyPath },
      "--tls-cert",
      /client\.key: not a valid PEM certificate/,
    ],
  ];
  for (const [files, flag, message] of cases) {
    const e = await assertRejects(() => loadTlsMaterial(files));
    assertOk(e instanceof TlsConfigError, e.message);
    assertEquals(e.flag, flag);
    assertMatch(e.message, message);
  }
});
