import { FakeHosts } from "../../tests/fakes/router_hosts.ts";
import { harness, IP, KEY } from "../../tests/fakes/source_engine.ts";
import { B, ingressRoute as route } from "../../tests/fakes/traefik.ts";
import { assertEquals, assertMatch, assertOk, assertRejects } from "../../tests/assert.ts";
import { KubeApiError } from "../../k8s/client.ts";
import { TerminalError } from "../../k8s/controller.ts";
import { INGRESSROUTE } from "../sources/ingressroute.ts";
import { HOST_IDS_ANNOTATION } from "./host_ids.ts";
import { DEFAULT_POLICY, type Policy } from "../hosts/policy.ts";

const INGRESSROUTE_FINALIZER = INGRESSROUTE.finalizer;

const TAGS = ["kubernetes", "traefik", "ingress"];
const hostRule = (...names: string[]) => names.map((n) => `Host(${B}${n}${B})`).join(" || ");

const policy = (p: Partial<Policy>): Policy => ({ ...DEFAULT_POLICY, ...p });

Deno.test("reconcile: finalizer first, one entry per hostname, ids recorded in the annotation", async () => {
  const h = harness(
    route([hostRule("a.lan", "b.lan"), `Host(${B}c.lan${B}) && PathPrefix(${B}/x${B})`]),
  );
  await h.run();
  assertEquals(h.order[0], `finalizers=${INGRESSROUTE_FINALIZER}`);
  assertEquals(h.order.at(-1), "annotation");
  const byName = h.hosts.byHostname();
  assertEquals(Object.keys(byName).sort(), ["a.lan", "b.lan", "c.lan"]);
  for (const e of Object.values(byName)) {
    assertEquals([e.ipAddress, e.comment, e.tags], [IP, "k8s-ingress:apps/web", TAGS]);
  }
  assertEquals(h.kube.annotation(), {
    "a.lan": byName["a.lan"].id,
    "b.lan": byName["b.lan"].id,
    "c.lan": byName["c.lan"].id,
  });
  assertEquals(h.tracked.get(KEY), 3);
});

Deno.test("reconcile: in sync → only reads, no write to the server or the object", async () => {
  const h = harness(route([hostRule("a.lan", "b.lan")]));
  await h.run();
  const patches = h.kube.patches.length;
  h.hosts.calls = [];
  await h.run();
  assertEquals(h.hosts.calls, ["GetHost", "GetHost"]);
  assertEquals(h.kube.patches.length, patches);
});

Deno.test("reconcile: a removed hostname's entry is deleted; with none left the annotation goes", async () => {
  const h = harness(route([hostRule("a.lan", "b.lan")]));
  await h.run();
  const aId = h.hosts.byHostname()["a.lan"].id;
  h.kube.edit((o) => (o.spec as { routes: unknown[] }).routes = [{ match: hostRule("a.lan") }]);
  await h.run();
  assertEquals(Object.keys(h.hosts.byHostname()), ["a.lan"]);
  assertEquals(h.kube.annotation(), { "a.lan": aId });
  h.kube.edit((o) =>
    (o.spec as { routes: unknown[] }).routes = [{ match: `PathPrefix(${B}/${B})` }]
  );
  await h.run();
  assertEquals(h.hosts.entries.size, 0);
  assertEquals(h.kube.annotation(), undefined);
  assertEquals(h.tracked.get(KEY), 0);
});

Deno.test("reconcile: an entry deleted out of band is recreated, with a Recreated event", async () => {
  const h = harness(route([hostRule("a.lan")]));
  await h.run();
  const old = h.hosts.byHostname()["a.lan"].id;
  h.hosts.entries.delete(old);
  await h.run();
  const now = h.hosts.byHostname()["a.lan"].id;
  assertOk(now !== old);
  assertEquals(h.kube.annotation(), { "a.lan": now });
  assertEquals(h.events.reasons(), ["Recreated"]);
});

