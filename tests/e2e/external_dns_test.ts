/**
 * router-hosts as an external-dns backend, end to end: the real external-dns
 * binary (Service and Ingress sources, `--provider=webhook`,
 * `--registry=noop`) against the bed's kube-apiserver, talking to the
 * operator's `--webhook-bind-address`, which writes to the router-hosts
 * server. Both `--once` runs and a looping run.
 */
import type { HostEntry } from "../../grpc/hosts_port.ts";
import { assertEquals, assertMatch, assertOk } from "../assert.ts";
import { join } from "node:path";
import { parseConfig } from "../../config.ts";
import {
  ensureGoTool,
  freePort,
  type KubeTestbed,
  ROOT,
  startKube,
  uniqueName,
} from "../testbed/mod.ts";
import {
  externalDnsChartDir,
  runExternalDnsOnce,
  startExternalDns,
} from "../testbed/external_dns.ts";
import { eventually, metricSum, type OperatorProcess } from "../testbed/operator.ts";
import { type Bed, bedTest } from "../testbed/bed.ts";
import { grpcCalls, settleWrites } from "../testbed/observe.ts";

const MEDIA_TYPE = "application/external.dns.webhook+json;version=1";
const HOSTNAME_ANNOTATION = "external-dns.alpha.kubernetes.io/hostname";
const WRITES = ["AddHost", "UpdateHost", "DeleteHost"];

function servicePath(ns: string, name?: string): string {
  return `/api/v1/namespaces/${ns}/services${name ? `/${name}` : ""}`;
}

function ingressPath(ns: string, name?: string): string {
  return `/apis/networking.k8s.io/v1/namespaces/${ns}/ingresses${name ? `/${name}` : ""}`;
}

/** A LoadBalancer Service with the hostname annotation; its address is written by the test. */
async function createService(
  kube: KubeTestbed,
  ns: string,
  name: string,
  hostnames: string,
  ip: string,
): Promise<void> {
  await kube.postJson(servicePath(ns), {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, annotations: { [HOSTNAME_ANNOTATION]: hostnames } },
    spec: {
      type: "LoadBalancer",
      allocateLoadBalancerNodePorts: false,
      selector: { app: name },
      ports: [{ port: 80 }],
    },
  });
  await setLoadBalancerIp(kube, servicePath(ns, name), ip);
}

/** Writes status.loadBalancer.ingress, as a load balancer controller would. */
async function setLoadBalancerIp(kube: KubeTestbed, path: string, ip: string): Promise<void> {
  await kube.mergePatchJson(`${path}/status`, { status: { loadBalancer: { ingress: [{ ip }] } } });
}

/** Entries on the server for these names, by "name ip". */
async function entriesFor(bed: Bed, names: string[]): Promise<Map<string, HostEntry>> {
  const all = await bed.hosts.listHosts();
  return new Map(
    all.filter((e) => names.includes(e.hostname)).map((e) => [`${e.hostname} ${e.ipAddress}`, e]),
  );
}

/** Sum of the operator's router-hosts write calls so far, without the settle writes. */
async function writeCalls(op: OperatorProcess): Promise<number> {
  const text = await op.metrics();
  return WRITES.reduce((n, m) => n + grpcCalls(text, m), 0) - settleWrites(text);
}

