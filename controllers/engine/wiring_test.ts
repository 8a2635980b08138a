import { Registry } from "prom-client";
import { assertEquals } from "../../tests/assert.ts";
import { FakeObjectApi } from "../../tests/fakes/kube_objects.ts";
import { FakeHosts } from "../../tests/fakes/router_hosts.ts";
import { Events } from "../../tests/fakes/source_engine.ts";
import { B, ingressRoute } from "../../tests/fakes/traefik.ts";
import { withUnits } from "../../tests/fakes/units.ts";
import { eventually } from "../../tests/testbed/operator.ts";
import { objectPath } from "../../k8s/resource.ts";
import { Logger } from "../../observability/log.ts";
import { Metrics } from "../../observability/metrics.ts";
import { ConflictBoard } from "../hosts/policy.ts";
import { INGRESSROUTE, INGRESSROUTETCP } from "../sources/ingressroute.ts";
import { createSourceUnits } from "./wiring.ts";

const quiet = new Logger({ level: "error", sink: () => {} });

function setup() {
  const kube = new FakeObjectApi();
  const hosts = new FakeHosts();
  const metrics = new Metrics(new Registry());
  const units = createSourceUnits([INGRESSROUTE, INGRESSROUTETCP], {
    kube,
    hosts,
    events: new Events(),
    log: quiet,
    metrics,
    workers: 2,
    resyncPeriodMs: 0,
    defaultIngressIP: "10.2.0.1",
    conflicts: new ConflictBoard(),
  });
  const gauge = async (family: "managedHosts" | "hostnameConflicts", controller: string) =>
    (await metrics[family].get()).values.find((v) => v.labels.controller === controller)?.value;
  const route = (name: string, ...hosts: string[]) => {
    const obj = ingressRoute([hosts.map((h) => `Host(${B}${h}${B})`).join(" || ")], { name });
    const path = objectPath(INGRESSROUTE.resource, "apps", name);
    kube.put(path, obj);
    return path;
  };
  return { kube, hosts, units, gauge, route };
}

Deno.test("wiring: entries converge, router_hosts_managed_hosts counts them, deletion drops both", async () => {
  const t = setup();
  assertEquals(await t.gauge("managedHosts", "ingressroute"), 0, "the series exists at once");
  await withUnits(t.units, async () => {
    const path = t.route("web", "a.lan", "b.lan");
    await eventually("2 entries", () => t.hosts.entries.size === 2);
    await eventually("gauge 2", async () => (await t.gauge("managedHosts", "ingressroute")) === 2);
    t.kube.delete(path);
    await eventually("object gone", () => t.kube.get(path) === undefined);
    assertEquals(t.hosts.entries.size, 0);
    await eventually("gauge 0", async () => (await t.gauge("managedHosts", "ingressroute")) === 0);
  });
});

Deno.test("wiring: a conflict's loser waits (gauge 1) and takes over when the holder goes", async () => {
  const t = setup();
  await withUnits(t.units, async () => {
    const first = t.route("first", "shared.lan");
    await eventually("first holds it", () => t.hosts.entries.size === 1);
    t.route("second", "shared.lan");
    await eventually(
      "second waits",
      async () => (await t.gauge("hostnameConflicts", "ingressroute")) === 1,
    );
    t.kube.delete(first);
    await eventually(
      "second takes over",
      () => [...t.hosts.entries.values()].some((e) => e.comment === "k8s-ingress:apps/second"),
    );
    await eventually(
      "no conflict left",
      async () => (await t.gauge("hostnameConflicts", "ingressroute")) === 0,
    );
  });
});
