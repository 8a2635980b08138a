/**
 * The kubeconfig loader on each form users run: in-cluster service account,
 * client certificate and key (file or data), bearer token and tokenFile,
 * exec plugins (v1, v1beta1) with expiry-driven refresh, merged
 * `$KUBECONFIG` lists, the order sources are tried in, the error messages,
 * and the client-node fallback for `auth-provider` users. Against a real
 * API server: tests/e2e/kubeconfig_test.ts.
 */
import { Logger } from "../observability/log.ts";
import { assertEquals, assertMatch, assertOk, assertRejects } from "../tests/assert.ts";
import { loadKubeconfig } from "./kubeconfig.ts";

const quiet = new Logger({ level: "error", sink: () => {} });
const CA = "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n";
const CERT = "-----BEGIN CERTIFICATE-----\nCLIENT\n-----END CERTIFICATE-----\n";
const KEY = "-----BEGIN PRIVATE KEY-----\nKEY\n-----END PRIVATE KEY-----\n";

async function tempDir(): Promise<string & AsyncDisposable> {
  const dir = await Deno.makeTempDir({ prefix: "kubeconfig-test-" });
  return Object.assign(dir, {
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  }) as string & AsyncDisposable;
}

/** A one-context kubeconfig (JSON is YAML) with this cluster and user. */
function kubeconfig(
  cluster: Record<string, unknown>,
  user: Record<string, unknown>,
  extra: Record<string, unknown> = {},
): string {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Config",
    "current-context": "ctx",
    clusters: [{ name: "c", cluster: { server: "https://api.example:6443", ...cluster } }],
    users: [{ name: "u", user }],
    contexts: [{ name: "ctx", context: { cluster: "c", user: "u", namespace: "team" } }],
    ...extra,
  });
}

function b64(text: string): string {
  return btoa(text);
}

Deno.test("in-cluster: server from the environment, CA and namespace from the mount, token re-read after rotation", async () => {
  await using dir = await tempDir();
  await Deno.writeTextFile(`${dir}/token`, "first\n");
  await Deno.writeTextFile(`${dir}/ca.crt`, CA);
  await Deno.writeTextFile(`${dir}/namespace`, "operators\n");
  const config = await loadKubeconfig({
    log: quiet,
    env: { KUBERNETES_SERVICE_HOST: "10.0.0.1", KUBERNETES_SERVICE_PORT: "443" },
    serviceAccountDir: dir,
  });
  assertEquals([config.server, config.namespace, config.identity], [
    "https://10.0.0.1:443",
    "operators",
    "inCluster/serviceaccount",
  ]);
  assertEquals(config.source, `in-cluster service account (${dir})`);
  const first = await config.credentials();
  assertEquals(first.headers, { Authorization: "Bearer first" });
  assertEquals(first.caCerts, [CA]);
  await Deno.writeTextFile(`${dir}/token`, "rotated\n");
  assertEquals((await config.credentials()).headers, { Authorization: "Bearer rotated" });
});

Deno.test("client certificate and key from files (relative to the kubeconfig) and from data", async () => {
  await using dir = await tempDir();
  await Deno.writeTextFile(`${dir}/ca.pem`, CA);
  await Deno.writeTextFile(`${dir}/cert.pem`, CERT);
  await Deno.writeTextFile(`${dir}/key.pem`, KEY);
  await Deno.writeTextFile(
    `${dir}/files`,
    kubeconfig({ "certificate-authority": "ca.pem" }, {
      "client-certificate": "cert.pem",
      "client-key": `${dir}/key.pem`,
    }),
  );
  await Deno.writeTextFile(
    `${dir}/data`,
    kubeconfig({ "certificate-authority-data": b64(CA) }, {
      "client-certificate-data": b64(CERT),
      "client-key-data": b64(KEY),
    }),
  );
  for (const name of ["files", "data"]) {
    const config = await loadKubeconfig({ kubeconfigPath: `${dir}/${name}`, log: quiet });
    assertEquals(
      [config.server, config.identity, config.namespace],
      ["https://api.example:6443", "ctx/u", "team"],
    );
    assertEquals(await config.credentials(), { headers: {}, caCerts: [CA], cert: CERT, key: KEY });
  }
});

