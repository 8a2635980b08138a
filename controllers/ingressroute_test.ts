import { status } from "@grpc/grpc-js";
import { FakeHosts } from "../tests/fakes/router_hosts.ts";
import { assertEquals, assertMatch, assertOk, assertRejects } from "../tests/assert.ts";
import type { HostEntry } from "../grpc/client.ts";
import { RouterHostsError } from "../grpc/errors.ts";
import { KubeApiError, type RequestOptions } from "../k8s/client.ts";
import { TerminalError } from "../k8s/controller.ts";
import type { EventRecorder, EventRegarding, EventType } from "../k8s/events.ts";
import { ObjectWriter } from "../k8s/object_writer.ts";
import type { KubeObject } from "../k8s/resource.ts";
import { Store } from "../k8s/store.ts";
import { Logger } from "../observability/log.ts";
import {
  type Claims,
  claimsOf,
  desiredHostnames,
  HOST_IDS_ANNOTATION,
  ingressComment,
  INGRESSROUTE,
  INGRESSROUTE_FINALIZER,
  IngressRouteReconciler,
  INGRESSROUTETCP,
  type IngressRouteView,
  needsReconcile,
  ownsIngressEntry,
  parseHostIds,
  planSync,
  projectIngressRoute,
  serializeHostIds,
  type TraefikKind,
} from "./ingressroute.ts";

const B = "`";

function route(
  matches: unknown[],
  meta: Record<string, unknown> = {},
  kind = "IngressRoute",
): KubeObject {
  return {
    apiVersion: "traefik.io/v1alpha1",
    kind,
    metadata: {
      name: "web",
      namespace: "apps",
      uid: "uid-web",
      resourceVersion: "1",
      generation: 1,
      ...meta,
    },
    spec: { entryPoints: ["websecure"], routes: matches.map((match) => ({ match, kind: "Rule" })) },
  } as KubeObject;
}

// ---------------------------------------------------------------- projection

Deno.test("projection keeps the rules and the raw annotation, not the rest of the spec", () => {
  const v = projectIngressRoute(route([`Host(${B}a.lan${B})`, 42], {
    annotations: { [HOST_IDS_ANNOTATION]: '{"a.lan":"X"}', other: "1" },
  }));
  assertEquals(v.matches, [`Host(${B}a.lan${B})`, null]);
  assertEquals(v.hostIds, '{"a.lan":"X"}');
  assertEquals(JSON.stringify(v).includes("websecure"), false);
});

Deno.test("our own annotation write does not wake the controller; rules and other annotations do", () => {
  const a = projectIngressRoute(route([`Host(${B}a.lan${B})`]));
  const ours = projectIngressRoute(route([`Host(${B}a.lan${B})`], {
    resourceVersion: "2",
    annotations: { [HOST_IDS_ANNOTATION]: '{"a.lan":"X"}' },
  }));
  assertEquals(needsReconcile(a, ours), false);
  assertOk(needsReconcile(undefined, a));
  const withOurs = projectIngressRoute(route([`Host(${B}a.lan${B})`], {
    finalizers: [INGRESSROUTE_FINALIZER],
  }));
  assertEquals(needsReconcile(a, withOurs), false, "our finalizer appearing");
  assertOk(needsReconcile(withOurs, a), "our finalizer removed by someone");
  assertOk(
    needsReconcile(a, projectIngressRoute(route([`Host(${B}a.lan${B})`], { finalizers: ["x/y"] }))),
  );
  assertOk(needsReconcile(a, projectIngressRoute(route([`Host(${B}b.lan${B})`]))));
  assertOk(
    needsReconcile(
      a,
      projectIngressRoute(route([`Host(${B}a.lan${B})`], { annotations: { x: "1" } })),
    ),
  );
  assertOk(
    needsReconcile(
      a,
      projectIngressRoute(
        route([`Host(${B}a.lan${B})`], { deletionTimestamp: "2026-01-01T00:00:00Z" }),
      ),
    ),
  );
});

