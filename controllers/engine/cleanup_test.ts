import { status } from "@grpc/grpc-js";
import { FakeHosts } from "../../tests/fakes/router_hosts.ts";
import { harness, IP, KEY } from "../../tests/fakes/source_engine.ts";
import { B, ingressRoute as route } from "../../tests/fakes/traefik.ts";
import { assertEquals, assertMatch, assertOk, assertRejects } from "../../tests/assert.ts";
import { RouterHostsError } from "../../grpc/errors.ts";
import { HOST_IDS_ANNOTATION } from "./host_ids.ts";
import type { Claims } from "./source.ts";
import { INGRESSROUTE } from "../sources/ingressroute.ts";
import { DEFAULT_POLICY, type Policy } from "../hosts/policy.ts";

const INGRESSROUTE_FINALIZER = INGRESSROUTE.finalizer;

const TAGS = ["kubernetes", "traefik", "ingress"];
const hostRule = (...names: string[]) => names.map((n) => `Host(${B}${n}${B})`).join(" || ");

const policy = (p: Partial<Policy>): Policy => ({ ...DEFAULT_POLICY, ...p });

Deno.test("delete: all tracked entries deleted, then the finalizer removed", async () => {
  const h = harness(route([hostRule("a.lan", "b.lan")]));
  await h.run();
  h.kube.edit((o) => o.metadata!.deletionTimestamp = "2026-01-01T00:00:00Z");
  await h.run();
  assertEquals(h.hosts.entries.size, 0);
  assertEquals(h.kube.obj.metadata!.finalizers, []);
  assertEquals(h.tracked.get(KEY), 0);
});

Deno.test("delete: already gone (NOT_FOUND) counts as done", async () => {
  const h = harness(route([hostRule("a.lan")]));
  await h.run();
  h.hosts.entries.clear();
  h.kube.edit((o) => o.metadata!.deletionTimestamp = "2026-01-01T00:00:00Z");
  await h.run();
  assertEquals(h.kube.obj.metadata!.finalizers, []);
});

Deno.test("delete: server down → finalizer kept, ids kept; later it finishes", async () => {
  const h = harness(route([hostRule("a.lan", "b.lan")]));
  await h.run();
  const ids = h.kube.annotation();
  h.kube.edit((o) => o.metadata!.deletionTimestamp = "2026-01-01T00:00:00Z");
  h.hosts.down = true;
  const e = await assertRejects(() => h.run());
  assertMatch(e.message, /finalizer kept/);
  assertEquals(h.kube.obj.metadata!.finalizers, [INGRESSROUTE_FINALIZER]);
  assertEquals(h.kube.annotation(), ids);
  assertEquals(h.events.reasons(), ["SyncFailed"]);
  h.hosts.down = false;
  await h.run();
  assertEquals(h.hosts.entries.size, 0);
  assertEquals(h.kube.obj.metadata!.finalizers, []);
});

Deno.test("delete: one failure keeps only that id in the annotation", async () => {
  const h = harness(route([hostRule("a.lan", "b.lan")]));
  await h.run();
  const bId = h.hosts.byHostname()["b.lan"].id;
  h.kube.edit((o) => o.metadata!.deletionTimestamp = "2026-01-01T00:00:00Z");
  const orig = h.hosts.deleteHost.bind(h.hosts);
  h.hosts.deleteHost = (id) =>
    id === bId
      ? Promise.reject(
        new RouterHostsError({
          code: status.INTERNAL,
          method: "DeleteHost",
          address: "x",
          serverMessage: "boom",
        }),
      )
      : orig(id);
  await assertRejects(() => h.run());
  assertEquals(h.kube.annotation(), { "b.lan": bId });
  assertEquals(h.kube.obj.metadata!.finalizers, [INGRESSROUTE_FINALIZER]);
});

Deno.test("delete: entries of ours the annotation missed are found by comment and deleted", async () => {
  const hosts = new FakeHosts();
  hosts.add({ ipAddress: IP, hostname: "lost.lan", comment: "k8s-ingress:apps/web", tags: TAGS });
  const foreign = hosts.add({
    ipAddress: IP,
    hostname: "x.lan",
    comment: "k8s-ingress:apps/web",
    tags: ["manual"],
  });
  const h = harness(
    route([hostRule("a.lan")], {
      finalizers: [INGRESSROUTE_FINALIZER],
      deletionTimestamp: "2026-01-01T00:00:00Z",
    }),
    { hosts },
  );
  await h.run();
  assertEquals([...hosts.entries.keys()], [foreign.id]);
  assertEquals(h.kube.obj.metadata!.finalizers, []);
});

Deno.test("same name in both kinds: entries the other kind tracks or wants are left to it", async () => {
  const hosts = new FakeHosts();
  const shared = hosts.add({
    ipAddress: IP,
    hostname: "db.lan",
    comment: "k8s-ingress:apps/web",
    tags: TAGS,
  });
  const claims: Claims = { ids: new Set([shared.id]), hostnames: new Set(["db.lan"]) };
  const h = harness(
    route([hostRule("a.lan")], {
      finalizers: [INGRESSROUTE_FINALIZER],
      annotations: { [HOST_IDS_ANNOTATION]: JSON.stringify({ "db.lan": shared.id }) },
    }),
    { hosts, claims },
  );
  await h.run();
  assertOk(hosts.entries.has(shared.id), "not deleted as stale");
  assertEquals(Object.keys(h.kube.annotation()!), ["a.lan"]);
  h.kube.edit((o) => o.metadata!.deletionTimestamp = "2026-01-01T00:00:00Z");
  await h.run();
  assertEquals([...hosts.entries.keys()], [shared.id], "nor by the cleanup sweep");
});

Deno.test("policy: upsert-only with our finalizer left from sync: delete keeps entries, drops it", async () => {
  const h = harness(route([hostRule("a.lan")]));
  await h.run();
  const up = harness(h.kube.obj, { hosts: h.hosts, policy: policy({ mode: "upsert-only" }) });
  up.kube.edit((o) => o.metadata!.deletionTimestamp = "2026-01-01T00:00:00Z");
  await up.run();
  assertEquals(up.kube.obj.metadata!.finalizers, []);
  assertEquals(Object.values(up.hosts.byHostname()).map((e) => e.tags), [[...TAGS, "retained"]]);
});

Deno.test("policy: on-delete: retain keeps the entries, tags them retained, removes the finalizer", async () => {
  const h = harness(route([hostRule("a.lan", "b.lan")]));
  await h.run();
  h.kube.edit((o) => {
    o.metadata!.annotations = {
      ...o.metadata!.annotations,
      "router-hosts.fzymgc.house/on-delete": "retain",
    };
    o.metadata!.deletionTimestamp = "2026-01-01T00:00:00Z";
  });
  await h.run();
  assertEquals(h.kube.obj.metadata!.finalizers, []);
  assertEquals(h.hosts.entries.size, 2);
  for (const e of h.hosts.entries.values()) assertEquals(e.tags, [...TAGS, "retained"]);
});