Deno.test("bearer token, tokenFile (re-read), basic auth and impersonation headers", async () => {
  await using dir = await tempDir();
  await Deno.writeTextFile(`${dir}/tok`, "from-file\n");
  const cases: Array<[Record<string, unknown>, Record<string, string>]> = [
    [{ token: "abc" }, { Authorization: "Bearer abc" }],
    [{ tokenFile: "tok" }, { Authorization: "Bearer from-file" }],
    [{ username: "ann", password: "pw" }, { Authorization: `Basic ${b64("ann:pw")}` }],
    [{ token: "abc", as: "bob", "as-groups": ["g1", "g2"] }, {
      Authorization: "Bearer abc",
      "Impersonate-User": "bob",
      "Impersonate-Group": "g1,g2",
    }],
  ];
  for (const [user, headers] of cases) {
    await Deno.writeTextFile(`${dir}/config`, kubeconfig({}, user));
    const config = await loadKubeconfig({ kubeconfigPath: `${dir}/config`, log: quiet });
    const got = await config.credentials();
    assertEquals(got.headers, headers);
    assertEquals([got.caCerts, got.cert, got.key], [undefined, undefined, undefined]);
  }
  await Deno.writeTextFile(`${dir}/config`, kubeconfig({}, { tokenFile: "tok" }));
  const config = await loadKubeconfig({ kubeconfigPath: `${dir}/config`, log: quiet });
  await Deno.writeTextFile(`${dir}/tok`, "rotated");
  assertEquals((await config.credentials()).headers, { Authorization: "Bearer rotated" });
});

/**
 * Writes an exec plugin that counts its runs in `runs`, echoes its
 * arguments, env and KUBERNETES_EXEC_INFO into the token, and prints an
 * ExecCredential of `apiVersion` expiring at `expiry` (none when empty).
 */
async function execPlugin(dir: string, apiVersion: string, expiry: string): Promise<string> {
  const path = `${dir}/plugin.sh`;
  const expiryField = expiry ? `,"expirationTimestamp":"${expiry}"` : "";
  await Deno.writeTextFile(
    path,
    `#!/bin/sh
n=$(($(cat "${dir}/runs" 2>/dev/null || echo 0) + 1))
echo "$n" > "${dir}/runs"
info=$(printf '%s' "$KUBERNETES_EXEC_INFO" | tr -d '"{}:,')
printf '{"apiVersion":"${apiVersion}","kind":"ExecCredential","status":{"token":"run%s-%s-%s-%s"${expiryField}}}' "$n" "$1" "$PLUGIN_ENV" "$info"
`,
  );
  await Deno.chmod(path, 0o755);
  return path;
}

for (const version of ["v1", "v1beta1"]) {
  const apiVersion = `client.authentication.k8s.io/${version}`;
  Deno.test(`exec plugin ${version}: token kept until shortly before expiry, then the plugin runs again`, async () => {
    await using dir = await tempDir();
    const expiry = "2030-01-01T00:00:00Z";
    await execPlugin(dir, apiVersion, expiry);
    await Deno.writeTextFile(
      `${dir}/config`,
      kubeconfig({}, {
        exec: {
          apiVersion,
          command: "./plugin.sh",
          args: ["arg1"],
          env: [{ name: "PLUGIN_ENV", value: "env1" }],
          interactiveMode: "Never",
        },
      }),
    );
    const config = await loadKubeconfig({ kubeconfigPath: `${dir}/config`, log: quiet });
    const info = `apiVersion${apiVersion}kindExecCredentialspecinteractivefalse`;
    const first = await config.credentials();
    assertEquals(first.headers, { Authorization: `Bearer run1-arg1-env1-${info}` });
    // Far from expiry: the cached token, no second run.
    assertEquals((await config.credentials()).headers, first.headers);
    assertEquals((await Deno.readTextFile(`${dir}/runs`)).trim(), "1");
    // Refused by the server: run again even though it has not expired.
    const refused = await config.credentials({ afterUnauthorized: true });
    assertMatch(refused.headers.Authorization, /^Bearer run2-/);
  });
}