// ---------------------------------------------------------- desired hostnames

Deno.test("desired hostnames: every route, de-duplicated across routes, skipped and errors by route", () => {
  const v = projectIngressRoute(route([
    `Host(${B}a.lan${B}) && PathPrefix(${B}/api${B})`,
    `Host(${B}A.LAN${B}, ${B}b.lan${B}) || HostRegexp(${B}.+${B})`,
    `Host(${B}*.lan${B})`,
    `Host(${B}c.lan${B}`,
    null,
  ]));
  const d = desiredHostnames(v, "http");
  assertEquals(d.hosts, ["a.lan", "b.lan"]);
  assertEquals(d.skipped.map((s) => [s.route, s.value]), [[1, ".+"], [2, "*.lan"]]);
  assertEquals(d.errors.map((e) => e.route), [3, 4]);
  assertMatch(d.errors[0].message, /not closed/);
  assertMatch(d.errors[1].message, /no match rule/);
});

Deno.test("desired hostnames of an IngressRouteTCP come from HostSNI only", () => {
  const v = projectIngressRoute(
    route([`HostSNI(${B}db.lan${B})`, `HostSNI(${B}*${B})`, `Host(${B}x.lan${B})`]),
  );
  const d = desiredHostnames(v, "tcp");
  assertEquals(d.hosts, ["db.lan"]);
  assertEquals(d.skipped.map((s) => s.value), ["*"]);
});

// ---------------------------------------------------------------- annotation

Deno.test("annotation parse: absent and empty mean nothing tracked", () => {
  assertEquals(parseHostIds(undefined), { tracked: [] });
  assertEquals(parseHostIds(""), { tracked: [] });
  assertEquals(parseHostIds("{}"), { tracked: [] });
});

Deno.test("annotation parse: the Go operator's format", () => {
  assertEquals(parseHostIds('{"a.lan":"01A","b.lan":"01B"}'), {
    tracked: [{ hostname: "a.lan", id: "01A" }, { hostname: "b.lan", id: "01B" }],
  });
});

for (
  const [name, raw, why] of [
    ["not JSON", "{a.lan: 01A", /not JSON/],
    ["truncated", '{"a.lan":"01A"', /not JSON/],
    ["an array", '["01A"]', /array/],
    ["null", "null", /not a JSON object/],
    ["a string", '"01A"', /not a JSON object/],
    ["a number id", '{"a.lan":1}', /not a non-empty string/],
    ["an empty id", '{"a.lan":""}', /not a non-empty string/],
    ["a nested object", '{"a.lan":{"id":"01A"}}', /not a non-empty string/],
  ] as const
) {
  Deno.test(`annotation parse: corrupt when ${name}`, () => {
    const p = parseHostIds(raw);
    assertOk("error" in p, JSON.stringify(p));
    assertMatch(p.error, why);
  });
}

Deno.test("annotation serialize: sorted compact JSON like Go; null (remove) when empty", () => {
  assertEquals(
    serializeHostIds([{ hostname: "b.lan", id: "01B" }, { hostname: "a.lan", id: "01A" }]),
    '{"a.lan":"01A","b.lan":"01B"}',
  );
  assertEquals(serializeHostIds([]), null);
  const twice = serializeHostIds([{ hostname: "a.lan", id: "01A" }, {
    hostname: "a.lan",
    id: "01C",
  }]);
  assertEquals(twice, '{"a.lan":"01A","a.lan (01C)":"01C"}');
  const round = parseHostIds(twice!);
  assertOk("tracked" in round);
  assertEquals(planSync(round.tracked, ["a.lan"]).stale, [{ hostname: "a.lan (01C)", id: "01C" }]);
});

// -------------------------------------------------------------------- plan

