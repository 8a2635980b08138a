/**
 * `deno task demo`: a first look at the operator on a local test bed.
 *
 * Starts etcd + kube-apiserver + a router-hosts server (fresh PKI), installs
 * the router-hosts, Traefik and Gateway API CRDs, runs the operator against
 * them exactly as a user would (every source on), applies `examples/`, writes
 * the load-balancer addresses no controller writes on the bed, shows the
 * objects, the server's entries and the hosts file once they have converged,
 * then keeps running so you can `kubectl apply` more. Ctrl-C cleans up.
 *
 * @module
 */
import { dirname, join } from "node:path";
import { RouterHostsClient } from "../grpc/client.ts";
import type { HostEntry } from "../grpc/hosts_port.ts";
import { loadTlsMaterial } from "../grpc/tls.ts";
import { installCrds, ROOT, startKube, startRouterHosts } from "../tests/testbed/mod.ts";
import { eventually, startOperator } from "../tests/testbed/operator.ts";
import { setGatewayAddresses, setRouteStatus } from "../tests/testbed/gateway_api.ts";

const INGRESS_IP = "192.168.1.2";
// What MetalLB would give the Service, ingress-nginx the Ingress, Cilium the Gateway.
const SERVICE_IP = "192.168.1.10";
const INGRESS_STATUS_IP = "192.168.1.3";
const GATEWAY_IP = "192.168.1.4";
/**
 * hostname → IP once `examples/` has converged: 1 HostMapping, 3 IngressRoute
 * hosts, 1 IngressRouteTCP host, 1 HTTPRoute host, 1 Service, 1 Ingress host.
 */
const EXPECTED: Record<string, string> = {
  "nas.home.arpa": "192.168.1.20",
  "jellyfin.home.arpa": INGRESS_IP,
  "photos.home.arpa": INGRESS_IP,
  "grafana.home.arpa": INGRESS_IP,
  "db.home.arpa": INGRESS_IP,
  "ha.home.arpa": GATEWAY_IP,
  "mqtt.home.arpa": SERVICE_IP,
  "wiki.home.arpa": INGRESS_STATUS_IP,
};
const CONVERGE_TIMEOUT_MS = 60_000;
const HOST_IDS_COLUMN = "HOST-IDS:.metadata.annotations.router-hosts\\.fzymgc\\.house/host-ids";

const say = (text = "") => console.log(text);
const heading = (text: string) => say(`\n=== ${text}`);

// The bed SIGKILLs its children and exits at once on Ctrl-C or SIGTERM
// (tests/testbed/process.ts), and on any other exit; what is left is their
// temp dirs (etcd data, PKI, logs), removed here on every way out but a
// failure, whose logs are worth reading.
let keepFiles = Deno.env.get("TESTBED_KEEP") === "1";
const tempDirs: string[] = [];
globalThis.addEventListener("unload", () => {
  if (keepFiles) return say(`\nStopped; test bed files kept in ${tempDirs.join(" ")}`);
  say("\nStopped; removing the test bed's files.");
  for (const dir of tempDirs) {
    try {
      Deno.removeSync(dir, { recursive: true });
    } catch {
      // Already gone.
    }
  }
});