Deno.test("reconcile: adopts an entry with our comment and tags; a HostMapping's is a conflict", async () => {
  const hosts = new FakeHosts();
  const mine = hosts.add({
    ipAddress: IP,
    hostname: "a.lan",
    comment: "k8s-ingress:apps/web",
    tags: ["traefik", "ingress"],
  });
  const theirs = hosts.add({
    ipAddress: IP,
    hostname: "b.lan",
    comment: "k8s:apps/b",
    tags: ["traefik", "ingress"],
  });
  const h = harness(route([hostRule("a.lan", "b.lan")]), { hosts });
  await h.run();
  assertEquals(h.kube.annotation(), { "a.lan": mine.id });
  assertEquals(h.hosts.entries.get(mine.id)!.tags, TAGS);
  assertEquals(h.hosts.entries.get(theirs.id), theirs, "never touched");
  assertEquals(h.events.reasons(), ["HostnameConflict"]);
  assertMatch(h.events.list[0].note, /b\.lan.*k8s:apps\/b/);
  assertEquals(h.conflicting.get(KEY), 1);
});

Deno.test("reconcile: an entry a person made for our ip+hostname is refused, not retried", async () => {
  const hosts = new FakeHosts();
  const hand = hosts.add({ ipAddress: IP, hostname: "b.lan", comment: "printer", tags: [] });
  const h = harness(route([hostRule("b.lan")]), { hosts });
  const e = await assertRejects(() => h.run());
  assertOk(e instanceof TerminalError, "refusal is not retried until something changes");
  assertEquals(h.hosts.entries.get(hand.id), hand, "never touched");
  assertEquals(h.events.reasons(), ["AdoptionRefused"]);
  assertEquals(h.conflicting.get(KEY) ?? 0, 0);
});

Deno.test("reconcile: an object without hostnames gets no finalizer and costs no request", async () => {
  const h = harness(route([`PathPrefix(${B}/${B})`]));
  await h.run();
  assertEquals([h.hosts.calls, h.kube.patches], [[], []]);
});

Deno.test("200 hostnames are handled with bounded concurrency", async () => {
  const names = Array.from({ length: 200 }, (_, i) => `h${i}.lan`);
  const h = harness(route([`Host(${names.map((n) => `${B}${n}${B}`).join(", ")})`]));
  let inFlight = 0, peak = 0;
  const orig = h.hosts.addHost.bind(h.hosts);
  h.hosts.addHost = async (x) => {
    peak = Math.max(peak, ++inFlight);
    await new Promise((r) => setTimeout(r, 1));
    try {
      return await orig(x);
    } finally {
      inFlight--;
    }
  };
  await h.run();
  assertEquals(h.hosts.entries.size, 200);
  assertEquals(Object.keys(h.kube.annotation()!).length, 200);
  assertEquals(peak, 8);
});

// ------------------------------------------------ IP sources, selection, aliases (issue 11)

Deno.test("policy: names outside the domain filter are skipped with one Event, never written or deleted", async () => {
  const hosts = new FakeHosts();
  const hand = hosts.add({
    ipAddress: IP,
    hostname: "app.example.com",
    comment: "by hand",
    tags: [],
  });
  const p = policy({ domainFilter: ["home.arpa"] });
  const h = harness(route([hostRule("app.home.arpa", "app.example.com", "x.example.com")]), {
    hosts,
    policy: p,
  });
  await h.run();
  await h.run();
  assertEquals(Object.keys(h.hosts.byHostname()).sort(), ["app.example.com", "app.home.arpa"]);
  assertEquals(h.hosts.entries.get(hand.id), hand);
  assertEquals(h.events.reasons(), ["DomainFiltered"], "one Event per object");
  assertMatch(h.events.list[0].note, /app\.example\.com.*x\.example\.com/);
  h.kube.edit((o) => o.metadata!.deletionTimestamp = "2026-01-01T00:00:00Z");
  await h.run();
  assertEquals(Object.keys(h.hosts.byHostname()), ["app.example.com"]);
  assertEquals(h.hosts.entries.get(hand.id), hand, "a person's entry survives the delete");
});

