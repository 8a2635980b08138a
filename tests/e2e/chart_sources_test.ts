/**
 * The chart's source values against a real kube-apiserver:
 * `serviceController.*`, `ingress.*` and `routerHosts.ingressService` render
 * the matching flags and exactly the RBAC rules those sources need, and the
 * operator, run as the chart's service account with those flags, syncs a
 * Service, an Ingress and an IngressRoute that follows the ingress Service —
 * without a single forbidden request. Disabled sources add no rule.
 */
import { join } from "node:path";
import { assertEquals, assertMatch, assertOk } from "../assert.ts";
import { ensureGoTool, ROOT, uniqueName, VERSIONS } from "../testbed/mod.ts";
import { eventually, type OperatorProcess } from "../testbed/operator.ts";
import {
  ingresses,
  ingressRoutes,
  ingressRouteSpec,
  services,
  serviceSpec,
} from "./sources_fixture.ts";
import { bedTest } from "../testbed/bed.ts";
import { entriesNamed } from "../testbed/observe.ts";

const CHART = join(ROOT, "chart");
const KUBE_VERSION = VERSIONS.kubernetes.replace(/^v/, "");

interface Rendered {
  kind: string;
  metadata: { name: string; namespace?: string };
  rules?: { apiGroups: string[]; resources: string[]; verbs: string[] }[];
  spec?: { template: { spec: { containers: { args: string[] }[] } } };
}

async function helm(args: string[]): Promise<string> {
  const bin = (await ensureGoTool("helm")).path;
  const out = await new Deno.Command(bin, { args, cwd: ROOT, stdout: "piped", stderr: "piped" })
    .output();
  const dec = new TextDecoder();
  if (out.code !== 0) {
    throw new Error(`helm ${args[0]} failed: ${dec.decode(out.stderr)}${dec.decode(out.stdout)}`);
  }
  return dec.decode(out.stdout);
}