bedTest(
  { name: "external-dns webhook provider with the real external-dns" },
  async ({ bed, ops, t }) => {
    const webhookPort = freePort();
    const webhookUrl = `http://127.0.0.1:${webhookPort}`;
    const op = await ops.start({
      args: [`--webhook-bind-address=127.0.0.1:${webhookPort}`, "--domain-filter=home.arpa"],
    });
    const ns = await bed.kube.createNamespace(uniqueName("xdns"));
    const once = async () => {
      const run = await runExternalDnsOnce({ kube: bed.kube, webhookUrl, namespace: ns });
      assertEquals(run.code, 0, `external-dns --once failed; log ${run.logPath}:\n${run.log}`);
      return run;
    };

    // Entries the webhook did not write: a HostMapping's and a person's,
    // the person's with a name a Service asks external-dns to publish below.
    await bed.hm.create(ns, "hm", { hostname: "hm.home.arpa", ip: "10.9.0.1" });
    await bed.hm.waitSynced(ns, "hm");
    const person = await bed.hosts.addHost({
      hostname: "nas.home.arpa",
      ipAddress: "10.9.0.3",
      comment: "the NAS, by hand",
      tags: ["manual"],
    });
    const foreignBefore = (await bed.hosts.listHosts()).filter((e) =>
      e.id === person.id || e.hostname === "hm.home.arpa"
    );
    assertEquals(foreignBefore.length, 2);

    await t.step("GET / negotiates the operator's domain filter", async () => {
      const res = await fetch(`${webhookUrl}/`, { headers: { accept: MEDIA_TYPE } });
      assertEquals(res.headers.get("content-type"), MEDIA_TYPE);
      assertEquals(await res.json(), { include: ["home.arpa"] });
    });

    let ids: string[] = [];
    await t.step("a Service with two hostnames and a LoadBalancer IP → two entries", async () => {
      await createService(bed.kube, ns, "web", "a.home.arpa,b.home.arpa", "10.1.0.1");
      await once();
      const got = await entriesFor(bed, ["a.home.arpa", "b.home.arpa"]);
      const a = got.get("a.home.arpa 10.1.0.1");
      const b = got.get("b.home.arpa 10.1.0.1");
      assertOk(a && b, `entries: ${JSON.stringify([...got.keys()])}`);
      assertEquals([a.comment, a.tags], ["external-dns:a.home.arpa", ["external-dns"]]);
      assertEquals([b.comment, b.tags], ["external-dns:b.home.arpa", ["external-dns"]]);
      ids = [a.id, b.id];
    });

    await t.step("a second run with nothing changed writes nothing", async () => {
      const before = await writeCalls(op);
      await once();
      assertEquals(await writeCalls(op), before);
    });

    await t.step("the IP changes → the same entries are updated in place", async () => {
      await setLoadBalancerIp(bed.kube, servicePath(ns, "web"), "10.1.0.2");
      await once();
      const got = await entriesFor(bed, ["a.home.arpa", "b.home.arpa"]);
      assertEquals(got.get("a.home.arpa 10.1.0.2")?.id, ids[0]);
      assertEquals(got.get("b.home.arpa 10.1.0.2")?.id, ids[1]);
      assertEquals(got.has("a.home.arpa 10.1.0.1") || got.has("b.home.arpa 10.1.0.1"), false);
    });

    await t.step("the annotation is removed → the entries are deleted", async () => {
      await bed.kube.mergePatchJson(servicePath(ns, "web"), {
        metadata: { annotations: { [HOSTNAME_ANNOTATION]: null } },
      });
      await once();
      const got = await entriesFor(bed, ["a.home.arpa", "b.home.arpa"]);
      assertEquals([...got.keys()], []);
    });

    await t.step(
      "an Ingress with two rules → two entries; a name outside the filter is not written",
      async () => {
        await bed.kube.postJson(ingressPath(ns), {
          apiVersion: "networking.k8s.io/v1",
          kind: "Ingress",
          metadata: { name: "shop" },
          spec: {
            rules: ["c.home.arpa", "d.home.arpa", "e.example.com"].map((host) => ({
              host,
              http: {
                paths: [{
                  path: "/",
                  pathType: "Prefix",
                  backend: { service: { name: "shop", port: { number: 80 } } },
                }],
              },
            })),
          },
        });
        await setLoadBalancerIp(bed.kube, ingressPath(ns, "shop"), "10.1.0.5");
        const run = await once();
        const got = await entriesFor(bed, ["c.home.arpa", "d.home.arpa", "e.example.com"]);
        assertEquals([...got.keys()].sort(), ["c.home.arpa 10.1.0.5", "d.home.arpa 10.1.0.5"]);
        // external-dns saw the name; the webhook dropped it at /adjustendpoints
        // (outside its domain filter, with the reason in its one log line for
        // the request), so external-dns never planned it.
        assertMatch(run.log, /Endpoints generated from ingress: .*e\.example\.com/);
        const adjusted = op.logs().find((l) =>
          l.msg === "external-dns webhook request" && l.route === "adjust_endpoints" &&
          JSON.stringify(l.droppedSample ?? []).includes("e.example.com")
        );
        assertOk(adjusted, "no /adjustendpoints log line dropping e.example.com");
        assertEquals(
          (adjusted.dropped as Record<string, number>).outside_domain_filter,
          1,
          JSON.stringify(adjusted),
        );
        // And the webhook refuses it on its own when asked directly.
        const res = await fetch(`${webhookUrl}/records`, {
          method: "POST",
          headers: { "content-type": MEDIA_TYPE },
          body: JSON.stringify({
            create: [{ dnsName: "e.example.com", recordType: "A", targets: ["10.1.0.5"] }],
          }),
        });
        assertEquals(res.status, 204);
        assertEquals((await entriesFor(bed, ["e.example.com"])).size, 0);
      },
    );

    await t.step(
      "a name a person holds at another IP: refused, no entry beside theirs, external-dns told",
      async () => {
        await createService(bed.kube, ns, "nas", "nas.home.arpa", "10.1.0.9");
        const run = await runExternalDnsOnce({ kube: bed.kube, webhookUrl, namespace: ns });
        // A 500 is external-dns's soft error: retried on its next sync, so
        // the name is taken once the person deletes theirs. --once exits 1.
        assertEquals(run.code !== 0, true, run.log);
        assertEquals([...(await entriesFor(bed, ["nas.home.arpa"])).keys()], [
          "nas.home.arpa 10.9.0.3",
        ]);
        await bed.kube.deleteJson(servicePath(ns, "nas"));
      },
    );

    await t.step(
      "entries not written by the webhook are never listed and never changed",
      async () => {
        const res = await fetch(`${webhookUrl}/records`, { headers: { accept: MEDIA_TYPE } });
        const records = await res.json() as Array<{ dnsName: string; targets: string[] }>;
        assertEquals(
          records.map((r) => `${r.dnsName} ${r.targets.join(",")}`).sort(),
          ["c.home.arpa 10.1.0.5", "d.home.arpa 10.1.0.5"],
        );
        const after = (await bed.hosts.listHosts()).filter((e) =>
          foreignBefore.some((f) => f.id === e.id)
        );
        assertEquals(after, foreignBefore);
      },
    );

    await t.step(
      "looping external-dns: follows changes, and idle syncs write nothing",
      async () => {
        const loop = await startExternalDns({ kube: bed.kube, webhookUrl, namespace: ns });
        try {
          await createService(bed.kube, ns, "loop", "loop.home.arpa", "10.1.0.7");
          await eventually(
            "loop.home.arpa written by the looping external-dns",
            async () => (await entriesFor(bed, ["loop.home.arpa"])).has("loop.home.arpa 10.1.0.7"),
            60_000,
          );
          const recordsRead = async () =>
            metricSum(
              await op.metrics(),
              "router_hosts_webhook_requests_total",
              'endpoint="records"',
              'outcome="ok"',
            );
          // Observe three further full syncs (each reads GET /records) with no change.
          const writesBefore = await writeCalls(op);
          const readsBefore = await recordsRead();
          await eventually(
            "three more external-dns syncs",
            async () => (await recordsRead()) >= readsBefore + 3,
            60_000,
          );
          assertEquals(await writeCalls(op), writesBefore);
          await bed.kube.deleteJson(servicePath(ns, "loop"));
          await eventually(
            "loop.home.arpa deleted by the looping external-dns",
            async () => (await entriesFor(bed, ["loop.home.arpa"])).size === 0,
            60_000,
          );
        } finally {
          await loop.stop();
        }
      },
    );

    await t.step(
      "why --registry=noop: with txt, external-dns never updates what it created",
      async () => {
        // The TXT ownership records cannot be stored in a hosts file (the
        // webhook drops them), so the txt registry finds no owner on the next
        // sync and skips the record: the IP change below never lands.
        const txt = { kube: bed.kube, webhookUrl, namespace: ns, registry: "txt" };
        await createService(bed.kube, ns, "txt", "txt.home.arpa", "10.1.0.8");
        const first = await runExternalDnsOnce(txt);
        assertEquals(first.code, 0, first.log);
        assertEquals([...(await entriesFor(bed, ["txt.home.arpa"])).keys()], [
          "txt.home.arpa 10.1.0.8",
        ]);
        await setLoadBalancerIp(bed.kube, servicePath(ns, "txt"), "10.1.0.9");
        const second = await runExternalDnsOnce(txt);
        assertEquals(second.code, 0, second.log);
        assertMatch(second.log, /Skipping endpoint txt\.home\.arpa .* owner id does not match/);
        assertEquals([...(await entriesFor(bed, ["txt.home.arpa"])).keys()], [
          "txt.home.arpa 10.1.0.8",
        ]);
        // The noop registry then takes it over (the entry is the webhook's).
        await bed.kube.deleteJson(servicePath(ns, "txt"));
        await once();
        assertEquals((await entriesFor(bed, ["txt.home.arpa"])).size, 0);
      },
    );

    await t.step("metrics per endpoint and outcome", async () => {
      const text = await op.metrics();
      for (const endpoint of ["negotiate", "records", "adjust_endpoints", "apply_changes"]) {
        assertOk(
          metricSum(
            text,
            "router_hosts_webhook_requests_total",
            `endpoint="${endpoint}"`,
            'outcome="ok"',
          ) > 0,
          `no ok ${endpoint} requests counted`,
        );
      }
      assertOk(
        metricSum(
          text,
          "router_hosts_webhook_changes_total",
          'action="update"',
          'outcome="success"',
        ) >= 2,
      );
    });
  },
);

