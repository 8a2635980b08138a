import { status } from "@grpc/grpc-js";
import { assertEquals, assertOk } from "../../tests/assert.ts";
import { RouterHostsError } from "../../grpc/errors.ts";
import { TerminalError } from "../../k8s/controller.ts";
import { hostMappingRig as rig } from "../../tests/fakes/hostmapping.ts";
import { HOSTMAPPING_FINALIZER } from "./view.ts";
import { Registry } from "prom-client";
import { Logger } from "../../observability/log.ts";
import { Metrics } from "../../observability/metrics.ts";
import { FakeObjectApi } from "../../tests/fakes/kube_objects.ts";
import { hostMappingPath } from "../../tests/fakes/hostmapping.ts";
import { FakeHosts } from "../../tests/fakes/router_hosts.ts";
import { withUnits } from "../../tests/fakes/units.ts";
import { eventually } from "../../tests/testbed/operator.ts";
import { createHostMappingUnit } from "./controller.ts";

Deno.test("reconciler: create → finalizer, AddHost, ONE status write with reason Created", async () => {
  const r = rig({ spec: { hostname: "nas.lan", ip: "10.0.0.5", tags: ["storage"] } });
  assertEquals(await r.reconcile(), undefined);
  assertEquals(r.object()!.metadata!.finalizers, [HOSTMAPPING_FINALIZER]);
  assertEquals(r.api.writes, [`PATCH ${r.path}`, `PATCH ${r.path}/status`]);
  const s = r.status();
  assertEquals(s.phase, "Synced");
  const entry = r.hosts.entries.get(s.hostId!)!;
  assertEquals(
    [entry.hostname, entry.ipAddress, entry.comment, entry.tags],
    ["nas.lan", "10.0.0.5", "k8s:home/nas", ["storage"]],
  );
  assertEquals(s.hostVersion, entry.version);
  assertEquals([r.synced().status, r.synced().reason, r.synced().observedGeneration], [
    "True",
    "Created",
    1,
  ]);
  assertEquals(r.gauges.managed, 1, "router_hosts_managed_hosts");

  // A periodic resync finds everything as it was: one read, no write, reason stays Created.
  r.hosts.calls = [];
  assertEquals(await r.reconcile(), undefined);
  assertEquals(r.hosts.calls, ["GetHost"]);
  assertEquals(r.api.writes.length, 2);
  assertEquals(r.synced().reason, "Created");
});

Deno.test("reconciler: a spec change → UpdateHost at the version read, reason Updated", async () => {
  const r = rig();
  await r.reconcile();
  const id = r.status().hostId!;
  r.edit({ ip: "10.0.0.6", aliases: ["files.lan"] });
  r.hosts.calls = [];
  assertEquals(await r.reconcile(), undefined);
  assertEquals(r.hosts.calls, ["GetHost", "UpdateHost"]);
  assertEquals(r.status().hostId, id, "the same entry, changed in place");
  assertEquals(r.hosts.entries.get(id)!.ipAddress, "10.0.0.6");
  assertEquals(r.status().hostVersion, r.hosts.entries.get(id)!.version);
  assertEquals([r.synced().reason, r.synced().observedGeneration], ["Updated", 2]);
});

Deno.test("reconciler: a spec change the entry already matches → AlreadyInSync, no UpdateHost", async () => {
  const r = rig({ spec: { hostname: "nas.lan", ip: "10.0.0.5", tags: ["a", "b"] } });
  await r.reconcile();
  r.edit({ tags: ["b", "a"] });
  r.hosts.calls = [];
  assertEquals(await r.reconcile(), undefined);
  assertEquals(r.hosts.calls, ["GetHost"]);
  assertEquals([r.synced().reason, r.synced().observedGeneration], ["AlreadyInSync", 2]);
});

Deno.test("reconciler: server down → ServerUnavailable, retried (not terminal); back → AlreadyInSync", async () => {
  const r = rig();
  await r.reconcile();
  const id = r.status().hostId;
  r.hosts.down = true;
  const err = await r.reconcile();
  assertOk(err instanceof RouterHostsError, String(err));
  assertOk(!(err instanceof TerminalError));
  assertEquals([r.status().phase, r.synced().status, r.synced().reason], [
    "Error",
    "False",
    "ServerUnavailable",
  ]);
  assertEquals(r.status().hostId, id, "the id is kept through an outage");
  assertEquals(r.events.map((e) => [e.type, e.reason]), [["Warning", "SyncFailed"]]);
  r.hosts.down = false;
  assertEquals(await r.reconcile(), undefined);
  assertEquals([r.status().phase, r.synced().status, r.synced().reason], [
    "Synced",
    "True",
    "AlreadyInSync",
  ]);
});

