/**
 * The Helm chart against a real kube-apiserver: it lints, every manifest it
 * renders is accepted by the API server (strict server-side dry run), its
 * values schema refuses bad input, it installs with `helm install`, and the
 * operator runs as the chart's service account with exactly the chart's
 * RBAC — HostMapping and IngressRoute lifecycles pass, leader election works,
 * and everything outside the role is forbidden.
 */
import { join } from "node:path";
import { assertEquals, assertMatch, assertOk } from "../assert.ts";
import {
  ensureGoTool,
  installCrds,
  type KubectlResult,
  ROOT,
  trackSteps,
  uniqueName,
  VERSIONS,
} from "../testbed/mod.ts";
import { eventually, type OperatorProcess } from "../testbed/operator.ts";
import { withBed, withOperators } from "../testbed/bed.ts";
import { setRouteStatus } from "../testbed/gateway_api.ts";
import { HOST_IDS } from "./sources_fixture.ts";

const CHART = join(ROOT, "chart");
const KUBE_VERSION = VERSIONS.kubernetes.replace(/^v/, "");
const LEASE = "router-hosts-operator.fzymgc.house";
const INGRESS_IP = "10.9.0.1";
const B = "`";

/** The value sets the chart is checked with. */
const VALUES: Record<string, string[]> = {
  default: [],
  ha: ["--set", "replicaCount=2"],
  monitoring: [
    "--set",
    "replicaCount=3",
    "--set",
    "metrics.serviceMonitor.enabled=true",
    "--set",
    "metrics.serviceMonitor.labels.release=prometheus",
    "--set",
    "podDisruptionBudget.enabled=true",
    "--set",
    `routerHosts.defaultIngressIP=${INGRESS_IP}`,
    "--set",
    "gateway.enabled=true",
    "--set",
    "webhook.bindAddress=127.0.0.1:8888",
  ],
  policy: [
    "--set",
    "domainFilters={home.arpa,lan}",
    "--set",
    "excludeDomains={iot.home.arpa}",
    "--set",
    "policy=upsert-only",
    "--set",
    "ownerId=cluster-a",
    "--set",
    "dryRun=true",
    "--set",
    "gcInterval=1h",
    "--set",
    "maxHostsPerObject=50",
  ],
};

interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  // deno-lint-ignore no-explicit-any
  spec?: any;
  // deno-lint-ignore no-explicit-any
  rules?: any[];
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(command: string, args: string[], stdin?: string): Promise<Run> {
  const child = new Deno.Command(command, {
    args,
    cwd: ROOT,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

function must(what: string, r: Run | KubectlResult): string {
  if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code}):\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

Deno.test({
  name: "Helm chart: lint, server-side validation, schema, install, least-privilege RBAC",
  sanitizeOps: false,
  sanitizeResources: false,
}, async (t) => {
  const started = performance.now();
  const helm = (await ensureGoTool("helm")).path;
  // OwnerReferencesPermissionEnforcement (on in OpenShift) is what would
  // demand update on <resource>/finalizers; the operator sets finalizers but
  // never ownerReferences, so the chart grants no finalizers subresource.
  try {
    await withBed({
      traefik: true,
      gatewayApi: true,
      kube: {
        extraApiserverArgs: ["--enable-admission-plugins=OwnerReferencesPermissionEnforcement"],
      },
    }, (bed) =>
      withOperators(bed, async (ops) => {
        const { kube, hm, hosts } = bed;
        let op: OperatorProcess | undefined;
        const { step, dumpLogsIfFailed } = trackSteps(t);
        const template = (release: string, ns: string, extra: string[]) =>
          run(helm, [
            "template",
            release,
            CHART,
            "--namespace",
            ns,
            "--kube-version",
            KUBE_VERSION,
            "--include-crds",
            ...extra,
          ]);
        await installCrds(kube, "prometheus-operator");

        await step("helm lint --strict passes with every value set", async () => {
          for (const [name, values] of Object.entries(VALUES)) {
            const out = must(
              `helm lint (${name})`,
              await run(helm, [
                "lint",
                "--strict",
                "--kube-version",
                KUBE_VERSION,
                CHART,
                ...values,
              ]),
            );
            assertMatch(out, /1 chart\(s\) linted, 0 chart\(s\) failed/);
          }
        });

        const rendered: Record<string, KubeObject[]> = {};
        await step(
          "every rendered manifest is accepted by kube-apiserver (strict dry run)",
          async () => {
            for (const [name, values] of Object.entries(VALUES)) {
              const ns = await kube.createNamespace(uniqueName(`chart-${name}`));
              const yaml = must(
                `helm template (${name})`,
                await template(`rho-${name}`, ns, values),
              );
              // --validate=strict: an unknown or misspelt field is an error, not a warning.
              const applied = must(
                `kubectl apply --dry-run=server (${name})`,
                await kube.kubectl(
                  ["apply", "--dry-run=server", "--validate=strict", "-o", "json", "-f", "-"],
                  { stdin: yaml },
                ),
              );
              const parsed = JSON.parse(applied) as KubeObject | { items: KubeObject[] };
              rendered[name] = "items" in parsed ? parsed.items : [parsed];
            }
            const kinds = (name: string) => rendered[name].map((o) => o.kind).toSorted();
            assertEquals(kinds("default"), [
              "ClusterRole",
              "ClusterRoleBinding",
              "CustomResourceDefinition",
              "Deployment",
              "Service",
              "ServiceAccount",
            ]);
            assertEquals(kinds("ha"), [
              "ClusterRole",
              "ClusterRoleBinding",
              "CustomResourceDefinition",
              "Deployment",
              "Role",
              "RoleBinding",
              "Service",
              "ServiceAccount",
            ]);
            assertEquals(kinds("monitoring"), [
              "ClusterRole",
              "ClusterRoleBinding",
              "CustomResourceDefinition",
              "Deployment",
              "PodDisruptionBudget",
              "Role",
              "RoleBinding",
              "Service",
              "ServiceAccount",
              "ServiceMonitor",
            ]);
          },
        );

        await step("policy values render one flag each, and none by default", () => {
          const policyArgs = (name: string): string[] =>
            (rendered[name].find((o) => o.kind === "Deployment")!.spec.template.spec.containers[0]
              .args as string[]).filter((a) =>
                /^--(domain-filter|exclude-domains|policy|owner-id|dry-run|gc-interval|max-hosts-per-object)\b/
                  .test(a)
              );
          assertEquals(policyArgs("default"), []);
          assertEquals(policyArgs("policy"), [
            "--domain-filter=home.arpa",
            "--domain-filter=lan",
            "--exclude-domains=iot.home.arpa",
            "--policy=upsert-only",
            "--owner-id=cluster-a",
            "--dry-run",
            "--gc-interval=1h",
            "--max-hosts-per-object=50",
          ]);
        });

        await step("Gateway API: flag and RBAC only with gateway.enabled", () => {
          const gatewayRules = (name: string) =>
            rendered[name].find((o) => o.kind === "ClusterRole")!.rules!.filter((r) =>
              r.apiGroups.includes("gateway.networking.k8s.io")
            );
          const args = (name: string): string[] =>
            rendered[name].find((o) => o.kind === "Deployment")!.spec.template.spec.containers[0]
              .args;
          assertEquals(gatewayRules("default"), []);
          assertEquals(args("default").includes("--enable-gateway"), false);
          assertEquals(gatewayRules("monitoring").map((r) => [r.resources, r.verbs]), [
            [["httproutes", "grpcroutes", "tlsroutes"], ["list", "watch", "patch"]],
            [["gateways"], ["list", "watch"]],
          ]);
          const namespaceRules = (name: string) =>
            rendered[name].find((o) => o.kind === "ClusterRole")!.rules!.filter((r) =>
              r.resources.includes("namespaces")
            ).map((r) => [r.apiGroups, r.verbs]);
          assertEquals(namespaceRules("default"), []);
          assertEquals(namespaceRules("monitoring"), [[[""], ["list", "watch"]]]);
          assertOk(args("monitoring").includes("--enable-gateway"));
        });

        await step("replicaCount 2 turns on leader election; 1 runs alone with Recreate", () => {
          const deployment = (name: string) => rendered[name].find((o) => o.kind === "Deployment")!;
          const one = deployment("default").spec;
          assertEquals(one.replicas, 1);
          assertEquals(one.strategy.type, "Recreate", "no overlap of two unelected operators");
          const oneArgs: string[] = one.template.spec.containers[0].args;
          assertEquals(oneArgs.includes("--leader-elect"), false);
          assertOk(oneArgs.includes("--tls-ca=/etc/router-hosts/tls/ca.crt"), oneArgs.join(" "));

          const two = deployment("ha").spec;
          assertEquals(two.replicas, 2);
          assertEquals(two.strategy.type, "RollingUpdate");
          assertOk(two.template.spec.containers[0].args.includes("--leader-elect"));
          assertEquals(
            two.template.spec.affinity.podAntiAffinity
              .preferredDuringSchedulingIgnoredDuringExecution
              .length,
            1,
          );
          const role = rendered.ha.find((o) => o.kind === "Role")!;
          assertEquals(role.rules, [
            { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["create"] },
            {
              apiGroups: ["coordination.k8s.io"],
              resources: ["leases"],
              resourceNames: [LEASE],
              verbs: ["get", "update"],
            },
          ]);

          const pod = deployment("monitoring").spec.template.spec;
          const c = pod.containers[0];
          assertOk(c.args.includes(`--default-ingress-ip=${INGRESS_IP}`));
          assertEquals(c.env, [{
            name: "POD_NAMESPACE",
            valueFrom: { fieldRef: { apiVersion: "v1", fieldPath: "metadata.namespace" } },
          }]);
          assertEquals(c.securityContext.readOnlyRootFilesystem, true);
          assertEquals(c.securityContext.capabilities.drop, ["ALL"]);
          assertEquals(pod.securityContext.runAsUser, 65532);
          assertOk(pod.terminationGracePeriodSeconds >= 30);
          const sm = rendered.monitoring.find((o) => o.kind === "ServiceMonitor")!;
          const svc = rendered.monitoring.find((o) => o.kind === "Service")!;
          assertEquals(
            Object.entries(sm.spec.selector.matchLabels).every(([k, v]) =>
              svc.metadata.labels?.[k] === v
            ),
            true,
            "the ServiceMonitor selects the metrics Service",
          );
          assertEquals(sm.spec.endpoints[0].port, svc.spec.ports[0].name);
        });

        await step(
          "values.schema.json and the templates refuse bad values, saying why",
          async () => {
            const refused = async (values: string[], pattern: RegExp) => {
              const r = await template("bad", "default", values);
              assertOk(r.code !== 0, `helm template ${values.join(" ")} was accepted`);
              assertMatch(r.stderr, pattern);
            };
            await refused(
              ["--set", "replicaCount=two"],
              /\/replicaCount.*got string, want integer/,
            );
            await refused(
              ["--set", "routerHosts.defaultIngressIP=10.0.0.300"],
              /defaultIngressIP.*not valid ipv4/,
            );
            await refused(["--set", "logLevel=verbose"], /\/logLevel/);
            await refused(["--set", "policy=delete"], /\/policy/);
            await refused(["--set", "gcInterval=soon"], /\/gcInterval/);
            await refused(["--set", "ownerId=a b"], /\/ownerId/);
            await refused(["--set", "maxHostsPerObject=0"], /\/maxHostsPerObject/);
            await refused(
              ["--set", "terminationGracePeriodSeconds=5"],
              /terminationGracePeriodSeconds.*minimum/,
            );
            await refused(
              ["--set", "replicaCount=2", "--set", "leaderElection.enabled=false"],
              /every replica would reconcile the same objects/,
            );
            await refused(
              ["--set", "routerHosts.tlsSecret.name="],
              /needs an mTLS Secret \(ca\.crt, tls\.crt, tls\.key\)/,
            );
          },
        );

        const ns = await kube.createNamespace(uniqueName("chart-op"));
        const release = "rho";
        const sa = `${release}-router-hosts-operator`;
        await step("helm install (HA, ServiceMonitor, PDB) into the cluster", async () => {
          const out = must(
            "helm install",
            await run(helm, [
              "install",
              release,
              CHART,
              "--kubeconfig",
              kube.kubeconfigPath,
              "--namespace",
              ns,
              ...VALUES.monitoring,
            ]),
          );
          assertMatch(out, /STATUS: deployed/);
          assertMatch(out, /leader election on \(Lease router-hosts-operator\.fzymgc\.house\)/);
          const listed = must(
            "kubectl get",
            await kube.kubectl([
              "get",
              "-n",
              ns,
              "serviceaccount,role,rolebinding,deployment,service,servicemonitor,pdb",
              "-o",
              "name",
            ]),
          );
          for (
            const name of [
              `serviceaccount/${sa}`,
              `role.rbac.authorization.k8s.io/${sa}-leader-election`,
              `deployment.apps/${sa}`,
              `servicemonitor.monitoring.coreos.com/${sa}`,
            ]
          ) assertOk(listed.includes(name), `${name} missing from:\n${listed}`);
        });

        const creds = await kube.makeServiceAccountKubeconfig(ns, sa);
        op = await ops.start({
          kubeconfigPath: creds.kubeconfigPath,
          args: [
            "--leader-elect",
            `--leader-election-namespace=${ns}`,
            `--default-ingress-ip=${INGRESS_IP}`,
            "--enable-gateway",
          ],
        });
        const apps = await kube.createNamespace(uniqueName("chart-apps"));

        await step("as the chart's service account the operator takes the Lease", async () => {
          const lease = await eventually("the Lease held", async () => {
            const l = await kube.getJson<{ spec: { holderIdentity?: string } }>(
              `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases/${LEASE}`,
            );
            return l.spec.holderIdentity ? l : undefined;
          });
          assertOk(lease.spec.holderIdentity);
          await eventually(
            "leader_election_master_status 1",
            async () =>
              (await op!.scrape()).samples("leader_election_master_status").some((s) =>
                s.value === 1
              ),
          );
        });

        await step(
          "HostMapping: create → Synced → recreated with an Event → delete → gone",
          async () => {
            await hm.create(apps, "nas", {
              hostname: "nas.lan",
              ip: "10.9.0.5",
              aliases: ["files.lan"],
            });
            const o = await hm.waitSynced(apps, "nas");
            const entry = await hosts.getHost(o.status!.hostId!);
            assertEquals([entry.hostname, entry.ipAddress, entry.comment], [
              "nas.lan",
              "10.9.0.5",
              `k8s:${apps}/nas`,
            ]);
            // Out-of-band deletion → recreate, reported with an events.k8s.io Event (create).
            await hosts.deleteHost(entry.id);
            await hm.patch(apps, "nas", { metadata: { annotations: { touch: "1" } } });
            await hm.waitFor(
              apps,
              "nas",
              "a new host id",
              (x) => x.status?.phase === "Synced" && x.status.hostId !== entry.id,
            );
            await eventually("a Recreated event", async () => {
              const list = await kube.getJson<{ items: Array<{ reason: string }> }>(
                `/apis/events.k8s.io/v1/namespaces/${apps}/events`,
              );
              return list.items.some((e) => e.reason === "Recreated");
            });
            await hm.delete(apps, "nas");
            await hm.waitGone(apps, "nas");
            assertEquals(await hosts.findExact("10.9.0.5", "nas.lan"), []);
          },
        );

        const routes = [
          {
            plural: "ingressroutes",
            kind: "IngressRoute",
            match: `Host(${B}a.lan${B})`,
            host: "a.lan",
          },
          {
            plural: "ingressroutetcps",
            kind: "IngressRouteTCP",
            match: `HostSNI(${B}db.lan${B})`,
            host: "db.lan",
          },
        ];
        for (const r of routes) {
          await step(`${r.kind}: create → annotation and entry → delete → gone`, async () => {
            const path = `/apis/traefik.io/v1alpha1/namespaces/${apps}/${r.plural}`;
            await kube.postJson(path, {
              apiVersion: "traefik.io/v1alpha1",
              kind: r.kind,
              metadata: { name: "web" },
              spec: { routes: [{ match: r.match, services: [{ name: "web", port: 80 }] }] },
            });
            const ids = await eventually(`${r.kind} ${HOST_IDS} annotation`, async () => {
              const o = await kube.getJson<KubeObject>(`${path}/web`);
              const raw = o.metadata.annotations?.[HOST_IDS];
              return raw ? JSON.parse(raw) as Record<string, string> : undefined;
            });
            assertEquals(Object.keys(ids), [r.host]);
            const entry = await hosts.getHost(ids[r.host]);
            assertEquals([entry.hostname, entry.ipAddress, entry.comment], [
              r.host,
              INGRESS_IP,
              `k8s-ingress:${apps}/web`,
            ]);
            await kube.deleteJson(`${path}/web`);
            await eventually(
              `${r.kind} gone`,
              async () => (await kube.request("GET", `${path}/web`)).status === 404,
            );
            assertEquals(await hosts.findExact(INGRESS_IP, r.host), []);
          });
        }

        await step(
          "HTTPRoute: create → entry with its Gateway's address → delete → gone",
          async () => {
            const api = `/apis/gateway.networking.k8s.io/v1/namespaces/${apps}`;
            await kube.postJson(`${api}/gateways`, {
              apiVersion: "gateway.networking.k8s.io/v1",
              kind: "Gateway",
              metadata: { name: "edge" },
              spec: {
                gatewayClassName: "test",
                listeners: [{ name: "http", port: 80, protocol: "HTTP" }],
              },
            });
            await kube.mergePatchJson(`${api}/gateways/edge/status`, {
              status: { addresses: [{ type: "IPAddress", value: "10.9.0.80" }] },
            });
            await kube.postJson(`${api}/httproutes`, {
              apiVersion: "gateway.networking.k8s.io/v1",
              kind: "HTTPRoute",
              metadata: { name: "web" },
              spec: { parentRefs: [{ name: "edge" }], hostnames: ["gw.lan"] },
            });
            // What the Gateway's controller does: accept the route.
            await setRouteStatus(kube, apps, "httproutes", "web", [{ name: "edge" }]);
            const entry = await eventually(
              "the HTTPRoute's entry",
              async () => (await hosts.findExact("10.9.0.80", "gw.lan"))[0],
            );
            assertEquals(entry.comment, `k8s-gateway:${apps}/web`);
            await kube.deleteJson(`${api}/httproutes/web`);
            await eventually(
              "HTTPRoute gone",
              async () => (await kube.request("GET", `${api}/httproutes/web`)).status === 404,
            );
            assertEquals(await hosts.findExact("10.9.0.80", "gw.lan"), []);
          },
        );

        await step("no request of the operator was forbidden", () => {
          const denied = op!.logs().filter((l) => /forbidden|\b403\b/i.test(JSON.stringify(l)));
          assertEquals(denied, [], "the chart's RBAC is missing a permission the operator uses");
        });

        await step("outside its role the service account is denied", async () => {
          const secrets = await kube.kubectl(["get", "secrets", "-A"], {
            kubeconfigPath: creds.kubeconfigPath,
          });
          assertEquals(secrets.code, 1, secrets.stdout);
          assertMatch(
            secrets.stderr,
            new RegExp(
              `Forbidden.*User "${creds.username}" cannot list resource "secrets" in API group "" at the cluster scope`,
            ),
          );
          const canI = async (args: string[]) => {
            const r = await kube.kubectl(["auth", "can-i", ...args], {
              kubeconfigPath: creds.kubeconfigPath,
            });
            return r.stdout.trim();
          };
          const allowed: string[][] = [
            ["list", "hostmappings.router-hosts.fzymgc.house", "-A"],
            ["watch", "hostmappings.router-hosts.fzymgc.house", "-A"],
            ["patch", "hostmappings.router-hosts.fzymgc.house", "-n", apps],
            ["patch", "hostmappings.router-hosts.fzymgc.house", "--subresource=status", "-n", apps],
            ["list", "ingressroutes.traefik.io", "-A"],
            ["patch", "ingressroutetcps.traefik.io", "-n", apps],
            ["create", "events.events.k8s.io", "-n", apps],
            ["patch", "events.events.k8s.io", "-n", apps],
            ["create", "leases.coordination.k8s.io", "-n", ns],
            ["update", `leases.coordination.k8s.io/${LEASE}`, "-n", ns],
          ];
          const denied: string[][] = [
            ["get", "secrets", "-n", ns],
            ["create", "hostmappings.router-hosts.fzymgc.house", "-n", apps],
            ["delete", "hostmappings.router-hosts.fzymgc.house", "-n", apps],
            ["update", "hostmappings.router-hosts.fzymgc.house", "-n", apps],
            ["delete", "ingressroutes.traefik.io", "-n", apps],
            ["update", "ingressroutes.traefik.io", "--subresource=finalizers", "-n", apps],
            ["list", "pods", "-A"],
            ["create", "events", "-n", apps],
            ["delete", `leases.coordination.k8s.io/${LEASE}`, "-n", ns],
            ["update", "leases.coordination.k8s.io/another-lease", "-n", ns],
            ["create", "leases.coordination.k8s.io", "-n", apps],
            ["get", "customresourcedefinitions.apiextensions.k8s.io"],
          ];
          for (const a of allowed) assertEquals(await canI(a), "yes", `can-i ${a.join(" ")}`);
          for (const a of denied) assertEquals(await canI(a), "no", `can-i ${a.join(" ")}`);
        });

        await step("on SIGTERM the operator releases the Lease (update)", async () => {
          const rss = peakRssMiB(op!.process.pid);
          await op!.stop();
          op = undefined;
          const lease = await kube.getJson<{ spec: { holderIdentity?: string } }>(
            `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases/${LEASE}`,
          );
          assertEquals(lease.spec.holderIdentity ?? "", "");
          if (rss) console.error(`[chart] operator peak RSS: ${rss} MiB`);
        });

        await step(
          "kubectl apply of a bad HostMapping is refused with a readable reason",
          async () => {
            const apply = (spec: Record<string, unknown>) =>
              kube.kubectl(["apply", "-n", apps, "-f", "-"], {
                stdin: JSON.stringify({
                  apiVersion: "router-hosts.fzymgc.house/v1alpha1",
                  kind: "HostMapping",
                  metadata: { name: "bad" },
                  spec,
                }),
              });
            const cases: Array<[string, Record<string, unknown>, RegExp]> = [
              [
                "bad IP",
                { hostname: "ok.lan", ip: "10.0.0.300" },
                /spec\.ip: Invalid value: .*ip must be an IPv4 or IPv6 address/,
              ],
              [
                "bad hostname",
                { hostname: "bad_host!.lan", ip: "10.0.0.3" },
                /spec\.hostname: Invalid value: .*hostname must be a DNS name \(RFC 1123\)/,
              ],
              [
                "51 aliases",
                {
                  hostname: "many.lan",
                  ip: "10.0.0.4",
                  aliases: Array.from({ length: 51 }, (_, i) => `a${i}.lan`),
                },
                /spec\.aliases: Too many: 51: must have at most 50 items/,
              ],
            ];
            for (const [what, spec, message] of cases) {
              const r = await apply(spec);
              assertEquals(r.code, 1, `${what} was accepted: ${r.stdout}`);
              assertMatch(r.stderr, /The HostMapping "bad" is invalid/, what);
              assertMatch(r.stderr, message, what);
            }
            assertEquals(await hm.exists(apps, "bad"), false);
          },
        );
        dumpLogsIfFailed();
      }));
  } finally {
    console.error(`[chart] test wall time ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
});

/** VmHWM of a process, in MiB (undefined when /proc cannot tell). */
function peakRssMiB(pid: number): number | undefined {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1]);
    return kb ? Math.round(kb / 1024) : undefined;
  } catch {
    return undefined;
  }
}
