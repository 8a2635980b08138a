/**
 * Memory of a scoped operator (`--namespace`, `--label-selector`). On one
 * fresh test bed per run, three operators with the same flags, one after
 * the other:
 * 1. idle: no objects, RSS 10 s after /readyz;
 * 2. control: the 100 in-scope objects only, RSS 30 s after all are in sync;
 * 3. scoped: the 9,900 out-of-scope objects added (10,000 in the cluster),
 *    RSS 30 s after the operator started into them has the 100 in sync.
 * Out of scope: HostMappings and labelled IngressRoutes in another
 * namespace, unlabelled IngressRoutes in the watched one. RSS is `VmRSS` of
 * the operator process (/proc/<pid>/status), as bench/load.ts reads it.
 *
 * Usage: deno run -A bench/scope.ts [--repeat=3] [--total=10000] [--in-scope=100]
 * Results: a table on stdout and JSON in bench/results/.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { HostMappings } from "../tests/testbed/bed.ts";
import {
  installCrds,
  type KubeTestbed,
  sleep,
  startKube,
  startRouterHosts,
} from "../tests/testbed/mod.ts";
import { metricSum, type OperatorProcess, startOperator } from "../tests/testbed/operator.ts";
import type { RouterHostsTestbed } from "../tests/testbed/router_hosts.ts";

const { values: opts } = parseArgs({
  args: Deno.args,
  options: {
    repeat: { type: "string", default: "3" },
    total: { type: "string", default: "10000" },
    "in-scope": { type: "string", default: "100" },
  },
});
const REPEAT = Number(opts.repeat);
const TOTAL = Number(opts.total);
const IN_SCOPE = Number(opts["in-scope"]);
const CREATE_CONCURRENCY = 32;
const SCOPED = "scoped";
const OTHER = "other";
const LABELS = { router: "lan" };

interface Run {
  idleMiB: number;
  controlMiB: number;
  scopedMiB: number;
  /** What the operator listed into its caches, by resource (from its "listed" log lines). */
  cached: Record<string, number>;
  /** Successful AddHost calls: the in-scope objects only. */
  addHost: number;
}

function rssMiB(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

async function pool(count: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(CREATE_CONCURRENCY, count) }, async () => {
      while (next < count) await fn(next++);
    }),
  );
}

function operator(kube: KubeTestbed, rh: RouterHostsTestbed): Promise<OperatorProcess> {
  return startOperator({
    kubeconfigPath: kube.kubeconfigPath,
    routerHosts: rh,
    args: [
      "--log-level=info",
      `--namespace=${SCOPED}`,
      "--label-selector=router=lan",
      "--default-ingress-ip=10.200.0.1",
      "--resync-period=1h",
    ],
  });
}

function ingressRoute(kube: KubeTestbed, ns: string, name: string, labels: Record<string, string>) {
  return kube.postJson(`/apis/traefik.io/v1alpha1/namespaces/${ns}/ingressroutes`, {
    apiVersion: "traefik.io/v1alpha1",
    kind: "IngressRoute",
    metadata: { name, labels },
    spec: {
      routes: [{ match: `Host(\`${name}.${ns}.scope.lan\`)`, kind: "Rule", services: [] }],
    },
  });
}