Deno.test("plan: new hostnames are created, tracked ones kept with their id, removed ones stale", () => {
  const plan = planSync(
    [{ hostname: "a.lan", id: "A" }, { hostname: "old.lan", id: "O" }],
    ["a.lan", "new.lan"],
  );
  assertEquals(plan.ensure, [{ hostname: "a.lan", knownId: "A" }, { hostname: "new.lan" }]);
  assertEquals(plan.stale, [{ hostname: "old.lan", id: "O" }]);
});

Deno.test("plan: nothing desired → everything stale (also when no hostname is left)", () => {
  assertEquals(planSync([{ hostname: "a.lan", id: "A" }], []), {
    ensure: [],
    stale: [{ hostname: "a.lan", id: "A" }],
  });
});

Deno.test("plan: a change of case keeps the entry (updated in place), exact spelling first", () => {
  const plan = planSync(
    [{ hostname: "web.lan", id: "W1" }, { hostname: "Web.lan", id: "W2" }],
    ["Web.lan", "WEB.lan"],
  );
  assertEquals(plan.ensure, [{ hostname: "Web.lan", knownId: "W2" }, {
    hostname: "WEB.lan",
    knownId: "W1",
  }]);
  assertEquals(plan.stale, []);
});

Deno.test("plan: an id tracked under two names is one entry, never deleted while in use", () => {
  const plan = planSync(
    [{ hostname: "a.lan", id: "A" }, { hostname: "alias", id: "A" }, { hostname: "x", id: "X" }, {
      hostname: "y",
      id: "X",
    }],
    ["a.lan"],
  );
  assertEquals(plan.stale, [{ hostname: "x", id: "X" }]);
});

Deno.test("ownership: comment AND tags traefik+ingress", () => {
  const owns = ownsIngressEntry(ingressComment("apps", "web"));
  const e = (comment: string | undefined, tags: string[]): HostEntry => ({
    id: "1",
    ipAddress: "10.2.0.1",
    hostname: "a.lan",
    comment,
    tags,
    aliases: [],
    version: "1",
  });
  assertOk(owns(e("k8s-ingress:apps/web", ["kubernetes", "traefik", "ingress"])));
  assertOk(owns(e("k8s-ingress:apps/web", ["traefik", "ingress"])));
  assertEquals(owns(e("k8s-ingress:apps/web", ["traefik"])), false);
  assertEquals(owns(e("k8s:apps/web", ["kubernetes", "traefik", "ingress"])), false);
  assertEquals(owns(e("k8s-ingress:apps/web2", ["traefik", "ingress"])), false);
  assertEquals(owns(e(undefined, ["traefik", "ingress"])), false);
});

Deno.test("claims: the sibling's tracked ids and wanted hostnames; none while it is being deleted", () => {
  const v = projectIngressRoute(route([`HostSNI(${B}DB.lan${B})`], {
    annotations: { [HOST_IDS_ANNOTATION]: '{"old.lan":"O"}' },
  }));
  const c = claimsOf(v, "tcp");
  assertEquals([...c.ids], ["O"]);
  assertEquals([...c.hostnames], ["db.lan"]);
  assertEquals(claimsOf({ ...v, deletionTimestamp: "2026-01-01T00:00:00Z" }, "tcp").ids.size, 0);
  assertEquals(claimsOf(undefined, "tcp").ids.size, 0);
});

// ------------------------------------------------ reconciler against fakes

/** One object on a fake API server that applies merge patches guarded by resourceVersion. */
class FakeKube {
  obj: KubeObject;
  patches: unknown[] = [];
  /** Fail the next patch with 409. */
  conflictNext = false;
  readonly order: string[];

