/**
 * The kubeconfig loader (k8s/kubeconfig.ts) against the real
 * kube-apiserver: the in-cluster service account (a TokenRequest token in a
 * service-account mount, re-read when it rotates) and an `exec` credential
 * plugin (a tiny script written here) driving the operator process from
 * start to a Synced HostMapping, run again when its token nears expiry.
 */
import { KubeClient } from "../../k8s/client.ts";
import { Logger } from "../../observability/log.ts";
import { assertEquals, assertOk } from "../assert.ts";
import { dumpLogs, uniqueName } from "../testbed/mod.ts";
import { eventually, type OperatorProcess, startOperator } from "../testbed/operator.ts";
import { startBed, stopBed } from "../testbed/bed.ts";

const quiet = new Logger({ level: "error", sink: () => {} });

/** Who the API server says the client is (SelfSubjectReview). */
async function whoAmI(client: KubeClient): Promise<string> {
  const review = await client.create<{ status: { userInfo: { username: string } } }>(
    "/apis/authentication.k8s.io/v1/selfsubjectreviews",
    { apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" },
  );
  return review.status.userInfo.username;
}

Deno.test("kubeconfig forms against the real API server", async (t) => {
  const bed = await startBed();
  let op: OperatorProcess | undefined;
  const dir = await Deno.makeTempDir({ prefix: "kubeconfig-e2e-" });
  try {
    const ns = await bed.kube.createNamespace(uniqueName("kc"));

    await t.step(
      "in-cluster service account: authenticated, token re-read after rotation",
      async () => {
        const first = await bed.kube.makeServiceAccountKubeconfig(ns, "first");
        const second = await bed.kube.makeServiceAccountKubeconfig(ns, "second");
        const sa = `${dir}/serviceaccount`;
        await Deno.mkdir(sa);
        await Deno.writeTextFile(`${sa}/token`, first.token);
        await Deno.copyFile(bed.kube.caPath, `${sa}/ca.crt`);
        await Deno.writeTextFile(`${sa}/namespace`, ns);
        const client = await KubeClient.fromKubeconfig({
          log: quiet,
          env: {
            KUBERNETES_SERVICE_HOST: "127.0.0.1",
            KUBERNETES_SERVICE_PORT: `${bed.kube.port}`,
          },
          serviceAccountDir: sa,
        });
        try {
          assertEquals(client.namespace, ns);
          assertEquals(await whoAmI(client), first.username);
          // The kubelet swaps the projected token in place; the client must follow.
          await Deno.writeTextFile(`${sa}/token`, second.token);
          await eventually(
            "the rotated token in use",
            async () => (await whoAmI(client)) === second.username,
            30_000,
            500,
          );
        } finally {
          client.close();
        }
      },
    );

    await t.step(
      "exec plugin: the operator authenticates with it, and runs it again before expiry",
      async () => {
        const name = "exec-operator";
        const sa = await bed.kube.makeServiceAccountKubeconfig(ns, name);
        await bed.kube.postJson("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", {
          apiVersion: "rbac.authorization.k8s.io/v1",
          kind: "ClusterRoleBinding",
          metadata: { name: `${ns}-${name}` },
          roleRef: {
            apiGroup: "rbac.authorization.k8s.io",
            kind: "ClusterRole",
            name: "cluster-admin",
          },
          subjects: [{ kind: "ServiceAccount", name, namespace: ns }],
        });
        // Each run logs its KUBERNETES_EXEC_INFO and issues a token valid for 20 s,
        // so the loader (which renews 15 s before expiry) runs it again soon.
        const plugin = `${dir}/plugin.sh`;
        await Deno.writeTextFile(
          plugin,
          `#!/bin/sh
printf '%s\\n' "$KUBERNETES_EXEC_INFO" >> "${dir}/runs"
expiry=$(date -u -d '+20 seconds' +%Y-%m-%dT%H:%M:%SZ)
printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s","expirationTimestamp":"%s"}}' "$PLUGIN_TOKEN" "$expiry"
`,
        );
        await Deno.chmod(plugin, 0o755);
        const kubeconfigPath = `${dir}/exec.kubeconfig`;
        await Deno.writeTextFile(
          kubeconfigPath,
          JSON.stringify({
            apiVersion: "v1",
            kind: "Config",
            "current-context": "exec",
            clusters: [{
              name: "bed",
              cluster: { server: bed.kube.server, "certificate-authority": bed.kube.caPath },
            }],
            users: [{
              name: "plugin",
              user: {
                exec: {
                  apiVersion: "client.authentication.k8s.io/v1",
                  command: "./plugin.sh",
                  env: [{ name: "PLUGIN_TOKEN", value: sa.token }],
                  interactiveMode: "Never",
                },
              },
            }],
            contexts: [{ name: "exec", context: { cluster: "bed", user: "plugin" } }],
          }),
        );
        op = await startOperator({ kubeconfigPath, routerHosts: bed.rh });
        const configured = op.logs().find((l) => l.msg === "kubernetes client configured");
        assertEquals(configured?.identity, "exec/plugin");
        await bed.hm.create(ns, "via-exec", { hostname: "exec.lan", ip: "10.9.0.1" });
        const synced = await bed.hm.waitSynced(ns, "via-exec");
        assertOk(synced.status?.hostId, "synced with a host id");
        const runs = async () => (await Deno.readTextFile(`${dir}/runs`)).trim().split("\n");
        const info = JSON.parse((await runs())[0]);
        assertEquals(info, {
          apiVersion: "client.authentication.k8s.io/v1",
          kind: "ExecCredential",
          spec: { interactive: false },
        });
        await eventually(
          "the plugin run again as its token nears expiry",
          async () => (await runs()).length >= 2,
          60_000,
          500,
        );
        // Still authorized with the renewed token: a new object converges.
        await bed.hm.create(ns, "after-renewal", { hostname: "renewed.lan", ip: "10.9.0.2" });
        await bed.hm.waitSynced(ns, "after-renewal");
      },
    );
  } catch (e) {
    dumpLogs();
    throw e;
  } finally {
    await op?.stop();
    await stopBed(bed);
    await Deno.remove(dir, { recursive: true });
  }
});