Deno.test("exec plugin: client certificate output replaces the kubeconfig's; no expiry means kept", async () => {
  await using dir = await tempDir();
  const path = `${dir}/cert-plugin.sh`;
  const status = JSON.stringify({ clientCertificateData: CERT, clientKeyData: KEY });
  await Deno.writeTextFile(
    path,
    `#!/bin/sh\necho run >> "${dir}/runs"\ncat <<'EOF'\n{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":${status}}\nEOF\n`,
  );
  await Deno.chmod(path, 0o755);
  await Deno.writeTextFile(
    `${dir}/config`,
    kubeconfig({}, { exec: { apiVersion: "client.authentication.k8s.io/v1beta1", command: path } }),
  );
  const config = await loadKubeconfig({ kubeconfigPath: `${dir}/config`, log: quiet });
  assertEquals(await config.credentials(), {
    headers: {},
    caCerts: undefined,
    cert: CERT,
    key: KEY,
  });
  await config.credentials();
  assertEquals((await Deno.readTextFile(`${dir}/runs`)).trim().split("\n").length, 1);
});

Deno.test("exec plugin failures name the plugin and say why", async () => {
  await using dir = await tempDir();
  await Deno.writeTextFile(`${dir}/fail.sh`, "#!/bin/sh\necho 'login required' >&2\nexit 3\n");
  await Deno.writeTextFile(`${dir}/garbage.sh`, "#!/bin/sh\necho 'not json'\n");
  await Deno.writeTextFile(
    `${dir}/wrong.sh`,
    `#!/bin/sh\necho '{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"token":"t"}}'\n`,
  );
  for (const f of ["fail.sh", "garbage.sh", "wrong.sh"]) await Deno.chmod(`${dir}/${f}`, 0o755);
  const v1 = "client.authentication.k8s.io/v1";
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ apiVersion: v1, command: `${dir}/fail.sh` }, /fail\.sh exited with code 3: login required$/],
    [
      { apiVersion: v1, command: `${dir}/garbage.sh` },
      /garbage\.sh: output is not an ExecCredential/,
    ],
    [
      { apiVersion: v1, command: `${dir}/wrong.sh` },
      /expected ExecCredential client\.authentication\.k8s\.io\/v1$/,
    ],
    [
      { apiVersion: v1, command: `${dir}/missing`, installHint: "install it from example.org" },
      /missing: command not found; install it from example\.org$/,
    ],
    [
      { apiVersion: "client.authentication.k8s.io/v1alpha1", command: "x" },
      /apiVersion client\.authentication\.k8s\.io\/v1alpha1 is not supported/,
    ],
  ];
  for (const [exec, message] of cases) {
    await Deno.writeTextFile(`${dir}/config`, kubeconfig({}, { exec }));
    const config = await loadKubeconfig({ kubeconfigPath: `${dir}/config`, log: quiet });
    const e = await assertRejects(() => config.credentials());
    assertMatch(e.message, message);
  }
});

Deno.test("a $KUBECONFIG list merges like kubectl: first current-context and first name win", async () => {
  await using dir = await tempDir();
  await Deno.mkdir(`${dir}/b`);
  await Deno.writeTextFile(`${dir}/b/tok`, "second-file-token");
  await Deno.writeTextFile(
    `${dir}/a`,
    JSON.stringify({
      "current-context": "ctx",
      contexts: [{ name: "ctx", context: { cluster: "c", user: "u" } }],
      clusters: [{ name: "c", cluster: { server: "https://first:6443" } }],
    }),
  );
  await Deno.writeTextFile(
    `${dir}/b/config`,
    kubeconfig({ server: "https://second:6443" }, { tokenFile: "tok" }, {
      "current-context": "other",
    }),
  );
  const path = `${dir}/a::${dir}/b/config`;
  const config = await loadKubeconfig({ kubeconfigPath: path, log: quiet });
  assertEquals([config.source, config.server, config.identity, config.namespace], [
    `kubeconfig ${path}`,
    "https://first:6443",
    "ctx/u",
    undefined,
  ]);
  // The tokenFile is relative to the file that names it.
  assertEquals((await config.credentials()).headers, {
    Authorization: "Bearer second-file-token",
  });
});