  constructor(obj: KubeObject, order: string[]) {
    this.obj = structuredClone(obj);
    this.order = order;
  }
  request<T>(opts: RequestOptions): Promise<T> {
    const body = opts.body as { metadata?: Record<string, unknown> };
    this.patches.push(body);
    const md = this.obj.metadata!;
    const rv = body.metadata?.resourceVersion;
    if (this.conflictNext || (rv !== undefined && rv !== md.resourceVersion)) {
      this.conflictNext = false;
      return Promise.reject(new KubeApiError("conflict", { status: 409, reason: "Conflict" }));
    }
    if (body.metadata?.finalizers) {
      md.finalizers = body.metadata.finalizers as string[];
      this.order.push(`finalizers=${md.finalizers.join(",")}`);
    }
    const ann = body.metadata?.annotations as Record<string, string | null> | undefined;
    if (ann) {
      const next: Record<string, string> = { ...md.annotations };
      for (const [k, v] of Object.entries(ann)) {
        if (v === null) delete next[k];
        else next[k] = v;
      }
      md.annotations = next;
      this.order.push("annotation");
    }
    md.resourceVersion = String(Number(md.resourceVersion) + 1);
    return Promise.resolve(structuredClone(this.obj) as T);
  }
  annotation(): Record<string, string> | undefined {
    const raw = this.obj.metadata?.annotations?.[HOST_IDS_ANNOTATION];
    return raw === undefined ? undefined : JSON.parse(raw);
  }
  edit(f: (o: KubeObject) => void): void {
    f(this.obj);
    this.obj.metadata!.resourceVersion = String(Number(this.obj.metadata!.resourceVersion) + 1);
  }
}

class Events implements EventRecorder {
  list: { type: EventType; reason: string; note: string; kind: string }[] = [];
  event(r: EventRegarding, type: EventType, reason: string, note: string): void {
    this.list.push({ type, reason, note, kind: r.kind });
  }
  reasons(): string[] {
    return this.list.map((e) => e.reason);
  }
}

interface Harness {
  kube: FakeKube;
  hosts: FakeHosts;
  events: Events;
  rec: IngressRouteReconciler;
  store: Store<IngressRouteView>;
  tracked: Map<string, number>;
  /** Finalizer writes, AddHost calls and annotation writes, in order. */
  order: string[];
  /** Reloads the store from the fake server (what the watch would do) and reconciles. */
  run(): Promise<void>;
}

const KEY = "apps/web";
const IP = "10.2.0.1";

function harness(
  obj: KubeObject,
  o: { ingressIP?: string; kind?: TraefikKind; claims?: Claims; hosts?: FakeHosts } = {},
): Harness {
  const hosts = o.hosts ?? new FakeHosts();
  const order: string[] = [];
  const origAdd = hosts.addHost.bind(hosts);
  hosts.addHost = (h) => {
    order.push("AddHost");
    return origAdd(h);
  };
  const kube = new FakeKube(obj, order);
  const store = new Store<IngressRouteView>();
  const events = new Events();
  const tracked = new Map<string, number>();
  const rec = new IngressRouteReconciler({
    kind: o.kind ?? INGRESSROUTE,
    hosts,
    writer: new ObjectWriter({
      api: kube,
      resource: (o.kind ?? INGRESSROUTE).resource,
      project: projectIngressRoute,
      store,
    }),
    get: (k) => store.get(k),
    events,
    log: new Logger({ sink: () => {} }),
    ingressIP: o.ingressIP ?? IP,
    claims: o.claims ? () => o.claims! : undefined,
    tracked: (k, n) => tracked.set(k, n),
  });
  return {
    kube,
    hosts,
    events,
    rec,
    store,
    tracked,
    order,
    async run() {
      store.apply(KEY, projectIngressRoute(structuredClone(kube.obj)));
      await rec.reconcile(KEY);
    },
  };
}

const TAGS = ["kubernetes", "traefik", "ingress"];
const hostRule = (...names: string[]) => names.map((n) => `Host(${B}${n}${B})`).join(" || ");

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

