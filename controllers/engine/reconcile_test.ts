import { status } from "@grpc/grpc-js";
import { FakeHosts } from "../../tests/fakes/router_hosts.ts";
import { fakeContext } from "../../tests/fakes/source_context.ts";
import { assertEquals, assertMatch, assertOk, assertRejects } from "../../tests/assert.ts";
import { RouterHostsError } from "../../grpc/errors.ts";
import { type JsonPatchOp, KubeApiError, type RequestOptions } from "../../k8s/client.ts";
import { TerminalError } from "../../k8s/controller.ts";
import type { EventRecorder, EventRegarding, EventType } from "../../k8s/events.ts";
import { ObjectWriter } from "../../k8s/object_writer.ts";
import type { KubeObject } from "../../k8s/resource.ts";
import { Store } from "../../k8s/store.ts";
import { Logger } from "../../observability/log.ts";
import type { WatchedKind } from "../../k8s/builder.ts";
import { HOST_IDS_ANNOTATION } from "./host_ids.ts";
import { GATEWAYS, type GatewayView, GRPCROUTE, HTTPROUTE, TLSROUTE } from "../sources/gateway.ts";
import type { AnySource, Claims, SourceContext, SourceView } from "./source.ts";
import { SourceReconciler } from "./reconcile.ts";
import { ingressSource } from "../sources/ingress.ts";
import { INGRESSROUTE, INGRESSROUTETCP } from "../sources/ingressroute.ts";
import { serviceSource } from "../sources/service.ts";
import { ConflictBoard, DEFAULT_POLICY, type Policy } from "../hosts/policy.ts";

const INGRESSROUTE_FINALIZER = INGRESSROUTE.finalizer;

import { B, ingressRoute as route } from "../../tests/fakes/traefik.ts";

// ------------------------------------------------ reconciler against fakes

/**
 * The finalizer JSON Patches the writer sends, applied as the API server
 * does (RFC 6902 on `/metadata/finalizers`); undefined when a test fails.
 */
function patchFinalizers(
  current: string[] | undefined,
  ops: JsonPatchOp[],
): string[] | undefined {
  let list: string[] | undefined = current?.length ? [...current] : undefined;
  for (const op of ops) {
    const index = op.path.match(/^\/metadata\/finalizers(?:\/(\d+|-))?$/)?.[1];
    if (op.op === "test") {
      const actual = index === undefined ? list ?? null : list?.[Number(index)];
      if (JSON.stringify(actual) !== JSON.stringify(op.value)) return undefined;
    } else if (op.op === "add") {
      if (index === undefined) list = [...(op.value as string[])];
      else list = [...(list ?? []), op.value as string];
    } else if (op.op === "remove") {
      list = list?.filter((_, i) => i !== Number(index));
    }
  }
  return list ?? [];
}

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
    this.patches.push(opts.body);
    const md = this.obj.metadata!;
    if (this.conflictNext) {
      this.conflictNext = false;
      return Promise.reject(new KubeApiError("conflict", { status: 409, reason: "Conflict" }));
    }
    if (opts.contentType === "application/json-patch+json") {
      const finalizers = patchFinalizers(md.finalizers, opts.body as JsonPatchOp[]);
      if (!finalizers) {
        return Promise.reject(new KubeApiError("test failed", { status: 422, reason: "Invalid" }));
      }
      md.finalizers = finalizers;
      this.order.push(`finalizers=${md.finalizers.join(",")}`);
      md.resourceVersion = String(Number(md.resourceVersion) + 1);
      return Promise.resolve(structuredClone(this.obj) as T);
    }
    const body = opts.body as { metadata?: Record<string, unknown> };
    const rv = body.metadata?.resourceVersion;
    if (rv !== undefined && rv !== md.resourceVersion) {
      return Promise.reject(new KubeApiError("conflict", { status: 409, reason: "Conflict" }));
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
  rec: SourceReconciler<SourceView>;
  store: Store<SourceView>;
  /** Objects that left the watch scope (k8s/builder.ts fills it). */
  departed: Store<SourceView>;
  tracked: Map<string, number>;
  /** Hostnames in conflict per key (router_hosts_hostname_conflicts). */
  conflicting: Map<string, number>;
  /** Finalizer writes, AddHost calls and annotation writes, in order. */
  order: string[];
  /** Reloads the store from the fake server (what the watch would do) and reconciles. */
  run(): Promise<void>;
}

