/**
 * `deno task demo`: a first look at the operator on a local test bed.
 *
 * Starts etcd + kube-apiserver + a router-hosts server (fresh PKI), runs the
 * operator against them exactly as a user would, applies `examples/`, shows
 * the objects, the server's entries and the hosts file as they converge,
 * then keeps running so you can `kubectl apply` more. Ctrl-C cleans up.
 *
 * @module
 */
import { join } from "node:path";
import { RouterHostsClient } from "../grpc/client.ts";
import { loadTlsMaterial } from "../grpc/tls.ts";
import { installCrds, ROOT, sleep, startKube, startRouterHosts } from "../tests/testbed/mod.ts";
import { startOperator } from "../tests/testbed/operator.ts";

const INGRESS_IP = "192.168.1.2";
const say = (text = "") => console.log(text);
const heading = (text: string) => say(`\n=== ${text}`);

say(
  "Starting the test bed: etcd, kube-apiserver, router-hosts (first run builds them; see above)…",
);
const kube = await startKube();
const rh = await startRouterHosts();
const cleanup: Array<() => Promise<void>> = [() => kube.stop(), () => rh.dispose()];
let stopping = false;
const stopAll = async () => {
  if (stopping) return;
  stopping = true;
  say("\nCleaning up…");
  for (const f of cleanup.reverse()) await f().catch(() => {});
  Deno.exit(0);
};
Deno.addSignalListener("SIGINT", stopAll);
Deno.addSignalListener("SIGTERM", stopAll);

await installCrds(kube, "router-hosts", "traefik");
const op = await startOperator({
  kubeconfigPath: kube.kubeconfigPath,
  routerHosts: rh,
  args: [`--default-ingress-ip=${INGRESS_IP}`, "--log-level=info"],
  name: "operator",
});
cleanup.push(() => op.stop());
say(`router-hosts (${rh.kind}) at ${rh.address}; operator ready (log: ${op.logPath})`);

const applied = await kube.kubectl(["apply", "-f", join(ROOT, "examples")]);
heading("kubectl apply -f examples/");
say(applied.stdout.trim() || applied.stderr.trim());

const hosts = new RouterHostsClient({
  address: rh.address,
  tls: await loadTlsMaterial({
    caPath: rh.caPath,
    certPath: rh.clientCertPath,
    keyPath: rh.clientKeyPath,
  }),
});
cleanup.push(() => Promise.resolve(hosts.close()));

// 1 HostMapping + 3 IngressRoute hosts + 1 IngressRouteTCP host.
const expected = 5;
for (let i = 0; i < 40; i++) {
  const entries = await hosts.listHosts();
  if (entries.length >= expected || i === 39) break;
  await sleep(250);
}

heading("kubectl get hm -A");
say((await kube.kubectl(["get", "hm", "-A"])).stdout.trim());
heading(
  "kubectl get ingressroutes,ingressroutetcps -A (annotation router-hosts.fzymgc.house/host-ids)",
);
say(
  (await kube.kubectl([
    "get",
    "ingressroutes,ingressroutetcps",
    "-A",
    "-o",
    "custom-columns=KIND:.kind,NAME:.metadata.name,HOST-IDS:.metadata.annotations.router-hosts\\.fzymgc\\.house/host-ids",
  ])).stdout.trim(),
);
heading(`router-hosts entries (${rh.address})`);
for (const e of await hosts.listHosts()) {
  say(
    `${e.ipAddress.padEnd(14)} ${e.hostname.padEnd(22)} v${e.version.padEnd(3)} ${
      e.comment ?? ""
    } [${e.tags.join(", ")}]`,
  );
}
heading(`hosts file (${rh.hostsFilePath})`);
say((await Deno.readTextFile(rh.hostsFilePath)).trimEnd());

heading("Try it");
say(`export KUBECONFIG=${kube.kubeconfigPath}`);
say("kubectl get hm -A");
say("kubectl edit hm nas                 # change the ip, watch the hosts file follow");
say(`cat ${rh.hostsFilePath}`);
say(`curl -s localhost:${op.metricsPort}/metrics | grep router_hosts`);
say(`tail -f ${op.logPath}`);
say("\nRunning. Press Ctrl-C to stop and clean everything up.");
await new Promise(() => {});