Deno.test("sources are tried in order: kubeconfig path, in-cluster, ~/.kube/config", async () => {
  await using dir = await tempDir();
  await Deno.mkdir(`${dir}/sa`);
  await Deno.writeTextFile(`${dir}/sa/token`, "sa");
  await Deno.mkdir(`${dir}/.kube`);
  await Deno.writeTextFile(`${dir}/.kube/config`, kubeconfig({ server: "https://home:1" }, {}));
  await Deno.writeTextFile(`${dir}/flag`, kubeconfig({ server: "https://flag:1" }, {}));
  const inCluster = { KUBERNETES_SERVICE_HOST: "fd00::1", KUBERNETES_SERVICE_PORT: "443" };
  const base = { log: quiet, serviceAccountDir: `${dir}/sa` };
  const flag = await loadKubeconfig({
    ...base,
    kubeconfigPath: `${dir}/flag`,
    env: { ...inCluster, HOME: dir },
  });
  assertEquals(flag.server, "https://flag:1");
  const cluster = await loadKubeconfig({ ...base, env: { ...inCluster, HOME: dir } });
  assertEquals(cluster.server, "https://[fd00::1]:443");
  const home = await loadKubeconfig({ ...base, env: { HOME: dir } });
  assertEquals([home.server, home.source], ["https://home:1", `kubeconfig ${dir}/.kube/config`]);
});

Deno.test("error messages name the source and the problem", async () => {
  await using dir = await tempDir();
  const missing = await assertRejects(() =>
    loadKubeconfig({ kubeconfigPath: `${dir}/nope`, log: quiet })
  );
  assertEquals(
    missing.message,
    `kubeconfig ${dir}/nope: ENOENT: no such file or directory, open '${dir}/nope'`,
  );
  await Deno.writeTextFile(`${dir}/bad`, "apiVersion: v1\nclusters: [ {\n");
  const bad = await assertRejects(() =>
    loadKubeconfig({ kubeconfigPath: `${dir}/bad`, log: quiet })
  );
  assertMatch(bad.message, new RegExp(`^kubeconfig ${dir}/bad: .*\\(3:1\\)`));
  await Deno.writeTextFile(`${dir}/noctx`, kubeconfig({}, {}, { "current-context": "other" }));
  const noctx = await assertRejects(() =>
    loadKubeconfig({ kubeconfigPath: `${dir}/noctx`, log: quiet })
  );
  assertEquals(
    noctx.message,
    `kubeconfig ${dir}/noctx: no current cluster (check current-context)`,
  );
  await Deno.writeTextFile(`${dir}/noca`, kubeconfig({ "certificate-authority": "ca.crt" }, {}));
  const config = await loadKubeconfig({ kubeconfigPath: `${dir}/noca`, log: quiet });
  const noca = await assertRejects(() => config.credentials());
  assertEquals(noca.message, `ENOENT: no such file or directory, open '${dir}/ca.crt'`);
});

Deno.test("an auth-provider user falls back to client-node, with a log line saying so", async () => {
  await using dir = await tempDir();
  const lines: string[] = [];
  const log = new Logger({ level: "info", sink: (line) => lines.push(line) });
  await Deno.writeTextFile(
    `${dir}/config`,
    kubeconfig({}, {
      "auth-provider": {
        name: "gcp",
        config: { "access-token": "gcp-token", expiry: "2099-01-01T00:00:00Z" },
      },
    }),
  );
  const config = await loadKubeconfig({ kubeconfigPath: `${dir}/config`, log });
  assertOk(
    lines.some((l) => l.includes("@kubernetes/client-node") && l.includes("gcp")),
    lines.join("\n"),
  );
  assertEquals((await config.credentials()).headers.Authorization, "Bearer gcp-token");
});