say(
  "Starting the test bed: etcd, kube-apiserver, router-hosts (first run builds them; see above)…",
);
try {
  const kube = await startKube();
  tempDirs.push(kube.dir);
  const rh = await startRouterHosts();
  tempDirs.push(rh.dir);
  await installCrds(kube, "router-hosts", "traefik", "gateway-api");
  const op = await startOperator({
    kubeconfigPath: kube.kubeconfigPath,
    routerHosts: rh,
    args: [
      `--default-ingress-ip=${INGRESS_IP}`,
      "--enable-gateway",
      "--enable-service",
      "--enable-ingress",
      "--log-level=info",
    ],
    name: "operator",
  });
  tempDirs.push(dirname(op.logPath));
  say(`router-hosts (${rh.kind}) at ${rh.address}; operator ready (log: ${op.logPath})`);

  const applied = await kube.kubectl(["apply", "-f", join(ROOT, "examples")]);
  heading("kubectl apply -f examples/");
  say(applied.stdout.trim());
  if (applied.code !== 0) throw new Error(`kubectl apply failed: ${applied.stderr.trim()}`);

  // No MetalLB, ingress controller or Gateway controller runs on the bed.
  heading("Writing load-balancer addresses and route acceptance through the status subresource");
  await kube.mergePatchJson("/api/v1/namespaces/default/services/mqtt/status", {
    status: { loadBalancer: { ingress: [{ ip: SERVICE_IP }] } },
  });
  say(`service/mqtt        ${SERVICE_IP}  (as MetalLB would)`);
  await kube.mergePatchJson(
    "/apis/networking.k8s.io/v1/namespaces/default/ingresses/wiki/status",
    { status: { loadBalancer: { ingress: [{ ip: INGRESS_STATUS_IP }] } } },
  );
  say(`ingress/wiki        ${INGRESS_STATUS_IP}   (as your ingress controller would)`);
  await setGatewayAddresses(kube, "default", "home", [GATEWAY_IP]);
  say(`gateway/home        ${GATEWAY_IP}   (as your Gateway controller would)`);
  await setRouteStatus(kube, "default", "httproutes", "home-assistant", [{ name: "home" }]);
  say("httproute/home-assistant  Accepted=True by gateway/home (as your Gateway controller would)");

  const hosts = new RouterHostsClient({
    address: rh.address,
    tls: await loadTlsMaterial({
      caPath: rh.caPath,
      certPath: rh.clientCertPath,
      keyPath: rh.clientKeyPath,
    }),
  });

  const started = Date.now();
  // What is still off, for the error when the entries never converge.
  let off: string[] = [];
  const entries = await eventually(
    `the ${Object.keys(EXPECTED).length} entries of examples/ at their IPs`,
    async () => {
      const list = await hosts.listHosts();
      const got = new Map(list.map((e) => [e.hostname, e.ipAddress]));
      off = [
        ...Object.entries(EXPECTED).filter(([h, ip]) => got.get(h) !== ip)
          .map(([h, ip]) => `${h} is ${got.get(h) ?? "missing"}, want ${ip}`),
        ...list.filter((e) => !(e.hostname in EXPECTED)).map((e) => `unexpected ${e.hostname}`),
      ];
      return off.length === 0 ? list : undefined;
    },
    CONVERGE_TIMEOUT_MS,
    250,
  ).catch((e) => {
    // off is empty when ListHosts itself kept failing: then the error says why.
    const why = off.length > 0 ? off.join("; ") : e.message;
    throw new Error(
      `the entries did not converge in ${CONVERGE_TIMEOUT_MS / 1000} s: ${why} ` +
        `(operator log: ${op.logPath})`,
    );
  });
  say(`\nConverged: ${entries.length} entries in ${Date.now() - started} ms.`);

  heading("kubectl get hm,gateways -A");
  say((await kube.kubectl(["get", "hm,gateways", "-A"])).stdout.trim());
  heading(`the other sources and their entry ids (annotation router-hosts.fzymgc.house/host-ids)`);
  say(
    (await kube.kubectl([
      "get",
      "ingressroutes,ingressroutetcps,httproutes,services,ingresses",
      "-A",
      // The API server's own Service `kubernetes` is not opted in.
      "--field-selector=metadata.name!=kubernetes",
      "-o",
      `custom-columns=KIND:.kind,NAMESPACE:.metadata.namespace,NAME:.metadata.name,${HOST_IDS_COLUMN}`,
    ])).stdout.trim(),
  );
  heading(`router-hosts entries (${rh.address}): the comment and tags name the source`);
  say(entryTable(entries));
  heading(`hosts file (${rh.hostsFilePath})`);
  say((await Deno.readTextFile(rh.hostsFilePath)).trimEnd());

  heading("Try it");
  say(`export KUBECONFIG=${kube.kubeconfigPath}`);
  say("kubectl get hm,gateways,httproutes,svc,ingress -A");
  say("kubectl edit hm nas                 # change the ip, watch the hosts file follow");
  say("# Move the Gateway, as your Gateway controller would: ha.home.arpa follows in place");
  say(
    "kubectl patch gateway home --subresource=status --type=merge " +
      `-p '{"status":{"addresses":[{"type":"IPAddress","value":"192.168.1.5"}]}}'`,
  );
  say(`grep ha.home.arpa ${rh.hostsFilePath}`);
  say("kubectl delete ingress wiki         # the entry goes, then the finalizer lets it go");
  say(`cat ${rh.hostsFilePath}`);
  say(`curl -s localhost:${op.metricsPort}/metrics | grep router_hosts`);
  say(`tail -f ${op.logPath}`);
  say("\nRunning. Press Ctrl-C to stop and clean everything up.");
  await new Promise(() => {});
} catch (e) {
  console.error(`\ndemo failed: ${e instanceof Error ? e.message : e}`);
  keepFiles = true;
  Deno.exit(1);
}

/** The entries as a table, grouped by source (comment). */
function entryTable(entries: HostEntry[]): string {
  const rows = entries
    .toSorted((a, b) =>
      (a.comment ?? "").localeCompare(b.comment ?? "") || a.hostname.localeCompare(b.hostname)
    )
    .map((e) => [
      e.ipAddress,
      e.hostname,
      e.aliases.join(",") || "-",
      e.comment ?? "",
      e.tags.join(","),
    ]);
  const table = [["IP", "HOSTNAME", "ALIASES", "COMMENT", "TAGS"], ...rows];
  const widths = table[0].map((_, i) => Math.max(...table.map((r) => r[i].length)));
  return table.map((r) => r.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd()).join("\n");
}
