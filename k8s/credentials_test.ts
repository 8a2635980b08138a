/**
 * Credentials of one kubeconfig user: static headers and TLS material,
 * files read again on every call, and the exec plugin's refresh. Loading
 * them from kubeconfig files: ./kubeconfig_test.ts.
 */
import { assertEquals, assertRejects } from "../tests/assert.ts";
import { userCredentials } from "./credentials.ts";

const CA = "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n";
const CERT = "-----BEGIN CERTIFICATE-----\nCLIENT\n-----END CERTIFICATE-----\n";
const KEY = "-----BEGIN PRIVATE KEY-----\nKEY\n-----END PRIVATE KEY-----\n";

async function tempDir(): Promise<string & AsyncDisposable> {
  const dir = await Deno.makeTempDir({ prefix: "credentials-test-" });
  return Object.assign(dir, {
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  }) as string & AsyncDisposable;
}

function b64(text: string): string {
  return btoa(text);
}

Deno.test("static credentials: trimmed token, basic auth, impersonation, CA and client pair from data", async () => {
  const token = await userCredentials({ server: "https://x" }, {
    token: " abc\n",
    as: "alice",
    "as-groups": ["dev", "ops"],
  })();
  assertEquals(token.headers, {
    Authorization: "Bearer abc",
    "Impersonate-User": "alice",
    "Impersonate-Group": "dev,ops",
  });
  const basic = await userCredentials({ server: "https://x" }, { username: "u", password: "p" })();
  assertEquals(basic.headers, { Authorization: `Basic ${btoa("u:p")}` });
  const tls = await userCredentials(
    { server: "https://x", "certificate-authority-data": b64(CA) },
    { "client-certificate-data": b64(CERT), "client-key-data": b64(KEY) },
  )();
  assertEquals(tls, { headers: {}, caCerts: [CA], cert: CERT, key: KEY });
});

Deno.test("a tokenFile is read again on every call; a missing file says ENOENT with the path", async () => {
  await using dir = await tempDir();
  await Deno.writeTextFile(`${dir}/token`, "one\n");
  const credentials = userCredentials({ server: "https://x" }, { tokenFile: `${dir}/token` });
  assertEquals((await credentials()).headers.Authorization, "Bearer one");
  await Deno.writeTextFile(`${dir}/token`, "two\n");
  assertEquals((await credentials()).headers.Authorization, "Bearer two");
  await Deno.remove(`${dir}/token`);
  const e = await assertRejects(() => credentials());
  assertEquals(e.message, `ENOENT: no such file or directory, open '${dir}/token'`);
});

Deno.test("exec plugin: expiry drives the refresh (clock advanced past expiry minus the margin)", async () => {
  await using dir = await tempDir();
  const path = `${dir}/plugin.sh`;
  await Deno.writeTextFile(
    path,
    `#!/bin/sh
n=$(($(cat "${dir}/runs" 2>/dev/null || echo 0) + 1))
echo "$n" > "${dir}/runs"
echo '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"run'$n'","expirationTimestamp":"2030-01-01T00:00:00Z"}}'
`,
  );
  await Deno.chmod(path, 0o755);
  let now = Date.parse("2029-12-31T23:00:00Z");
  const credentials = userCredentials({ server: "https://x" }, {
    exec: { apiVersion: "client.authentication.k8s.io/v1", command: path },
  }, () => now);
  assertEquals((await credentials()).headers.Authorization, "Bearer run1");
  now = Date.parse("2029-12-31T23:59:30Z");
  assertEquals((await credentials()).headers.Authorization, "Bearer run1");
  now = Date.parse("2029-12-31T23:59:50Z");
  assertEquals((await credentials()).headers.Authorization, "Bearer run2");
  assertEquals(
    (await credentials({ afterUnauthorized: true })).headers.Authorization,
    "Bearer run3",
    "a 401 runs the plugin again before expiry",
  );
});

Deno.test("exec plugin with provideClusterInfo gets the cluster in KUBERNETES_EXEC_INFO", async () => {
  await using dir = await tempDir();
  const path = `${dir}/info.sh`;
  await Deno.writeTextFile(
    path,
    `#!/bin/sh\nprintf '%s' "$KUBERNETES_EXEC_INFO" > "${dir}/info.json"\necho '{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"token":"t"}}'\n`,
  );
  await Deno.chmod(path, 0o755);
  const credentials = userCredentials(
    { server: "https://api.example:6443", "certificate-authority-data": b64(CA) },
    {
      exec: {
        apiVersion: "client.authentication.k8s.io/v1beta1",
        command: path,
        provideClusterInfo: true,
      },
    },
  );
  assertEquals((await credentials()).headers, { Authorization: "Bearer t" });
  assertEquals(JSON.parse(await Deno.readTextFile(`${dir}/info.json`)), {
    apiVersion: "client.authentication.k8s.io/v1beta1",
    kind: "ExecCredential",
    spec: {
      interactive: false,
      cluster: { server: "https://api.example:6443", "certificate-authority-data": b64(CA) },
    },
  });
});