Deno.test("reconcile: adopts an entry with our comment and tags; refuses a HostMapping's", async () => {
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
  const e = await assertRejects(() => h.run());
  assertOk(e instanceof TerminalError, "refusal is not retried until something changes");
  assertEquals(h.kube.annotation(), { "a.lan": mine.id });
  assertEquals(h.hosts.entries.get(mine.id)!.tags, TAGS);
  assertEquals(h.hosts.entries.get(theirs.id), theirs, "never touched");
  assertEquals(h.events.reasons(), ["AdoptionRefused"]);
  assertMatch(h.events.list[0].note, /b\.lan/);
});

Deno.test("reconcile: partial failure records the created ids before throwing", async () => {
  const h = harness(route([hostRule("a.lan", "b.lan", "c.lan")]));
  const orig = h.hosts.addHost.bind(h.hosts);
  h.hosts.addHost = (x) =>
    x.hostname === "b.lan"
      ? Promise.reject(
        new RouterHostsError({
          code: status.UNAVAILABLE,
          method: "AddHost",
          address: "x",
          serverMessage: "down",
        }),
      )
      : orig(x);
  const e = await assertRejects(() => h.run());
  assertEquals(e instanceof TerminalError, false, "retried with backoff");
  assertMatch(e.message, /1 of 3 host entries failed: b\.lan/);
  assertEquals(Object.keys(h.kube.annotation()!).sort(), ["a.lan", "c.lan"]);
  assertEquals(h.events.reasons(), ["SyncFailed"]);
});

Deno.test("reconcile: a failed annotation write keeps the ids in memory for the next pass", async () => {
  const h = harness(route([hostRule("a.lan", "b.lan")]));
  // Let the finalizer through, then fail the annotation write with 409.
  const origReq = h.kube.request.bind(h.kube);
  let n = 0;
  h.kube.request = <T>(opts: RequestOptions) => {
    if (n++ === 1) h.kube.conflictNext = true;
    return origReq<T>(opts);
  };
  await assertRejects(() => h.run());
  assertEquals(h.kube.annotation(), undefined);
  // Meanwhile b.lan is removed from the rules: its entry must not be orphaned.
  h.kube.edit((o) => (o.spec as { routes: unknown[] }).routes = [{ match: hostRule("a.lan") }]);
  await h.run();
  assertEquals(Object.keys(h.hosts.byHostname()), ["a.lan"]);
  assertEquals(Object.keys(h.kube.annotation()!), ["a.lan"]);
});

Deno.test("reconcile: corrupt annotation → Warning event, entries found by comment, annotation rewritten", async () => {
  const hosts = new FakeHosts();
  const a = hosts.add({
    ipAddress: IP,
    hostname: "a.lan",
    comment: "k8s-ingress:apps/web",
    tags: TAGS,
  });
  const gone = hosts.add({
    ipAddress: IP,
    hostname: "gone.lan",
    comment: "k8s-ingress:apps/web",
    tags: TAGS,
  });
  const other = hosts.add({
    ipAddress: IP,
    hostname: "x.lan",
    comment: "k8s-ingress:apps/web2",
    tags: TAGS,
  });
  const h = harness(
    route([hostRule("a.lan", "b.lan")], {
      finalizers: [INGRESSROUTE_FINALIZER],
      annotations: { [HOST_IDS_ANNOTATION]: "{not json" },
    }),
    { hosts },
  );
  await h.run();
  assertEquals(h.events.reasons(), ["CorruptAnnotation"]);
  assertEquals(h.events.list[0].type, "Warning");
  const byName = h.hosts.byHostname();
  assertEquals(byName["a.lan"].id, a.id, "found and kept, not duplicated");
  assertEquals(
    h.hosts.entries.has(gone.id),
    false,
    "an entry no rule names any more is not orphaned",
  );
  assertEquals(h.hosts.entries.has(other.id), true, "another object's entry is untouched");
  assertEquals(h.kube.annotation(), { "a.lan": a.id, "b.lan": byName["b.lan"].id });
});