bedTest({
  name: "Helm chart: Service, Ingress and ingress-Service sources with least-privilege RBAC",
  traefik: true,
}, async ({ bed, ops, t }) => {
  const { kube } = bed;
  let op: OperatorProcess | undefined;
  const ns = await kube.createNamespace(uniqueName("chart-src"));
  const traefikNs = await kube.createNamespace(uniqueName("traefik"));
  const apps = await kube.createNamespace(uniqueName("src-apps"));
  const release = "src";
  const sa = `${release}-router-hosts-operator`;
  const values = [
    "--set",
    "serviceController.enabled=true",
    "--set",
    "ingress.enabled=true",
    "--set",
    "ingress.classes={traefik,internal}",
    "--set",
    `routerHosts.ingressService=${traefikNs}/traefik`,
    "--set",
    "routerHosts.defaultIngressIP=10.7.9.9",
  ];
  const render = async (
    extra: string[],
  ) => (await kube.kubectl(["apply", "--dry-run=server", "-o", "json", "-f", "-"], {
    stdin: await helm([
      "template",
      release,
      CHART,
      "-n",
      ns,
      "--kube-version",
      KUBE_VERSION,
      ...extra,
    ]),
  }));
  const objects = async (extra: string[]): Promise<Rendered[]> => {
    const r = await render(extra);
    if (r.code !== 0) throw new Error(r.stderr);
    const parsed = JSON.parse(r.stdout) as Rendered | { items: Rendered[] };
    return "items" in parsed ? parsed.items : [parsed];
  };
  const clusterRules = (list: Rendered[]) =>
    list.find((o) => o.kind === "ClusterRole")!.rules!.map((r) =>
      `${r.apiGroups.join(",")}/${r.resources.join(",")}: ${r.verbs.join(",")}`
    );

  await t.step("flags and RBAC rules only for the enabled sources", async () => {
    const off = await objects([]);
    assertEquals(
      clusterRules(off).some((r) => /services|ingresses/.test(r)),
      false,
      "no Service or Ingress rule when the sources are off",
    );
    const on = await objects(values);
    const args = on.find((o) => o.kind === "Deployment")!.spec!.template.spec.containers[0].args;
    for (
      const flag of [
        "--enable-service",
        "--enable-ingress",
        "--ingress-class=traefik",
        "--ingress-class=internal",
        `--ingress-service=${traefikNs}/traefik`,
      ]
    ) assertOk(args.includes(flag), `${flag} in ${args.join(" ")}`);
    assertEquals(args.includes("--external-dns-annotations"), false);
    const rules = clusterRules(on);
    assertOk(rules.includes("/services: list,watch,patch"), rules.join("; "));
    assertOk(rules.includes("networking.k8s.io/ingresses: list,watch,patch"), rules.join("; "));
    // The ClusterRole already covers the ingress Service: no extra Role.
    assertEquals(on.some((o) => o.kind === "Role"), false);

    const only = await objects(["--set", `routerHosts.ingressService=${traefikNs}/traefik`]);
    const role = only.find((o) => o.kind === "Role")!;
    assertEquals(role.metadata.namespace, traefikNs);
    assertEquals(role.rules, [{
      apiGroups: [""],
      resources: ["services"],
      verbs: ["list", "watch"],
    }]);
    assertEquals(clusterRules(only).some((r) => /services/.test(r)), false);
  });

  await t.step("the schema refuses a malformed ingressService and ingress class", async () => {
    for (
      const [bad, pattern] of [
        ["routerHosts.ingressService=traefik", /ingressService/],
        ["ingress.classes={Bad Class}", /classes/],
      ] as const
    ) {
      const r = await render(["--set", bad]).catch((e: Error) => ({
        stderr: e.message,
        code: 1,
      }));
      assertEquals(r.code !== 0, true, `${bad} accepted`);
      assertMatch(r.stderr, pattern);
    }
  });

  await t.step("as the chart's service account the operator syncs every source", async () => {
    const notes = await helm([
      "install",
      release,
      CHART,
      "--kubeconfig",
      kube.kubeconfigPath,
      "-n",
      ns,
      ...values,
    ]);
    assertMatch(
      notes,
      new RegExp(
        `LoadBalancer address of Service\\s+${traefikNs}/traefik \\(10\\.7\\.9\\.9 while it has none\\)`,
      ),
    );
    assertMatch(
      notes,
      /Services annotated router-hosts\.fzymgc\.house\/enabled: "true" are synced/,
    );
    assertMatch(notes, /Ingresses of class traefik, internal are synced/);
    const svc = services(kube);
    await svc.create(traefikNs, "traefik", serviceSpec("LoadBalancer"));
    await svc.setLoadBalancer(traefikNs, "traefik", [{ ip: "10.7.0.1" }]);
    const creds = await kube.makeServiceAccountKubeconfig(ns, sa);
    op = await ops.start({
      kubeconfigPath: creds.kubeconfigPath,
      args: [
        "--enable-service",
        "--enable-ingress",
        "--ingress-class=traefik",
        `--ingress-service=${traefikNs}/traefik`,
        "--default-ingress-ip=10.7.9.9",
      ],
    });
    await svc.create(apps, "web", serviceSpec("LoadBalancer"), {
      "router-hosts.fzymgc.house/enabled": "true",
      "router-hosts.fzymgc.house/hostname": "web.chart.lan",
    });
    await svc.setLoadBalancer(apps, "web", [{ ip: "10.7.0.5" }]);
    await svc.waitTracked(apps, "web", ["web.chart.lan"]);
    const ing = ingresses(kube);
    await ing.create(apps, "wiki", {
      ingressClassName: "traefik",
      rules: [{ host: "wiki.chart.lan" }],
    });
    await ing.waitTracked(apps, "wiki", ["wiki.chart.lan"]);
    const ir = ingressRoutes(kube);
    await ir.create(apps, "app", ingressRouteSpec("app.chart.lan"));
    await ir.waitTracked(apps, "app", ["app.chart.lan"]);
    await eventually(
      "the IngressRoute at the ingress Service's IP",
      async () => (await entriesNamed(bed, "app.chart.lan"))[0]?.ipAddress === "10.7.0.1",
    );
    await svc.delete(apps, "web");
    await svc.waitGone(apps, "web");
    const denied = op.logs().filter((l) => /forbidden|\b403\b/i.test(JSON.stringify(l)));
    assertEquals(denied, [], "the chart's RBAC is missing a permission the operator uses");
  });

  await t.step("ingressService alone: a Role in that namespace is enough", async () => {
    await op?.stop();
    op = undefined;
    const ns2 = await kube.createNamespace(uniqueName("chart-ingsvc"));
    await helm([
      "install",
      "only",
      CHART,
      "--kubeconfig",
      kube.kubeconfigPath,
      "-n",
      ns2,
      "--set",
      `routerHosts.ingressService=${traefikNs}/traefik`,
    ]);
    const creds = await kube.makeServiceAccountKubeconfig(ns2, "only-router-hosts-operator");
    const canI = async (...args: string[]) =>
      (await kube.kubectl(["auth", "can-i", ...args], { kubeconfigPath: creds.kubeconfigPath }))
        .stdout.trim();
    assertEquals(await canI("watch", "services", "-n", traefikNs), "yes");
    assertEquals(await canI("list", "services", "-n", apps), "no");
    assertEquals(await canI("patch", "services", "-n", traefikNs), "no");
    op = await ops.start({
      kubeconfigPath: creds.kubeconfigPath,
      args: [`--ingress-service=${traefikNs}/traefik`],
    });
    await services(kube).setLoadBalancer(traefikNs, "traefik", [{ ip: "10.7.0.2" }]);
    await eventually(
      "the IngressRoute follows the ingress Service",
      async () => (await entriesNamed(bed, "app.chart.lan"))[0]?.ipAddress === "10.7.0.2",
    );
    const denied = op.logs().filter((l) => /forbidden|\b403\b/i.test(JSON.stringify(l)));
    assertEquals(denied, []);
  });
});