const ip = (i: number) => `10.${100 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;

/** In scope: half HostMappings, half labelled IngressRoutes, in SCOPED. */
async function populateInScope(kube: KubeTestbed): Promise<void> {
  const hm = new HostMappings(kube);
  const inHm = Math.floor(IN_SCOPE / 2);
  await pool(inHm, (i) => hm.create(SCOPED, `m${i}`, { hostname: `m${i}.in.lan`, ip: ip(i) }));
  await pool(IN_SCOPE - inHm, (i) => ingressRoute(kube, SCOPED, `r${i}`, LABELS));
}

/**
 * Out of scope: half HostMappings in OTHER, a quarter labelled IngressRoutes
 * in OTHER, a quarter unlabelled IngressRoutes in SCOPED.
 */
async function populateOutOfScope(kube: KubeTestbed): Promise<void> {
  const hm = new HostMappings(kube);
  const out = TOTAL - IN_SCOPE;
  const outHm = Math.floor(out / 2), outIrOther = Math.floor(out / 4);
  await pool(outHm, (i) => hm.create(OTHER, `m${i}`, { hostname: `m${i}.other.lan`, ip: ip(i) }));
  await pool(outIrOther, (i) => ingressRoute(kube, OTHER, `r${i}`, LABELS));
  await pool(out - outHm - outIrOther, (i) => ingressRoute(kube, SCOPED, `u${i}`, {}));
}

/** Waits until the operator manages an entry for every in-scope object, then 30 s more. */
async function settledInScope(op: OperatorProcess): Promise<void> {
  const deadline = Date.now() + 600_000;
  while (metricSum(await op.metrics(), "router_hosts_managed_hosts") < IN_SCOPE) {
    if (Date.now() > deadline) throw new Error("the in-scope objects did not sync in 10 min");
    await sleep(1_000);
  }
  // Let the burst's garbage be collected: the figure is the steady state.
  await sleep(30_000);
}

async function once(): Promise<Run> {
  const kube = await startKube();
  const rh = await startRouterHosts();
  let op: OperatorProcess | undefined;
  try {
    await installCrds(kube, "router-hosts", "traefik");
    await kube.createNamespace(SCOPED);
    await kube.createNamespace(OTHER);
    op = await operator(kube, rh);
    await sleep(10_000);
    const idleMiB = rssMiB(op.process.pid);
    await op.stop();

    await populateInScope(kube);
    op = await operator(kube, rh);
    await settledInScope(op);
    const controlMiB = rssMiB(op.process.pid);
    const addHost = metricSum(
      await op.metrics(),
      "router_hosts_grpc_requests_total",
      `method="AddHost"`,
      `code="OK"`,
    );
    await op.stop();

    await populateOutOfScope(kube);
    op = await operator(kube, rh);
    await settledInScope(op);
    const scopedMiB = rssMiB(op.process.pid);
    const cached: Record<string, number> = {};
    for (const l of op.logs().filter((l) => l.msg === "listed")) {
      const r = String(l.resource);
      cached[r] = (cached[r] ?? 0) + Number(l.objects);
    }
    return { idleMiB, controlMiB, scopedMiB, cached, addHost };
  } finally {
    await op?.stop();
    await rh.dispose();
    await kube.stop();
  }
}

function stats(xs: number[]): string {
  const s = xs.toSorted((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
  return `${median.toFixed(1)} (${s[0].toFixed(1)}–${s.at(-1)!.toFixed(1)})`;
}

const runs: Run[] = [];
for (let r = 0; r < REPEAT; r++) {
  const run = await once();
  console.log(`run ${r + 1}: ${JSON.stringify(run)}`);
  runs.push(run);
}
console.log(
  `\n## Scoped operator: ${TOTAL} objects in the cluster, ${IN_SCOPE} in scope, ${REPEAT} runs (median (min–max))`,
);
const line = (label: string, xs: number[]) => console.log(`${label.padEnd(52)} ${stats(xs)}`);
line("idle, no objects (MiB)", runs.map((r) => r.idleMiB));
line(`${IN_SCOPE} in scope, nothing else (MiB)`, runs.map((r) => r.controlMiB));
line(`${IN_SCOPE} in scope of ${TOTAL} (MiB)`, runs.map((r) => r.scopedMiB));
line(`${IN_SCOPE} of ${TOTAL} minus idle (MiB)`, runs.map((r) => r.scopedMiB - r.idleMiB));
line(
  `${IN_SCOPE} of ${TOTAL} minus ${IN_SCOPE} alone (MiB)`,
  runs.map((r) => r.scopedMiB - r.controlMiB),
);
await Deno.mkdir("bench/results", { recursive: true });
const file = `bench/results/scope-${new Date().toISOString().replace(/[:.]/g, "-")}.json`;
await Deno.writeTextFile(
  file,
  JSON.stringify(
    { date: new Date().toISOString(), total: TOTAL, inScope: IN_SCOPE, runs },
    null,
    2,
  ),
);
console.log(`results: ${file}`);