Deno.test("reconciler: our own entry without a recorded id is adopted and converged (Adopted)", async () => {
  const r = rig({ spec: { hostname: "nas.lan", ip: "10.0.0.5", tags: ["storage"] } });
  const mine = r.hosts.add({ ipAddress: "10.0.0.5", hostname: "nas.lan", comment: "k8s:home/nas" });
  assertEquals(await r.reconcile(), undefined);
  assertEquals(r.hosts.calls, ["SearchHosts", "UpdateHost"]);
  assertEquals(r.status().hostId, mine.id);
  assertEquals(r.hosts.entries.get(mine.id)!.tags, ["storage"]);
  assertEquals(r.hosts.entries.size, 1);
  assertEquals(r.synced().reason, "Adopted");
});

Deno.test("reconciler: someone else's entry is never taken: AdoptionRefused, terminal, untouched", async () => {
  const r = rig();
  const theirs = r.hosts.add({ ipAddress: "10.0.0.5", hostname: "nas.lan", comment: "manual" });
  const err = await r.reconcile();
  assertOk(err instanceof TerminalError, String(err));
  assertEquals([r.status().phase, r.synced().reason], ["Error", "AdoptionRefused"]);
  assertEquals(r.status().hostId, undefined);
  assertEquals(r.hosts.entries.get(theirs.id), theirs);
  assertEquals(r.events.map((e) => [e.type, e.reason]), [["Warning", "AdoptionRefused"]]);
  assertOk(!r.hosts.calls.includes("UpdateHost") && !r.hosts.calls.includes("DeleteHost"));
});

Deno.test("reconciler: an entry deleted out of band is recreated (Recreated Event, reason Created)", async () => {
  const r = rig();
  await r.reconcile();
  const old = r.status().hostId!;
  r.hosts.entries.delete(old);
  assertEquals(await r.reconcile(), undefined);
  const now = r.status().hostId!;
  assertOk(now !== old && r.hosts.entries.has(now));
  assertEquals(r.synced().reason, "Created");
  assertEquals(r.events.map((e) => [e.type, e.reason]), [["Normal", "Recreated"]]);
});

Deno.test("reconciler: each failing call has its reason; only a refused spec is terminal", async () => {
  const cases: [string, number, string, boolean, boolean][] = [
    // method, code, reason, terminal, entry already created
    ["AddHost", status.INVALID_ARGUMENT, "InvalidSpec", true, false],
    ["AddHost", status.INTERNAL, "CreateFailed", false, false],
    ["GetHost", status.INTERNAL, "PreflightReadFailed", false, true],
    ["UpdateHost", status.INTERNAL, "UpdateFailed", false, true],
    ["UpdateHost", status.INVALID_ARGUMENT, "InvalidSpec", true, true],
  ];
  for (const [method, code, reason, terminal, created] of cases) {
    const r = rig();
    if (created) {
      await r.reconcile();
      r.edit({ ip: "10.0.0.9" });
    }
    r.hosts.failing.set(method, code);
    const err = await r.reconcile();
    assertOk(err instanceof Error, `${method}: ${err}`);
    assertEquals(err instanceof TerminalError, terminal, `${method} ${code} terminal`);
    assertEquals([r.status().phase, r.synced().reason], ["Error", reason], `${method} ${code}`);
  }
});

Deno.test("reconciler: ALREADY_EXISTS whose owner cannot be found again → AdoptionFailed", async () => {
  const r = rig();
  r.hosts.add({ ipAddress: "10.0.0.5", hostname: "nas.lan", comment: "k8s:home/nas" });
  r.hosts.failing.set("SearchHosts", status.INTERNAL);
  assertOk(!((await r.reconcile()) instanceof TerminalError));
  assertEquals(r.synced().reason, "AdoptionFailed");
  r.hosts.failing.clear();
  // The entry vanished between AddHost and SearchHosts: the AddHost error is reported.
  const racing = rig();
  const entry = racing.hosts.add({
    ipAddress: "10.0.0.5",
    hostname: "nas.lan",
    comment: "k8s:home/nas",
  });
  // Not there yet for the first look, gone again after AddHost's ALREADY_EXISTS.
  const search = racing.hosts.searchHosts.bind(racing.hosts);
  let looks = 0;
  racing.hosts.searchHosts = (q) => {
    if (looks++ === 0) return Promise.resolve([]);
    racing.hosts.entries.delete(entry.id);
    return search(q);
  };
  await racing.reconcile();
  assertEquals(racing.synced().reason, "AdoptionFailed");
});

