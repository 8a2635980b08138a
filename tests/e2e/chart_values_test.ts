/**
 * The chart with values written for the Go operator's chart, rendered by
 * `helm template` (no cluster needed): its defaults render, `serviceAccount`
 * without a name uses the namespace's `default` account as Go's chart does,
 * and a values file that names the router-hosts *server* image is refused
 * with a message naming the value to change.
 */
import { join } from "node:path";
import { assertEquals, assertMatch, assertOk } from "../assert.ts";
import { ensureGoTool, ROOT } from "../testbed/mod.ts";

/** The Go operator chart's default values (v0.10–v0.13), as README's upgrade section lists them. */
const GO_VALUES = `
image:
  repository: ghcr.io/fzymgc-house/router-hosts-operator
  tag: ""
  pullPolicy: IfNotPresent
imagePullSecrets: []
nameOverride: ""
fullnameOverride: ""
replicaCount: 1
leaderElection: {}
serviceAccount:
  create: true
  annotations: {}
  name: ""
rbac:
  create: true
podAnnotations: {}
podSecurityContext:
  runAsNonRoot: true
  runAsUser: 65532
  fsGroup: 65532
securityContext:
  allowPrivilegeEscalation: false
  capabilities:
    drop: [ALL]
  readOnlyRootFilesystem: true
resources: {}
nodeSelector: {}
tolerations: []
affinity: {}
routerHosts:
  serverAddress: router.lan:50051
  defaultIngressIP: ""
  tlsSecret:
    name: router-hosts-mtls
    mountPath: /etc/router-hosts/tls
metrics:
  bindAddress: ":8080"
healthCheck:
  port: 8081
gateway:
  enabled: false
`;

interface Rendered {
  code: number;
  stdout: string;
  stderr: string;
}

Deno.test("chart: values written for the Go operator's chart", async (t) => {
  const helm = (await ensureGoTool("helm")).path;
  const dir = await Deno.makeTempDir({ prefix: "chart-values-" });
  try {
    const goValues = join(dir, "go-values.yaml");
    await Deno.writeTextFile(goValues, GO_VALUES);
    const render = async (...args: string[]): Promise<Rendered> => {
      const out = await new Deno.Command(helm, {
        args: ["template", "rho", join(ROOT, "chart"), "--namespace", "hosts", ...args],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const dec = new TextDecoder();
      return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
    };

    await t.step("the Go chart's default values render", async () => {
      const r = await render("-f", goValues);
      assertEquals(r.code, 0, r.stderr);
      assertMatch(r.stdout, /image: "ghcr\.io\/fzymgc-house\/router-hosts-operator:/);
      assertMatch(r.stdout, /--server-address=router\.lan:50051/);
      assertMatch(r.stdout, /^kind: ServiceAccount$/m);
    });

    await t.step(
      "serviceAccount.create: false without a name → the namespace's default account",
      async () => {
        const r = await render("-f", goValues, "--set", "serviceAccount.create=false");
        assertEquals(r.code, 0, r.stderr);
        assertMatch(r.stdout, /^ {6}serviceAccountName: default$/m);
        assertOk(!/^kind: ServiceAccount$/m.test(r.stdout), "no ServiceAccount is created");
        // The ClusterRoleBinding grants the role to that account.
        const binding = r.stdout.split("---").find((d) => /^kind: ClusterRoleBinding$/m.test(d))!;
        assertMatch(binding, /- kind: ServiceAccount\n\s+name: default\n\s+namespace: hosts/);
        const named = await render(
          "--set",
          "serviceAccount.create=false",
          "--set",
          "serviceAccount.name=ops",
        );
        assertMatch(named.stdout, /^ {6}serviceAccountName: ops$/m);
      },
    );

    await t.step(
      "routerHosts.tlsMode picks the TLS flags; a gRPC target passes the schema",
      async () => {
        const flags = async (mode: string) =>
          [...(await render("--set", `routerHosts.tlsMode=${mode}`)).stdout.matchAll(
            /--tls-(\w+)=/g,
          )]
            .map((m) => m[1]);
        assertEquals(await flags("mtls"), ["ca", "cert", "key"]);
        assertEquals(await flags("ca"), ["ca"]);
        assertEquals(await flags("cert"), ["cert", "key"]);
        const bad = await render("--set", "routerHosts.tlsMode=tls");
        assertOk(bad.code !== 0);
        assertMatch(bad.stderr, /routerHosts\/tlsMode/);
        const target = await render("--set", "routerHosts.serverAddress=dns:///router.lan:50051");
        assertEquals(target.code, 0, target.stderr);
        assertMatch(target.stdout, /--server-address=dns:\/\/\/router\.lan:50051/);
      },
    );

    await t.step("the router-hosts server image is refused, naming image.repository", async () => {
      for (
        const repo of ["ghcr.io/fzymgc-house/router-hosts", "registry.lan/mirror/router-hosts"]
      ) {
        const r = await render("-f", goValues, "--set", `image.repository=${repo}`);
        assertOk(r.code !== 0, `${repo} was accepted`);
        assertMatch(
          r.stderr,
          /image\.repository is ".*router-hosts", the router-hosts server image, not the operator: set image\.repository to ghcr\.io\/fzymgc-house\/router-hosts-operator/,
        );
      }
      // A mirror of the operator image is fine.
      const mirror = await render("--set", "image.repository=registry.lan/router-hosts-operator");
      assertEquals(mirror.code, 0, mirror.stderr);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
