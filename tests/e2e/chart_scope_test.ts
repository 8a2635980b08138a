/**
 * The chart's `watchNamespaces` and `labelSelector` against a real
 * kube-apiserver: without namespaces one ClusterRole; with them the same
 * rules as a Role and RoleBinding in each namespace and nothing
 * cluster-wide; and the operator, run as the chart's service account with
 * that namespaced RBAC and every source on, syncs what is in scope without
 * a single forbidden request.
 */
import { join } from "node:path";
import { assertEquals, assertMatch, assertOk } from "../assert.ts";
import { ensureGoTool, ROOT, uniqueName, VERSIONS } from "../testbed/mod.ts";
import { eventually, type OperatorProcess } from "../testbed/operator.ts";
import { bedTest } from "../testbed/bed.ts";
import { entriesNamed } from "../testbed/observe.ts";
import {
  ingresses,
  ingressRoutes,
  ingressRouteSpec,
  services,
  serviceSpec,
} from "./sources_fixture.ts";

const CHART = join(ROOT, "chart");
const KUBE_VERSION = VERSIONS.kubernetes.replace(/^v/, "");

interface Rendered {
  kind: string;
  metadata: { name: string; namespace?: string };
  rules?: { apiGroups: string[]; resources: string[]; verbs: string[] }[];
  roleRef?: { kind: string; name: string };
  subjects?: { kind: string; name: string; namespace: string }[];
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

const ruleText = (o: Rendered) =>
  o.rules!.map((r) => `${r.apiGroups.join(",")}/${r.resources.join(",")}: ${r.verbs.join(",")}`);

bedTest({
  name: "Helm chart: watchNamespaces gives namespaced RBAC the operator runs with",
  traefik: true,
  gatewayApi: true,
}, async ({ bed, ops, t }) => {
  const { kube } = bed;
  const ns = await kube.createNamespace(uniqueName("chart-scope"));
  const [apps, web, other, traefikNs] = await Promise.all(
    ["scope-apps", "scope-web", "scope-other", "traefik"].map((n) =>
      kube.createNamespace(uniqueName(n))
    ),
  );
  const release = "scoped";
  const sa = `${release}-router-hosts-operator`;
  const sources = [
    "--set",
    "gateway.enabled=true",
    "--set",
    "serviceController.enabled=true",
    "--set",
    "ingress.enabled=true",
    "--set",
    "routerHosts.defaultIngressIP=10.6.0.1",
    "--set",
    `routerHosts.ingressService=${traefikNs}/traefik`,
  ];
  const scoped = [
    ...sources,
    "--set",
    `watchNamespaces={${apps},${web}}`,
    "--set",
    "labelSelector=router=lan",
  ];
  const objects = async (extra: string[]): Promise<Rendered[]> => {
    const r = await kube.kubectl(["apply", "--dry-run=server", "-o", "json", "-f", "-"], {
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
    });
    if (r.code !== 0) throw new Error(r.stderr);
    const parsed = JSON.parse(r.stdout) as Rendered | { items: Rendered[] };
    return "items" in parsed ? parsed.items : [parsed];
  };

  await t.step(
    "helm template: a ClusterRole by default, a Role per namespace with watchNamespaces",
    async () => {
      const cluster = await objects(sources);
      const clusterRole = cluster.find((o) => o.kind === "ClusterRole")!;
      assertOk(cluster.some((o) => o.kind === "ClusterRoleBinding"));
      assertEquals(cluster.filter((o) => o.metadata.name.endsWith("-watch")), []);
      const args0 = cluster.find((o) =>
        o.kind === "Deployment"
      )!.spec!.template.spec.containers[0].args;
      assertEquals(args0.filter((a) => /^--(namespace|label-selector)=/.test(a)), []);

      const list = await objects(scoped);
      const clusterWide = list.filter((o) => o.kind.startsWith("Cluster"));
      assertEquals(
        clusterWide.map((o) => `${o.kind} ${o.metadata.name}`).sort(),
        [`ClusterRole ${sa}-namespaces`, `ClusterRoleBinding ${sa}-namespaces`],
        "cluster-wide only what Namespaces need (the Gateway API is on)",
      );
      assertEquals(ruleText(clusterWide.find((o) => o.kind === "ClusterRole")!), [
        "/namespaces: list,watch",
      ]);
      const noGateway = await objects([...scoped, "--set", "gateway.enabled=false"]);
      assertEquals(noGateway.filter((o) => o.kind.startsWith("Cluster")), [], "none at all");
      const namespaced = ruleText(clusterRole).filter((r) => r !== "/namespaces: list,watch");
      const roles = list.filter((o) => o.kind === "Role" && o.metadata.name === `${sa}-watch`);
      assertEquals(roles.map((r) => r.metadata.namespace).sort(), [apps, web].sort());
      for (const role of roles) {
        assertEquals(ruleText(role), namespaced, "the same rules, Namespaces excepted");
      }
      const bindings = list.filter((o) =>
        o.kind === "RoleBinding" && o.metadata.name === `${sa}-watch`
      );
      assertEquals(
        bindings.map((b) => b.metadata.namespace).sort(),
        [apps, web].sort(),
      );
      for (const b of bindings) {
        assertEquals(
          b.roleRef,
          {
            apiGroup: "rbac.authorization.k8s.io",
            kind: "Role",
            name: `${sa}-watch`,
          } as Rendered["roleRef"],
        );
        assertEquals(b.subjects, [{ kind: "ServiceAccount", name: sa, namespace: ns }]);
      }
      // The ingress Service lives outside the watched namespaces: its own Role.
      const ingressService = list.find((o) =>
        o.kind === "Role" && o.metadata.name === `${sa}-ingress-service`
      )!;
      assertEquals(ingressService.metadata.namespace, traefikNs);
      const args =
        list.find((o) => o.kind === "Deployment")!.spec!.template.spec.containers[0].args;
      for (
        const flag of [
          `--namespace=${apps}`,
          `--namespace=${web}`,
          "--label-selector=router=lan",
        ]
      ) {
        assertOk(args.includes(flag), `${flag} in ${args.join(" ")}`);
      }
      const inside = await objects([
        ...scoped,
        "--set",
        `routerHosts.ingressService=${apps}/traefik`,
      ]);
      assertEquals(
        inside.some((o) => o.metadata.name === `${sa}-ingress-service`),
        false,
        "covered by the watch Role",
      );
    },
  );

  await t.step("the schema refuses a namespace that is not a DNS label", async () => {
    const e = await objects(["--set", "watchNamespaces={Apps}"]).then(
      () => undefined,
      (e: Error) => e,
    );
    assertOk(e, "accepted");
    assertMatch(e.message, /watchNamespaces/);
  });

  let op: OperatorProcess | undefined;
  await t.step(
    "as the chart's service account: in scope synced, nothing forbidden",
    async () => {
      const notes = await helm([
        "install",
        release,
        CHART,
        "--kubeconfig",
        kube.kubeconfigPath,
        "-n",
        ns,
        ...scoped,
      ]);
      assertMatch(notes, new RegExp(`Only namespaces ${apps}, ${web} are watched`));
      assertMatch(notes, /Only source objects matching the label selector router=lan/);
      const creds = await kube.makeServiceAccountKubeconfig(ns, sa);
      const canI = async (...args: string[]) =>
        (await kube.kubectl(["auth", "can-i", ...args], {
          kubeconfigPath: creds.kubeconfigPath,
        }))
          .stdout.trim();
      assertEquals(await canI("list", "ingressroutes.traefik.io", "-n", apps), "yes");
      assertEquals(await canI("patch", "services", "-n", web), "yes");
      assertEquals(await canI("list", "services", "-n", other), "no");
      assertEquals(await canI("list", "services", "--all-namespaces"), "no");
      assertEquals(await canI("watch", "namespaces"), "yes");
      assertEquals(
        await canI("watch", "hostmappings.router-hosts.fzymgc.house", "--all-namespaces"),
        "no",
      );
      assertEquals(await canI("watch", "services", "-n", traefikNs), "yes");

      const svc = services(kube);
      await svc.create(traefikNs, "traefik", serviceSpec("LoadBalancer"));
      await svc.setLoadBalancer(traefikNs, "traefik", [{ ip: "10.6.0.2" }]);
      op = await ops.start({
        kubeconfigPath: creds.kubeconfigPath,
        args: [
          `--namespace=${apps},${web}`,
          "--label-selector=router=lan",
          "--enable-gateway",
          "--enable-service",
          "--enable-ingress",
          `--ingress-service=${traefikNs}/traefik`,
          "--default-ingress-ip=10.6.0.1",
        ],
      });
      const labels = { router: "lan" };
      const ir = ingressRoutes(kube);
      await kube.postJson(ir.path(apps), {
        apiVersion: ir.apiVersion,
        kind: ir.kind,
        metadata: { name: "app", labels },
        spec: ingressRouteSpec("app.chart-scope.lan"),
      });
      await kube.postJson(ir.path(other), {
        apiVersion: ir.apiVersion,
        kind: ir.kind,
        metadata: { name: "app", labels },
        spec: ingressRouteSpec("other.chart-scope.lan"),
      });
      const ing = ingresses(kube);
      await kube.postJson(ing.path(web), {
        apiVersion: ing.apiVersion,
        kind: ing.kind,
        metadata: { name: "wiki", labels },
        spec: { rules: [{ host: "wiki.chart-scope.lan" }] },
      });
      await kube.postJson(svc.path(web), {
        apiVersion: "v1",
        kind: "Service",
        metadata: {
          name: "nas",
          labels,
          annotations: {
            "router-hosts.fzymgc.house/enabled": "true",
            "router-hosts.fzymgc.house/hostname": "nas.chart-scope.lan",
          },
        },
        spec: serviceSpec("LoadBalancer"),
      });
      await svc.setLoadBalancer(web, "nas", [{ ip: "10.6.0.5" }]);
      await bed.hm.create(apps, "hm", { hostname: "hm.chart-scope.lan", ip: "10.6.0.9" });
      await ir.waitTracked(apps, "app", ["app.chart-scope.lan"]);
      await ing.waitTracked(web, "wiki", ["wiki.chart-scope.lan"]);
      await svc.waitTracked(web, "nas", ["nas.chart-scope.lan"]);
      await bed.hm.waitSynced(apps, "hm");
      await eventually(
        "the IngressRoute at the ingress Service's IP",
        async () => (await entriesNamed(bed, "app.chart-scope.lan"))[0]?.ipAddress === "10.6.0.2",
      );
      assertEquals(await entriesNamed(bed, "other.chart-scope.lan"), []);
      await ir.delete(apps, "app");
      await ir.waitGone(apps, "app");
      const denied = op.logs().filter((l) => /forbidden|\b403\b/i.test(JSON.stringify(l)));
      assertEquals(
        denied,
        [],
        "the chart's namespaced RBAC lacks a permission the operator uses",
      );
      assertOk(op.logs().every((l) => l.level !== "error"), "no error logged");
    },
  );
});