const KEY = "apps/web";
const IP = "10.2.0.1";

function harness(
  obj: KubeObject,
  o: {
    ingressIP?: string;
    kind?: AnySource;
    claims?: Claims;
    hosts?: FakeHosts;
    context?: SourceContext;
    cached?: SourceContext["cached"];
    policy?: Policy;
    conflicts?: ConflictBoard;
    wake?: (key: string) => void;
  } = {},
): Harness {
  const hosts = o.hosts ?? new FakeHosts();
  const order: string[] = [];
  const origAdd = hosts.addHost.bind(hosts);
  hosts.addHost = (h) => {
    order.push("AddHost");
    return origAdd(h);
  };
  const kube = new FakeKube(obj, order);
  const source: AnySource = o.kind ?? INGRESSROUTE;
  const store = new Store<SourceView>();
  const departed = new Store<SourceView>();
  const events = new Events();
  const tracked = new Map<string, number>();
  const conflicting = new Map<string, number>();
  const rec = new SourceReconciler({
    source,
    hosts,
    writer: new ObjectWriter({
      api: kube,
      resource: source.resource,
      project: source.project,
      store,
    }),
    get: (k) => store.get(k),
    departed,
    events,
    log: new Logger({ sink: () => {} }),
    context: o.context ?? fakeContext({ defaultIngressIP: o.ingressIP ?? IP, cached: o.cached }),
    claims: o.claims ? () => o.claims! : undefined,
    peers: "IngressRouteTCP",
    tracked: (k, n) => tracked.set(k, n),
    policy: o.policy,
    conflicts: o.conflicts,
    wake: o.wake,
    conflicting: (k, n) => conflicting.set(k, n),
  });
  return {
    kube,
    hosts,
    events,
    rec,
    store,
    departed,
    tracked,
    conflicting,
    order,
    async run() {
      store.apply(KEY, source.project(structuredClone(kube.obj)));
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

// ------------------------------------------------ IP sources, selection, aliases (issue 11)

const OVERRIDE = "router-hosts.fzymgc.house/ip-address";

Deno.test("override annotation: entries follow it in place, one Normal Updated Event", async () => {
  const h = harness(route([hostRule("a.lan", "b.lan")]));
  await h.run();
  const ids = h.kube.annotation();
  h.kube.edit((o) =>
    o.metadata!.annotations = { ...o.metadata!.annotations, [OVERRIDE]: "10.9.9.1" }
  );
  await h.run();
  const byName = h.hosts.byHostname();
  assertEquals([byName["a.lan"].ipAddress, byName["b.lan"].ipAddress], ["10.9.9.1", "10.9.9.1"]);
  assertEquals(h.kube.annotation(), ids, "same entries");
  assertEquals(h.events.list.map((e) => [e.type, e.reason]), [["Normal", "Updated"]]);
  assertMatch(
    h.events.list[0].note,
    /2 host entries updated in place \(ip 10\.9\.9\.1 from annotation/,
  );
});

Deno.test("override annotation that is not an IP: NoIngressIP once, entries left as they are", async () => {
  const h = harness(route([hostRule("a.lan")]));
  await h.run();
  h.kube.edit((o) => o.metadata!.annotations = { ...o.metadata!.annotations, [OVERRIDE]: "nope" });
  h.hosts.calls = [];
  await h.run();
  await h.run();
  assertEquals(h.hosts.calls, []);
  assertEquals(h.hosts.byHostname()["a.lan"].ipAddress, IP);
  assertEquals(h.events.reasons(), ["NoIngressIP"]);
  assertMatch(h.events.list[0].note, /"nope", not an IPv4 or IPv6 address/);
});

function service(annotations: Record<string, string>, ingress: unknown[] = []): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: {
      name: "web",
      namespace: "apps",
      uid: "uid-svc",
      resourceVersion: "1",
      annotations,
    },
    spec: { type: "LoadBalancer" },
    status: { loadBalancer: { ingress } },
  };
}

const OPTED_IN = {
  "router-hosts.fzymgc.house/enabled": "true",
  "router-hosts.fzymgc.house/hostname": "web.lan",
  "router-hosts.fzymgc.house/aliases": "www.lan",
};

Deno.test("Service: aliases synced; opting out deletes the entry, annotation and finalizer", async () => {
  const svc = serviceSource({ externalDns: false });
  const h = harness(service(OPTED_IN, [{ ip: "10.1.1.1" }]), { kind: svc });
  await h.run();
  const e = h.hosts.byHostname()["web.lan"];
  assertEquals([e.ipAddress, e.aliases, e.comment, e.tags], [
    "10.1.1.1",
    ["www.lan"],
    "k8s-service:apps/web",
    ["kubernetes", "service"],
  ]);
  assertEquals(h.kube.obj.metadata!.finalizers, ["router-hosts.fzymgc.house/service-cleanup"]);
  h.kube.edit((o) => delete o.metadata!.annotations!["router-hosts.fzymgc.house/enabled"]);
  await h.run();
  assertEquals(h.hosts.entries.size, 0);
  assertEquals(h.kube.annotation(), undefined);
  assertEquals(h.kube.obj.metadata!.finalizers, []);
  // Never selected (again): no request at all.
  const patches = h.kube.patches.length;
  h.hosts.calls = [];
  await h.run();
  assertEquals([h.hosts.calls, h.kube.patches.length], [[], patches]);
});

Deno.test("Service: PendingLoadBalancer is Normal, once per wait; the entry is kept meanwhile", async () => {
  const svc = serviceSource({ externalDns: false });
  const h = harness(service(OPTED_IN), { kind: svc });
  await h.run();
  await h.run();
  assertEquals(h.events.list.map((e) => [e.type, e.reason]), [["Normal", "PendingLoadBalancer"]]);
  assertEquals([h.hosts.entries.size, h.kube.patches.length], [0, 0], "nothing written");
  h.kube.edit((o) => o.status = { loadBalancer: { ingress: [{ ip: "10.1.1.1" }] } });
  await h.run();
  const id = h.hosts.byHostname()["web.lan"].id;
  h.kube.edit((o) => o.status = { loadBalancer: { ingress: [] } });
  await h.run();
  assertEquals(h.hosts.byHostname()["web.lan"].id, id, "kept while waiting again");
  assertEquals(h.events.reasons(), ["PendingLoadBalancer", "PendingLoadBalancer"]);
});

Deno.test("Service: an unresolvable LoadBalancer name fails the reconcile (backoff), one Event", async () => {
  const svc = serviceSource({ externalDns: false });
  const h = harness(service(OPTED_IN, [{ hostname: "nx.elb" }]), {
    kind: svc,
    context: fakeContext({ dns: { "ok.elb": ["10.3.3.3"] } }),
  });
  for (let i = 0; i < 2; i++) {
    assertMatch((await assertRejects(() => h.run())).message, /DNS lookup of nx\.elb failed/);
  }
  assertEquals(h.events.reasons(), ["UnresolvableAddress"]);
  assertEquals(h.hosts.entries.size, 0);
  h.kube.edit((o) => o.status = { loadBalancer: { ingress: [{ hostname: "ok.elb" }] } });
  await h.run();
  assertEquals(h.hosts.byHostname()["web.lan"].ipAddress, "10.3.3.3");
});

Deno.test("Ingress: an Ingress leaving the selected classes is released", async () => {
  const h = harness({
    apiVersion: "networking.k8s.io/v1",
    kind: "Ingress",
    metadata: { name: "web", namespace: "apps", uid: "uid-ing", resourceVersion: "1" },
    spec: { ingressClassName: "traefik", rules: [{ host: "a.lan" }, { host: "*.lan" }] },
  }, { kind: ingressSource(["traefik"]) });
  await h.run();
  assertEquals(Object.keys(h.hosts.byHostname()), ["a.lan"]);
  assertEquals(h.hosts.byHostname()["a.lan"].comment, "k8s-ingress-v1:apps/web");
  h.kube.edit((o) => (o.spec as { ingressClassName: string }).ingressClassName = "nginx");
  await h.run();
  assertEquals(h.hosts.entries.size, 0);
  assertEquals(h.kube.obj.metadata!.finalizers, []);
  assertEquals(h.kube.annotation(), undefined);
});

Deno.test("scope: an object that left the label selector is released and forgotten", async () => {
  const h = harness(route([hostRule("a.lan", "b.lan")]));
  await h.run();
  assertEquals(h.hosts.entries.size, 2);
  // The label change arrives as DELETED with the object as it now is.
  h.kube.edit((o) => o.metadata!.labels = { router: "other" });
  h.store.apply(KEY, undefined);
  h.departed.apply(KEY, INGRESSROUTE.project(structuredClone(h.kube.obj)));
  await h.rec.reconcile(KEY);
  assertEquals(h.hosts.entries.size, 0);
  assertEquals(h.kube.obj.metadata!.finalizers, []);
  assertEquals(h.kube.annotation(), undefined);
  assertEquals(h.departed.has(KEY), false);
  const writes = h.kube.patches.length;
  await h.rec.reconcile(KEY);
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
  await h.rec.reconcile(KEY);
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
  await h.rec.reconcile(KEY);
  assertEquals(h.hosts.entries.size, 0);
  assertEquals(h.departed.has(KEY), false);
});

// ------------------------------------------------------------ Gateway routes

/** A route on Gateway apps/gw (and `more`), accepted by each, as a Gateway controller writes it. */
function gatewayRoute(kind: string, hostnames: string[], more: string[] = []): KubeObject {
  const parentRefs = ["gw", ...more].map((name) => ({ name }));
  return {
    apiVersion: "gateway.networking.k8s.io/v1",
    kind,
    metadata: { name: "web", namespace: "apps", uid: "uid-r", resourceVersion: "1", generation: 1 },
    spec: { parentRefs, hostnames },
    status: {
      parents: parentRefs.map((parentRef) => ({
        parentRef,
        controllerName: "example.com/gateway",
        conditions: [{ type: "Accepted", status: "True" }],
      })),
    },
  };
}

/** A Gateway cache (HTTP and TLS listeners for every hostname) whose addresses the test sets. */
function gatewayCache(): {
  cached: SourceContext["cached"];
  set(ip?: string, name?: string): void;
} {
  const listeners = [
    { name: "http", port: 80, protocol: "HTTP", from: "Same", kinds: [] },
    { name: "tls", port: 443, protocol: "TLS", from: "Same", kinds: [] },
  ];
  const gateways = new Map<string, GatewayView>();
  return {
    cached: <W>(kind: WatchedKind<W>, key: string) =>
      (kind === (GATEWAYS as WatchedKind<unknown>)
        ? gateways.get(key) ?? (key === "apps/gw" ? { listeners } : undefined)
        : undefined) as W | undefined,
    set(ip, name = "gw") {
      gateways.set(`apps/${name}`, ip ? { listeners, address: { ip } } : { listeners });
    },
  };
}

Deno.test("HTTPRoute: entries with the Gateway's IP; an address change updates them in place", async () => {
  const gw = gatewayCache();
  gw.set("10.9.0.1");
  const h = harness(gatewayRoute("HTTPRoute", ["a.lan", "*.lan", "b.lan"]), {
    kind: HTTPROUTE,
    ingressIP: "",
    cached: gw.cached,
  });
  await h.run();
  const before = structuredClone(h.hosts.byHostname());
  assertEquals(Object.keys(before).sort(), ["a.lan", "b.lan"]);
  for (const e of Object.values(before)) {
    assertEquals([e.ipAddress, e.comment, e.tags], [
      "10.9.0.1",
      "k8s-gateway:apps/web",
      ["kubernetes", "gateway", "httproute"],
    ]);
  }
  assertEquals(h.kube.obj.metadata!.finalizers, [HTTPROUTE.finalizer]);
  gw.set("10.9.0.2");
  h.hosts.calls = [];
  await h.run();
  const after = h.hosts.byHostname();
  for (const name of ["a.lan", "b.lan"]) {
    assertEquals([after[name].id, after[name].ipAddress], [before[name].id, "10.9.0.2"]);
    assertOk(after[name].version !== before[name].version, "version bumped");
  }
  assertEquals(h.hosts.calls.filter((c) => c === "UpdateHost").length, 2);
});

Deno.test("HTTPRoute: no address and no default → one NoIngressIP, synced once an address appears", async () => {
  const gw = gatewayCache();
  const h = harness(gatewayRoute("HTTPRoute", ["a.lan"]), {
    kind: HTTPROUTE,
    ingressIP: "",
    cached: gw.cached,
  });
  await h.run();
  await h.run();
  assertEquals(h.hosts.calls, [], "no request without an IP");
  assertEquals(h.events.reasons(), ["NoIngressIP"]);
  assertMatch(h.events.list[0].note, /apps\/gw/);
  gw.set("10.9.0.3");
  await h.run();
  assertEquals(h.hosts.byHostname()["a.lan"].ipAddress, "10.9.0.3");
});

Deno.test("a hostname at two Gateways' addresses: one entry each, moved in place, removed with its Gateway", async () => {
  const gw = gatewayCache();
  gw.set("10.9.1.1");
  gw.set("10.9.1.2", "internal");
  const h = harness(gatewayRoute("HTTPRoute", ["a.lan"], ["internal"]), {
    kind: HTTPROUTE,
    ingressIP: "",
    cached: gw.cached,
  });
  await h.run();
  const at = () => [...h.hosts.entries.values()].map((e) => [e.hostname, e.ipAddress]).sort();
  assertEquals(at(), [["a.lan", "10.9.1.1"], ["a.lan", "10.9.1.2"]]);
  const ids = h.kube.annotation()!;
  const first = h.hosts.byHostname()["a.lan"];
  const byIp = Object.fromEntries([...h.hosts.entries.values()].map((e) => [e.ipAddress, e.id]));
  assertEquals(ids, {
    "a.lan": byIp["10.9.1.1"],
    [`a.lan (${byIp["10.9.1.2"]})`]: byIp["10.9.1.2"],
  });
  assertOk(first !== undefined);

  h.hosts.calls = [];
  await h.run();
  assertEquals(h.hosts.calls.filter((c) => c !== "GetHost"), [], "in sync: reads only");

  gw.set("10.9.1.3", "internal");
  await h.run();
  assertEquals(at(), [["a.lan", "10.9.1.1"], ["a.lan", "10.9.1.3"]]);
  assertEquals(h.hosts.entries.get(byIp["10.9.1.2"])!.ipAddress, "10.9.1.3", "updated in place");
  assertEquals(h.kube.annotation(), ids);

  // Gateway internal withdraws its acceptance: the entry only it justified goes.
  h.kube.edit((o) => {
    const parents = (o.status as { parents: { conditions: unknown[] }[] }).parents;
    parents[1].conditions = [{
      type: "Accepted",
      status: "False",
      reason: "NotAllowedByListeners",
    }];
  });
  await h.run();
  assertEquals(at(), [["a.lan", "10.9.1.1"]]);
  assertEquals(h.kube.annotation(), { "a.lan": byIp["10.9.1.1"] });
});

Deno.test("Gateway routes adopt the Go operator's entries and refuse a foreign comment", async () => {
  const hosts = new FakeHosts();
  const go = hosts.add({
    ipAddress: IP,
    hostname: "a.lan",
    comment: "k8s-gateway:apps/web",
    tags: ["kubernetes", "gateway", "grpcroute"],
  });
  const foreign = hosts.add({
    ipAddress: IP,
    hostname: "b.lan",
    comment: "k8s-gateway:other/web",
    tags: ["kubernetes", "gateway", "grpcroute"],
  });
  const h = harness(gatewayRoute("GRPCRoute", ["a.lan", "b.lan"]), {
    kind: GRPCROUTE,
    hosts,
    cached: gatewayCache().cached,
  });
  await h.run();
  assertEquals(h.kube.annotation(), { "a.lan": go.id }, "adopted, not duplicated");
  assertEquals(h.hosts.entries.size, 2);
  assertEquals(h.events.reasons(), ["HostnameConflict"], "another route's entry: a conflict");
  h.kube.edit((o) => o.metadata!.deletionTimestamp = "2026-01-01T00:00:00Z");
  await h.run();
  assertEquals([...hosts.entries.keys()], [foreign.id], "the foreign entry is never deleted");
  assertEquals(h.kube.obj.metadata!.finalizers, []);
});

Deno.test("Gateway routes: an entry of another route kind with the same name is not ours", async () => {
  const hosts = new FakeHosts();
  hosts.add({
    ipAddress: IP,
    hostname: "a.lan",
    comment: "k8s-gateway:apps/web",
    tags: ["kubernetes", "gateway", "httproute"],
  });
  const h = harness(gatewayRoute("TLSRoute", ["a.lan"]), {
    kind: TLSROUTE,
    hosts,
    cached: gatewayCache().cached,
  });
  await h.run();
  assertEquals(h.hosts.entries.size, 1);
  assertEquals(h.events.reasons(), ["HostnameConflict"]);
});

// ------------------------------------------------ policy (policy.ts) through the engine

const policy = (p: Partial<Policy>): Policy => ({ ...DEFAULT_POLICY, ...p });

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

Deno.test("policy: a conflict is reported once, not retried, and the loser takes over on release", async () => {
  const board = new ConflictBoard();
  const hosts = new FakeHosts();
  const winner = harness(route([hostRule("a.lan")]), { hosts, conflicts: board });
  await winner.run();
  const woken: string[] = [];
  const loserObj = route([hostRule("a.lan")]);
  loserObj.metadata!.name = "other";
  const loser = harness(loserObj, { hosts, conflicts: board, wake: (k) => woken.push(k) });
  await loser.run();
  await loser.run();
  assertEquals(loser.events.reasons(), ["HostnameConflict"], "once per object");
  assertEquals(loser.conflicting.get(KEY), 1);
  assertEquals(hosts.entries.size, 1);
  winner.kube.edit((o) => o.metadata!.deletionTimestamp = "2026-01-01T00:00:00Z");
  await winner.run();
  assertEquals(woken, [KEY], "the loser is woken when the holder deletes the entry");
  await loser.run();
  assertEquals(Object.values(hosts.byHostname()).map((e) => e.comment), [
    "k8s-ingress:apps/other",
  ]);
  assertEquals(loser.conflicting.get(KEY), 0);
});

Deno.test("finalizer: a finalizer another controller added meanwhile is never lost", async () => {
  const h = harness(route([hostRule("a.lan")]));
  h.store.apply(KEY, INGRESSROUTE.project(structuredClone(h.kube.obj)));
  h.kube.edit((o) => o.metadata!.finalizers = ["other.io/keep"]);
  const e = await assertRejects(() => h.rec.reconcile(KEY));
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
