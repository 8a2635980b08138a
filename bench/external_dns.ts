/**
 * The external-dns webhook under load, with the real external-dns on the
 * test bed: N LoadBalancer Services (one hostname each) published through
 * the operator's webhook by `external-dns --once`.
 *
 * Per round (fresh namespace, --repeat rounds, median and min–max reported):
 * - create: wall time of the `--once` run that writes the N entries (process
 *   start and informer sync included), and the webhook's own apply time;
 * - idle: a second `--once` run with nothing changed: its wall time and the
 *   router-hosts calls it caused, by method (writes must be 0).
 * The namespace's Services are deleted and a third run removes the entries
 * before the next round.
 *
 * Usage: deno run -A bench/external_dns.ts [--n=200] [--repeat=3]
 * (EXTERNAL_DNS_BIN=/path/to/external-dns skips the build of external-dns.)
 *
 * @module
 */
import { parseArgs } from "node:util";
import { freePort, uniqueName } from "../tests/testbed/mod.ts";
import { runExternalDnsOnce } from "../tests/testbed/external_dns.ts";
import { metricSum, startOperator } from "../tests/testbed/operator.ts";
import { startBed, stopBed } from "../tests/testbed/bed.ts";

const { values: opts } = parseArgs({
  args: Deno.args,
  options: { n: { type: "string", default: "200" }, repeat: { type: "string", default: "3" } },
});
const N = Number(opts.n);
const REPEAT = Number(opts.repeat);
const METHODS = ["ListHosts", "AddHost", "UpdateHost", "DeleteHost", "SearchHosts", "GetHost"];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function summary(xs: number[], unit: string): string {
  return `${median(xs).toFixed(2)} ${unit} (min ${Math.min(...xs).toFixed(2)}, max ${
    Math.max(...xs).toFixed(2)
  })`;
}

const bed = await startBed();
const webhookPort = freePort();
const webhookUrl = `http://127.0.0.1:${webhookPort}`;
const op = await startOperator({
  kubeconfigPath: bed.kube.kubeconfigPath,
  routerHosts: bed.rh,
  args: [`--webhook-bind-address=127.0.0.1:${webhookPort}`, "--log-level=info"],
});
const calls = async () => {
  const text = await op.metrics();
  return Object.fromEntries(
    METHODS.map((m) => [m, metricSum(text, "router_hosts_grpc_requests_total", `method="${m}"`)]),
  );
};
const applySeconds = async () =>
  metricSum(
    await op.metrics(),
    "router_hosts_webhook_request_duration_seconds_sum",
    'endpoint="apply_changes"',
  );

const createS: number[] = [];
const applyS: number[] = [];
const idleS: number[] = [];
const idleCalls: Record<string, number>[] = [];
try {
  for (let round = 1; round <= REPEAT; round++) {
    const ns = await bed.kube.createNamespace(uniqueName("xdns-bench"));
    for (let i = 0; i < N; i += 20) {
      await Promise.all(
        Array.from({ length: Math.min(20, N - i) }, async (_, j) => {
          const name = `svc-${i + j}`;
          const path = `/api/v1/namespaces/${ns}/services`;
          await bed.kube.postJson(path, {
            apiVersion: "v1",
            kind: "Service",
            metadata: {
              name,
              annotations: {
                "external-dns.alpha.kubernetes.io/hostname": `${name}.r${round}.home.arpa`,
              },
            },
            spec: {
              type: "LoadBalancer",
              allocateLoadBalancerNodePorts: false,
              selector: { app: name },
              ports: [{ port: 80 }],
            },
          });
          await bed.kube.mergePatchJson(`${path}/${name}/status`, {
            status: { loadBalancer: { ingress: [{ ip: `10.50.${round}.${(i + j) % 250 + 1}` }] } },
          });
        }),
      );
    }
    const apply0 = await applySeconds();
    const created = await runExternalDnsOnce({ kube: bed.kube, webhookUrl, namespace: ns });
    if (created.code !== 0) throw new Error(`external-dns failed: ${created.logPath}`);
    const written = (await bed.hosts.listHosts()).filter((e) =>
      e.hostname.endsWith(`.r${round}.home.arpa`)
    ).length;
    if (written !== N) throw new Error(`round ${round}: ${written} entries, want ${N}`);
    createS.push(created.ms / 1000);
    applyS.push((await applySeconds()) - apply0);

    const before = await calls();
    const idle = await runExternalDnsOnce({ kube: bed.kube, webhookUrl, namespace: ns });
    if (idle.code !== 0) throw new Error(`external-dns failed: ${idle.logPath}`);
    const after = await calls();
    idleS.push(idle.ms / 1000);
    idleCalls.push(Object.fromEntries(METHODS.map((m) => [m, after[m] - before[m]])));

    await bed.kube.request("DELETE", `/api/v1/namespaces/${ns}/services`);
    await runExternalDnsOnce({ kube: bed.kube, webhookUrl, namespace: ns });
    console.log(
      `round ${round}: create ${createS.at(-1)!.toFixed(2)} s (webhook apply ${
        applyS.at(-1)!.toFixed(2)
      } s), idle ${idleS.at(-1)!.toFixed(2)} s, idle calls ${JSON.stringify(idleCalls.at(-1))}`,
    );
  }
  console.log(`\nexternal-dns --once, ${N} Services through the webhook, ${REPEAT} rounds:`);
  console.log(`  sync that writes ${N} entries: ${summary(createS, "s")}`);
  console.log(`  of which the webhook's POST /records: ${summary(applyS, "s")}`);
  console.log(`  sync with nothing changed: ${summary(idleS, "s")}`);
  console.log(`  router-hosts calls per idle sync: ${JSON.stringify(idleCalls)}`);
} finally {
  await op.stop();
  await stopBed(bed);
}