Deno.test("policy: upsert-only adds no finalizer and deletes nothing; back to sync adds it", async () => {
  const p = policy({ mode: "upsert-only" });
  const h = harness(route([hostRule("a.lan", "b.lan")]), { policy: p });
  await h.run();
  assertEquals(h.kube.obj.metadata!.finalizers ?? [], []);
  assertEquals(h.hosts.entries.size, 2);
  h.kube.edit((o) => (o.spec as { routes: unknown[] }).routes = [{ match: hostRule("a.lan") }]);
  await h.run();
  assertEquals(h.hosts.entries.size, 2, "a removed hostname keeps its entry");
  const sync = harness(h.kube.obj, { hosts: h.hosts });
  await sync.run();
  assertEquals(sync.kube.obj.metadata!.finalizers, [INGRESSROUTE_FINALIZER]);
});

Deno.test("policy: owner id tags entries; another owner's entry is a conflict, never touched", async () => {
  const hosts = new FakeHosts();
  const b = hosts.add({
    ipAddress: IP,
    hostname: "b.lan",
    comment: "k8s-ingress:apps/web",
    tags: [...TAGS, "owner:b"],
  });
  const h = harness(route([hostRule("a.lan", "b.lan")]), {
    hosts,
    policy: policy({ ownerId: "a" }),
  });
  await h.run();
  assertEquals(h.hosts.byHostname()["a.lan"].tags, [...TAGS, "owner:a"]);
  assertEquals(h.hosts.entries.get(b.id), b);
  assertEquals(h.events.reasons(), ["HostnameConflict"]);
  assertMatch(h.events.list[0].note, /owner:b/);
  h.kube.edit((o) => o.metadata!.deletionTimestamp = "2026-01-01T00:00:00Z");
  await h.run();
  assertEquals([...h.hosts.entries.values()], [b], "deleting on a removes only a's entries");
});

Deno.test("policy: adding an owner id adopts and tags the untagged entries, no duplicates", async () => {
  const h = harness(route([hostRule("a.lan")]));
  await h.run();
  const id = h.hosts.byHostname()["a.lan"].id;
  const owned = harness(h.kube.obj, { hosts: h.hosts, policy: policy({ ownerId: "a" }) });
  await owned.run();
  assertEquals(owned.hosts.entries.size, 1);
  assertEquals(owned.hosts.entries.get(id)!.tags, [...TAGS, "owner:a"]);
});

Deno.test("finalizer: a finalizer another controller added meanwhile is never lost", async () => {
  const h = harness(route([hostRule("a.lan")]));
  h.store.apply(KEY, INGRESSROUTE.project(structuredClone(h.kube.obj)));
  h.kube.edit((o) => o.metadata!.finalizers = ["other.io/keep"]);
  const e = await assertRejects(() => h.reconcile());
  assertEquals((e as KubeApiError).status, 422, "the patch's test failed");
  assertEquals(h.kube.obj.metadata!.finalizers, ["other.io/keep"]);
  assertEquals(h.hosts.entries.size, 0, "nothing written before the finalizer is in place");
  await h.run();
  assertEquals(h.kube.obj.metadata!.finalizers, ["other.io/keep", INGRESSROUTE_FINALIZER]);
  h.kube.edit((o) => {
    o.metadata!.finalizers = ["other.io/first", "other.io/keep", INGRESSROUTE_FINALIZER];
    o.metadata!.deletionTimestamp = "2026-01-01T00:00:00Z";
  });
  await h.run();
  assertEquals(h.kube.obj.metadata!.finalizers, ["other.io/first", "other.io/keep"]);
});