Deno.test("reconciler: deletion deletes the recorded entry, then releases the finalizer", async () => {
  const r = rig();
  await r.reconcile();
  const id = r.status().hostId!;
  r.delete();
  assertEquals(await r.reconcile(), undefined);
  assertEquals(r.hosts.entries.has(id), false);
  assertEquals(r.object(), undefined, "the object is gone once the finalizer is removed");
  assertEquals(r.gauges.managed, 0, "router_hosts_managed_hosts");
});

Deno.test("reconciler: a failed cleanup keeps the finalizer, reason DeleteFailed, retried", async () => {
  const r = rig();
  await r.reconcile();
  const id = r.status().hostId!;
  r.delete();
  r.hosts.down = true;
  const err = await r.reconcile();
  assertOk(err instanceof RouterHostsError && !(err instanceof TerminalError));
  assertEquals(r.object()!.metadata!.finalizers, [HOSTMAPPING_FINALIZER]);
  assertEquals([r.status().phase, r.synced().reason], ["Error", "DeleteFailed"]);
  assertOk(r.status().message!.startsWith("cleanup of the host entry failed, finalizer kept"));
  r.hosts.down = false;
  assertEquals(await r.reconcile(), undefined);
  assertEquals([r.hosts.entries.has(id), r.object()], [false, undefined]);
});

Deno.test("reconciler: deletion without a recorded id deletes only our untracked entries", async () => {
  const r = rig();
  // A crash between AddHost and the status write left our entry without a recorded id.
  const ours = r.hosts.add({ ipAddress: "10.0.0.5", hostname: "nas.lan", comment: "k8s:home/nas" });
  const theirs = r.hosts.add({ ipAddress: "10.0.0.5", hostname: "nas.lan", comment: "manual" });
  const other = r.hosts.add({
    ipAddress: "10.0.0.5",
    hostname: "nas.lan.x",
    comment: "k8s:home/nas",
  });
  const o = r.object()!;
  o.metadata!.finalizers = [HOSTMAPPING_FINALIZER];
  r.api.put(r.path, o);
  r.delete();
  assertEquals(await r.reconcile(), undefined);
  assertEquals(r.hosts.entries.has(ours.id), false);
  assertEquals(r.hosts.entries.get(theirs.id), theirs, "someone else's entry is left alone");
  assertEquals(r.hosts.entries.get(other.id), other, "only an exact ip+hostname match");
  assertEquals(r.object(), undefined);
});

Deno.test("unit: a HostMapping is synced and counted; deleted, its entry and count go", async () => {
  const kube = new FakeObjectApi();
  const hosts = new FakeHosts();
  const metrics = new Metrics(new Registry());
  const managed = async () =>
    (await metrics.managedHosts.get()).values.find((v) => v.labels.controller === "hostmapping")
      ?.value;
  const unit = createHostMappingUnit({
    kube,
    hosts,
    events: { event: () => {} },
    log: new Logger({ level: "error", sink: () => {} }),
    metrics,
    workers: 1,
    resyncPeriodMs: 0,
  });
  assertEquals(await managed(), 0);
  await withUnits([unit], async () => {
    const path = hostMappingPath("nas");
    kube.put(path, {
      apiVersion: "router-hosts.fzymgc.house/v1alpha1",
      kind: "HostMapping",
      metadata: { name: "nas", namespace: "home", uid: "u1", generation: 1 },
      spec: { hostname: "nas.lan", ip: "10.0.0.5" },
    });
    await eventually(
      "Synced",
      () => (kube.get(path)?.status as { phase?: string } | undefined)?.phase === "Synced",
    );
    await eventually("counted", async () => (await managed()) === 1);
    kube.delete(path);
    await eventually("gone", () => kube.get(path) === undefined);
    assertEquals(hosts.entries.size, 0);
    await eventually("uncounted", async () => (await managed()) === 0);
  });
});
