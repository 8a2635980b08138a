/**
 * How fast an ingress IP change reaches the hosts file (`--ingress-service`):
 * IngressRoutes whose IP is the Traefik Service's LoadBalancer address are
 * synced; then the bench changes that address (as MetalLB or kube-vip would,
 * through the status subresource) and measures the time from the change
 * until the router-hosts hosts file lists every host at the new address,
 * and the UpdateHost calls it cost (operator's /metrics). Each layout runs
 * on a fresh test bed; each change is repeated --repeat times (median,
 * min–max).
 *
 * Usage: deno run -A bench/ip_change.ts [--hosts=100] [--repeat=3] [--layouts=100x1,10x10]
 *        (a layout is routes x hosts-per-route)
 * Results: a table on stdout and JSON in bench/results/.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { services, serviceSpec } from "../tests/e2e/sources_fixture.ts";
import {
  installCrds,
  sleep,
  startKube,
  startRouterHosts,
  uniqueName,
} from "../tests/testbed/mod.ts";
import { metricSum, type OperatorProcess, startOperator } from "../tests/testbed/operator.ts";

const { values: opts } = parseArgs({
  args: Deno.args,
  options: {
    repeat: { type: "string", default: "3" },
    layouts: { type: "string", default: "100x1,10x10" },
  },
});
const REPEAT = Number(opts.repeat);
const LAYOUTS = opts.layouts!.split(",").map((l) => l.split("x").map(Number) as [number, number]);
const B = "`";

interface Change {
  ms: number;
  updateHost: number;
}

async function updateHostCalls(op: OperatorProcess): Promise<number> {
  return metricSum(await op.metrics(), "router_hosts_grpc_requests_total", `method="UpdateHost"`);
}

async function run(routes: number, perRoute: number): Promise<Change[]> {
  const kube = await startKube();
  const rh = await startRouterHosts();
  let op: OperatorProcess | undefined;
  try {
    await installCrds(kube, "router-hosts", "traefik");
    const traefik = await kube.createNamespace(uniqueName("traefik"));
    const ns = await kube.createNamespace(uniqueName("bench"));
    const svc = services(kube);
    await svc.create(traefik, "traefik", serviceSpec("LoadBalancer"));
    await svc.setLoadBalancer(traefik, "traefik", [{ ip: "10.100.0.1" }]);
    op = await startOperator({
      kubeconfigPath: kube.kubeconfigPath,
      routerHosts: rh,
      args: [`--ingress-service=${traefik}/traefik`, "--log-level=info"],
    });
    const hosts: string[] = [];
    for (let r = 0; r < routes; r++) {
      const names = Array.from({ length: perRoute }, (_, h) => `h${h}.r${r}.bench.lan`);
      hosts.push(...names);
      await kube.postJson(`/apis/traefik.io/v1alpha1/namespaces/${ns}/ingressroutes`, {
        apiVersion: "traefik.io/v1alpha1",
        kind: "IngressRoute",
        metadata: { name: `r${r}` },
        spec: {
          routes: [{
            match: names.map((n) => `Host(${B}${n}${B})`).join(" || "),
            kind: "Rule",
            services: [{ name: "svc", port: 80 }],
          }],
        },
      });
    }
    const allAt = async (ip: string) => {
      const lines = await rh.readHostsFile();
      const at = new Set(lines.filter((l) => l.ip === ip).map((l) => l.hostname));
      return hosts.every((h) => at.has(h));
    };
    const waitAll = async (ip: string, timeoutMs: number) => {
      const deadline = performance.now() + timeoutMs;
      while (!(await allAt(ip))) {
        if (performance.now() > deadline) throw new Error(`not all hosts at ${ip}`);
        await sleep(10);
      }
    };
    await waitAll("10.100.0.1", 120_000);
    const changes: Change[] = [];
    for (let i = 0; i < REPEAT; i++) {
      const ip = `10.100.1.${i + 1}`;
      const before = await updateHostCalls(op);
      const t0 = performance.now();
      await svc.setLoadBalancer(traefik, "traefik", [{ ip }]);
      await waitAll(ip, 120_000);
      const ms = performance.now() - t0;
      // Updates still in flight would be counted by the next change: let them land.
      await sleep(1_000);
      changes.push({ ms, updateHost: (await updateHostCalls(op)) - before });
    }
    return changes;
  } finally {
    await op?.stop();
    await rh.dispose();
    await kube.stop();
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

const results: Record<string, { changes: Change[]; medianMs: number; hosts: number }> = {};
for (const [routes, perRoute] of LAYOUTS) {
  const changes = await run(routes, perRoute);
  const layout = `${routes} IngressRoutes x ${perRoute} hosts`;
  results[layout] = {
    changes,
    medianMs: median(changes.map((c) => c.ms)),
    hosts: routes * perRoute,
  };
  const ms = changes.map((c) => c.ms);
  console.log(
    `${layout}: IP change → hosts file ${median(ms).toFixed(0)} ms median (${
      Math.min(...ms).toFixed(0)
    }–${Math.max(...ms).toFixed(0)}), UpdateHost per change ${
      changes.map((c) => c.updateHost).join(", ")
    } for ${routes * perRoute} hosts`,
  );
}
await Deno.mkdir(new URL("./results/", import.meta.url), { recursive: true });
const file = new URL(
  `./results/ip_change-${new Date().toISOString().replace(/[:.]/g, "-")}.json`,
  import.meta.url,
);
await Deno.writeTextFile(file, JSON.stringify(results, null, 2) + "\n");
console.log(`results: ${file.pathname}`);