Deno.test("scope: an object that left the label selector is released and forgotten", async () => {
  const h = harness(route([hostRule("a.lan", "b.lan")]));
  await h.run();
  assertEquals(h.hosts.entries.size, 2);
  // The label change arrives as DELETED with the object as it now is.
  h.kube.edit((o) => o.metadata!.labels = { router: "other" });
  h.store.apply(KEY, undefined);
  h.departed.apply(KEY, INGRESSROUTE.project(structuredClone(h.kube.obj)));
  await h.reconcile();
  assertEquals(h.hosts.entries.size, 0);
  assertEquals(h.kube.obj.metadata!.finalizers, []);
  assertEquals(h.kube.annotation(), undefined);
  assertEquals(h.departed.has(KEY), false);
  const writes = h.kube.patches.length;
  await h.reconcile();
  assertEquals(h.kube.patches.length, writes, "released once; nothing left to do");
});

Deno.test("scope: a departed object known only from before a relist (stale version) is released", async () => {
  const h = harness(route([hostRule("a.lan")]));
  await h.run();
  const stale = INGRESSROUTE.project(structuredClone(h.kube.obj));
  h.kube.edit((o) => o.metadata!.labels = { router: "other" });
  h.kube.edit((o) => o.metadata!.labels = { router: "other", more: "x" });
  h.store.apply(KEY, undefined);
  h.departed.apply(KEY, stale);
  await h.reconcile();
  assertEquals(h.hosts.entries.size, 0);
  assertEquals(h.kube.annotation(), undefined);
  assertEquals(h.kube.obj.metadata!.finalizers, []);
  assertEquals(h.departed.has(KEY), false);
});

Deno.test("scope: a departed object deleted meanwhile (404) counts as released", async () => {
  const h = harness(route([hostRule("a.lan")]));
  await h.run();
  const gone = INGRESSROUTE.project(structuredClone(h.kube.obj));
  h.kube.request = () => Promise.reject(new KubeApiError("gone", { status: 404 }));
  h.store.apply(KEY, undefined);
  h.departed.apply(KEY, gone);
  await h.reconcile();
  assertEquals(h.hosts.entries.size, 0);
  assertEquals(h.departed.has(KEY), false);
});

Deno.test("scope: a departed object leaves the entries the other kind of the same name holds", async () => {
  const hosts = new FakeHosts();
  const shared = hosts.add({
    ipAddress: IP,
    hostname: "db.lan",
    comment: "k8s-ingress:apps/web",
    tags: TAGS,
  });
  const h = harness(
    route([hostRule("a.lan")], {
      finalizers: [INGRESSROUTE_FINALIZER],
      annotations: { [HOST_IDS_ANNOTATION]: JSON.stringify({ "db.lan": shared.id }) },
    }),
    { hosts, claims: { ids: new Set([shared.id]), hostnames: new Set(["db.lan"]) } },
  );
  await h.run();
  h.store.apply(KEY, undefined);
  h.departed.apply(KEY, INGRESSROUTE.project(structuredClone(h.kube.obj)));
  await h.reconcile();
  assertEquals([...hosts.entries.keys()], [shared.id], "a.lan released, db.lan left to the peer");
  assertEquals(h.departed.has(KEY), false);
});

Deno.test("reconcile: a name held at another IP (a person's or an object's) is a conflict, no second entry", async () => {
  const hosts = new FakeHosts();
  const hand = hosts.add({ ipAddress: "10.66.0.9", hostname: "b.lan", comment: "printer" });
  const other = hosts.add({ ipAddress: "10.66.0.3", hostname: "C.lan", comment: "k8s:apps/c" });
  const h = harness(route([hostRule("a.lan", "b.lan", "c.lan")]), { hosts });
  await h.run();
  assertEquals(Object.keys(h.kube.annotation() ?? {}), ["a.lan"]);
  assertEquals(h.hosts.entries.size, 3, "only a.lan added");
  assertEquals([h.hosts.entries.get(hand.id), h.hosts.entries.get(other.id)], [hand, other]);
  assertEquals(h.events.reasons(), ["HostnameConflict"]);
  assertMatch(
    h.events.list[0].note,
    /b\.lan \(held by a hand-made entry, comment "printer", entry /,
  );
  assertMatch(h.events.list[0].note, /c\.lan \(held by "k8s:apps\/c", entry .* -> 10\.66\.0\.3\)/);
  assertEquals(h.conflicting.get(KEY), 2);
});
