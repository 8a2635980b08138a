/**
 * Who may reach the operator's ports, as the chart renders it (`helm
 * template`) and the real kube-apiserver accepts it: the NetworkPolicy
 * option, `extraContainers` (external-dns as a sidecar on loopback, the
 * recipe in examples/external-dns/sidecar-values.yaml), and the refusal of
 * a network-bound webhook that was not acknowledged.
 */
import { join } from "node:path";
import { loadAll } from "js-yaml";
import { assertEquals, assertMatch, assertOk } from "../assert.ts";
import { ensureGoTool, ROOT, startKube, uniqueName } from "../testbed/mod.ts";

interface Doc {
  kind: string;
  apiVersion: string;
  metadata: { name: string; namespace?: string };
  // deno-lint-ignore no-explicit-any
  spec: any;
}

interface Rendered {
  code: number;
  docs: Doc[];
  stderr: string;
}

async function render(...args: string[]): Promise<Rendered> {
  const helm = (await ensureGoTool("helm")).path;
  const out = await new Deno.Command(helm, {
    args: ["template", "rho", join(ROOT, "chart"), "--namespace", "hosts", ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  const docs = out.code === 0
    ? (loadAll(dec.decode(out.stdout)) as (Doc | null)[]).filter((d): d is Doc => !!d)
    : [];
  return { code: out.code, docs, stderr: dec.decode(out.stderr) };
}

const kind = (r: Rendered, k: string) => r.docs.filter((d) => d.kind === k);

Deno.test("chart: NetworkPolicy, extraContainers and the webhook bind", async (t) => {
  const kube = await startKube();
  try {
    await t.step(
      "the sidecar recipe: external-dns next to the operator, over loopback",
      async () => {
        const r = await render("-f", join(ROOT, "examples/external-dns/sidecar-values.yaml"));
        assertEquals(r.code, 0, r.stderr);
        const [deployment] = kind(r, "Deployment");
        const containers = deployment.spec.template.spec.containers;
        assertEquals(containers.map((c: { name: string }) => c.name), ["operator", "external-dns"]);
        assertOk(containers[0].args.includes("--webhook-bind-address=127.0.0.1:8888"));
        assertOk(!containers[0].args.includes("--webhook-allow-network-bind"));
        assertOk(containers[1].args.includes("--webhook-provider-url=http://127.0.0.1:8888"));
        // No port of the pod names the webhook: it is not reachable from outside.
        assertEquals(
          containers[0].ports.map((p: { name: string }) => p.name),
          ["metrics", "health"],
        );
        const [policy] = kind(r, "NetworkPolicy");
        assertEquals(policy.spec.policyTypes, ["Ingress"]);
        assertEquals(policy.spec.podSelector, deployment.spec.selector);
        assertEquals(policy.spec.ingress, [
          { ports: [{ port: 8081, protocol: "TCP" }] },
          {
            ports: [{ port: 8080, protocol: "TCP" }],
            from: [{
              namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } },
            }],
          },
        ]);
        // The real API server takes both objects as rendered.
        const ns = await kube.createNamespace(uniqueName("chart-net"));
        for (const doc of [policy, deployment]) {
          const path = doc.kind === "NetworkPolicy"
            ? `/apis/networking.k8s.io/v1/namespaces/${ns}/networkpolicies`
            : `/apis/apps/v1/namespaces/${ns}/deployments`;
          await kube.postJson(path, { ...doc, metadata: { ...doc.metadata, namespace: ns } });
        }
      },
    );

    await t.step(
      "a network-bound webhook: refused unless acknowledged, then only listed pods",
      async () => {
        const refused = await render("--set", "webhook.bindAddress=0.0.0.0:8888");
        assertOk(refused.code !== 0, "a network bind rendered without webhook.allowNetworkBind");
        assertMatch(
          refused.stderr,
          /webhook\.bindAddress "0\.0\.0\.0:8888" is not a loopback address: the webhook API has no authentication.*webhook\.allowNetworkBind=true/,
        );
        const r = await render(
          "--set",
          "webhook.bindAddress=:8888",
          "--set",
          "webhook.allowNetworkBind=true",
          "--set",
          "networkPolicy.enabled=true",
          "--set",
          "networkPolicy.webhook.from[0].podSelector.matchLabels.app=external-dns",
        );
        assertEquals(r.code, 0, r.stderr);
        const [deployment] = kind(r, "Deployment");
        const operator = deployment.spec.template.spec.containers[0];
        assertOk(operator.args.includes("--webhook-allow-network-bind"));
        assertOk(
          operator.ports.some((p: { name: string; containerPort: number }) =>
            p.name === "webhook" && p.containerPort === 8888
          ),
        );
        const [policy] = kind(r, "NetworkPolicy");
        // The metrics port has no peers listed, so no rule admits anyone to it.
        assertEquals(policy.spec.ingress, [
          { ports: [{ port: 8081, protocol: "TCP" }] },
          {
            ports: [{ port: 8888, protocol: "TCP" }],
            from: [{ podSelector: { matchLabels: { app: "external-dns" } } }],
          },
        ]);
        const ns = await kube.createNamespace(uniqueName("chart-net"));
        await kube.postJson(`/apis/networking.k8s.io/v1/namespaces/${ns}/networkpolicies`, {
          ...policy,
          metadata: { ...policy.metadata, namespace: ns },
        });
      },
    );

    await t.step("off by default: no NetworkPolicy, no extra container", async () => {
      const r = await render();
      assertEquals(r.code, 0, r.stderr);
      assertEquals(kind(r, "NetworkPolicy").length, 0);
      assertEquals(kind(r, "Deployment")[0].spec.template.spec.containers.length, 1);
    });
  } finally {
    await kube.stop();
  }
});