Deno.test("reconcile: corrupt annotation and the server down → error, annotation left as it is", async () => {
  const h = harness(route([hostRule("a.lan")], { annotations: { [HOST_IDS_ANNOTATION]: "[]" } }));
  h.hosts.down = true;
  await assertRejects(() => h.run());
  assertEquals(h.kube.obj.metadata!.annotations![HOST_IDS_ANNOTATION], "[]");
  assertEquals(h.events.reasons(), ["CorruptAnnotation"]);
});

Deno.test("reconcile: a copied annotation never takes over or deletes the original's entries", async () => {
  const hosts = new FakeHosts();
  const orig = hosts.add({
    ipAddress: IP,
    hostname: "a.lan",
    comment: "k8s-ingress:apps/orig",
    tags: TAGS,
  });
  const origB = hosts.add({
    ipAddress: IP,
    hostname: "b.lan",
    comment: "k8s-ingress:apps/orig",
    tags: TAGS,
  });
  const h = harness(
    route([hostRule("c.lan")], {
      annotations: {
        [HOST_IDS_ANNOTATION]: JSON.stringify({ "c.lan": orig.id, "b.lan": origB.id }),
      },
    }),
    { hosts },
  );
  await h.run();
  assertEquals(hosts.entries.get(orig.id), orig);
  assertEquals(hosts.entries.get(origB.id), origB);
  const c = hosts.byHostname()["c.lan"];
  assertEquals(c.comment, "k8s-ingress:apps/web");
  assertEquals(h.kube.annotation(), { "c.lan": c.id });
});

Deno.test("reconcile: a malformed rule keeps tracked entries and reports InvalidRule once", async () => {
  const h = harness(route([hostRule("a.lan"), hostRule("b.lan")]));
  await h.run();
  h.kube.edit((o) =>
    (o.spec as { routes: unknown[] }).routes = [{ match: hostRule("a.lan") }, {
      match: "Host(`b.lan`",
    }]
  );
  await h.run();
  await h.run();
  assertEquals(Object.keys(h.hosts.byHostname()).sort(), ["a.lan", "b.lan"]);
  assertEquals(h.events.reasons(), ["InvalidRule"]);
});

Deno.test("reconcile: skipped values → InvalidHostname naming route and value, once per change", async () => {
  const h = harness(route([`HostRegexp(${B}.+${B})`, hostRule("a.lan", "*.lan")]));
  await h.run();
  await h.run();
  assertEquals(h.events.reasons(), ["InvalidHostname", "InvalidHostname"]);
  assertMatch(h.events.list[0].note, /route 0: "\.\+"/);
  assertMatch(h.events.list[1].note, /route 1: "\*\.lan".*wildcard/);
  assertEquals(Object.keys(h.hosts.byHostname()), ["a.lan"]);
});

Deno.test("reconcile: no --default-ingress-ip → no request at all, one NoIngressIP event", async () => {
  const h = harness(route([hostRule("a.lan")]), { ingressIP: "" });
  await h.run();
  await h.run();
  assertEquals(h.hosts.calls, []);
  assertEquals(h.kube.patches, []);
  assertEquals(h.events.reasons(), ["NoIngressIP"]);
  assertMatch(h.events.list[0].note, /a\.lan/);
});

Deno.test("reconcile: an object without hostnames gets no finalizer and costs no request", async () => {
  const h = harness(route([`PathPrefix(${B}/${B})`]));
  await h.run();
  assertEquals([h.hosts.calls, h.kube.patches], [[], []]);
});

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

Deno.test("IngressRouteTCP: HostSNI hosts, events about an IngressRouteTCP", async () => {
  const h = harness(
    route([`HostSNI(${B}db.lan${B})`, `HostSNI(${B}*${B})`], {}, "IngressRouteTCP"),
    {
      kind: INGRESSROUTETCP,
    },
  );
  await h.run();
  assertEquals(Object.keys(h.hosts.byHostname()), ["db.lan"]);
  assertEquals(h.events.list.map((e) => [e.reason, e.kind]), [[
    "InvalidHostname",
    "IngressRouteTCP",
  ]]);
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