bedTest({
  name: "external-dns webhook alone (--controllers=false): a sidecar without Kubernetes access",
}, async ({ bed, ops }) => {
  const webhookPort = freePort();
  const webhookUrl = `http://127.0.0.1:${webhookPort}`;
  const op = await ops.start({
    name: "webhook-only",
    // A kubeconfig that does not exist: the webhook alone never reads it.
    args: [
      `--webhook-bind-address=127.0.0.1:${webhookPort}`,
      "--controllers=false",
      "--kubeconfig=/nonexistent/kubeconfig",
    ],
  });
  const ns = await bed.kube.createNamespace(uniqueName("xdns-solo"));
  await createService(bed.kube, ns, "solo", "solo.home.arpa", "10.1.1.1");
  const run = await runExternalDnsOnce({ kube: bed.kube, webhookUrl, namespace: ns });
  assertEquals(run.code, 0, `external-dns --once failed; log ${run.logPath}:\n${run.log}`);
  const got = await entriesFor(bed, ["solo.home.arpa"]);
  assertEquals([...got.keys()], ["solo.home.arpa 10.1.1.1"]);
  // No controller ran: no controller's metric series exist.
  assertEquals((await op.metrics()).includes('controller="hostmapping"'), false);
});

Deno.test({
  name: "the sidecar recipe renders with external-dns's chart and passes the API server",
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  const helm = (await ensureGoTool("helm")).path;
  const chart = await externalDnsChartDir();
  const recipe = join(ROOT, "examples", "external-dns", "values.yaml");
  const rendered = await new Deno.Command(helm, {
    args: ["template", "external-dns", chart, "--namespace", "external-dns", "-f", recipe],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  assertEquals(rendered.code, 0, dec.decode(rendered.stderr));
  const kube = await startKube();
  try {
    await kube.createNamespace("external-dns");
    const applied = await kube.kubectl(
      ["apply", "--dry-run=server", "-o", "json", "-f", "-"],
      { stdin: dec.decode(rendered.stdout) },
    );
    assertEquals(applied.code, 0, applied.stderr);
    const parsed = JSON.parse(applied.stdout) as {
      items: Array<{ kind: string; spec?: { template: { spec: PodSpec } } }>;
    };
    interface Container {
      name: string;
      args: string[];
      ports: { name: string; containerPort: number }[];
      readinessProbe: { httpGet: { path: string; port: string } };
    }
    interface PodSpec {
      containers: Container[];
    }
    const pod = parsed.items.find((o) => o.kind === "Deployment")!.spec!.template.spec;
    const webhook = pod.containers.find((c) => c.name === "webhook")!;
    const xdns = pod.containers.find((c) => c.name === "external-dns")!;
    // The args are the operator's own flags, valid as written.
    const config = parseConfig(webhook.args);
    assertEquals(
      [config.controllers, config.webhookBindAddress, config.policy.domainFilter],
      [false, "127.0.0.1:8888", ["home.arpa"]],
    );
    // The chart probes /healthz on the http-webhook port: the operator's probe listener.
    const probe = webhook.readinessProbe.httpGet;
    assertEquals([probe.path, probe.port], ["/healthz", "http-webhook"]);
    const port = webhook.ports.find((p) => p.name === "http-webhook")!.containerPort;
    assertEquals([config.healthProbeBindAddress, config.metricsBindAddress], [
      `:${port}`,
      `:${port}`,
    ]);
    // external-dns talks to the default URL, our bind address, with the noop registry.
    assertEquals(xdns.args.some((a) => a.startsWith("--webhook-provider-url")), false);
    assertOk(xdns.args.includes("--provider=webhook") && xdns.args.includes("--registry=noop"));
  } finally {
    await kube.stop();
  }
});
