import { assertEquals, assertMatch, assertOk, assertRejects } from "../../tests/assert.ts";
import { status } from "@grpc/grpc-js";
import { RouterHostsError } from "../../grpc/errors.ts";
import { TerminalError } from "../../k8s/controller.ts";
import { ObjectWriter } from "../../k8s/object_writer.ts";
import { Store } from "../../k8s/store.ts";
import { Logger } from "../../observability/log.ts";
import { FakeObjectApi } from "../../tests/fakes/kube_objects.ts";
import { FakeHosts } from "../../tests/fakes/router_hosts.ts";
import { HostMappingReconciler } from "./controller.ts";
import {
  desiredHost,
  HOSTMAPPING,
  HOSTMAPPING_FINALIZER,
  type HostMappingView,
  needsReconcile,
  projectHostMapping,
} from "./view.ts";
import {
  classifyError,
  errorStatus,
  type HostMappingStatus,
  statusEquivalent,
  syncedStatus,
} from "./status.ts";
import { AdoptionRefusedError, deleteHost } from "../hosts/sync.ts";

const obj = {
  apiVersion: "router-hosts.fzymgc.house/v1alpha1",
  kind: "HostMapping",
  metadata: {
    name: "nas",
    namespace: "home",
    uid: "u1",
    resourceVersion: "42",
    generation: 3,
    finalizers: ["router-hosts.fzymgc.house/host-cleanup"],
    managedFields: [{ manager: "kubectl", big: "x".repeat(1000) }],
    annotations: { "kubectl.kubernetes.io/last-applied-configuration": "{...}" },
  },
  spec: {
    hostname: "nas.lan",
    ip: "10.0.0.5",
    aliases: ["files.lan", "files.lan"],
    tags: ["storage"],
  },
  status: { phase: "Synced", hostId: "01H", hostVersion: "4" },
};

Deno.test("the cache keeps only what reconcile reads (no managedFields, no annotations)", () => {
  const v = projectHostMapping(obj);
  assertEquals(v.namespace, "home");
  assertEquals(v.generation, 3);
  assertEquals(v.status.hostId, "01H");
  assertEquals(JSON.stringify(v).includes("managedFields"), false);
  assertEquals(JSON.stringify(v).includes("last-applied"), false);
});

Deno.test("desired entry: comment k8s:<ns>/<name>, lists de-duplicated", () => {
  assertEquals(desiredHost(projectHostMapping(obj)), {
    ipAddress: "10.0.0.5",
    hostname: "nas.lan",
    comment: "k8s:home/nas",
    aliases: ["files.lan"],
    tags: ["storage"],
  });
});

Deno.test("status-only changes (our own writes) do not trigger a reconcile", () => {
  const a = projectHostMapping(obj);
  const statusOnly = projectHostMapping({
    ...obj,
    metadata: { ...obj.metadata, resourceVersion: "43" },
    status: { phase: "Error", hostId: "01H", hostVersion: "5" },
  });
  assertEquals(needsReconcile(a, statusOnly), false);
  assertOk(needsReconcile(undefined, a));
  assertOk(
    needsReconcile(a, projectHostMapping({ ...obj, spec: { ...obj.spec, ip: "10.0.0.6" } })),
  );
  assertOk(
    needsReconcile(
      a,
      projectHostMapping({
        ...obj,
        metadata: { ...obj.metadata, deletionTimestamp: "2026-01-01T00:00:00Z" },
      }),
    ),
  );
  assertOk(
    needsReconcile(
      a,
      projectHostMapping({ ...obj, metadata: { ...obj.metadata, finalizers: [] } }),
    ),
    "someone removed our finalizer",
  );
  // Our own finalizer arriving (its watch event may come after our PATCH returned) is no reason.
  const noFinalizer = projectHostMapping({ ...obj, metadata: { ...obj.metadata, finalizers: [] } });
  assertEquals(needsReconcile(noFinalizer, a), false);
});

Deno.test("an in-sync resync produces an identical status, so nothing is written", () => {
  const t0 = new Date("2026-01-01T00:00:00Z");
  const entry = {
    id: "01H",
    ipAddress: "10.0.0.5",
    hostname: "nas.lan",
    aliases: [],
    tags: [],
    version: "4",
  };
  const first = syncedStatus({}, entry, 3, t0, "created");
  assertEquals(first.phase, "Synced");
  assertEquals(first.lastSyncTime, "2026-01-01T00:00:00Z");
  const later = syncedStatus(first, entry, 3, new Date("2026-01-01T01:00:00Z"), "unchanged");
  assertOk(statusEquivalent(first, later));
  const moved = syncedStatus(
    first,
    { ...entry, version: "5" },
    4,
    new Date("2026-01-01T01:00:00Z"),
    "updated",
  );
  assertEquals(moved.lastSyncTime, "2026-01-01T01:00:00Z");
  assertEquals(moved.conditions?.[0].observedGeneration, 4);
  assertEquals(moved.conditions?.[0].lastTransitionTime, first.conditions?.[0].lastTransitionTime);
});

Deno.test("errors become phase Error with the server's message and a Synced=False reason", () => {
  const t = new Date("2026-01-01T00:00:00Z");
  const invalid = new RouterHostsError({
    code: status.INVALID_ARGUMENT,
    method: "AddHost",
    address: "r:1",
    serverMessage: "invalid label 'bad_name' in hostname",
  });
  const c = classifyError(invalid);
  assertEquals(c.reason, "InvalidSpec");
  const s = errorStatus({}, c.reason, c.message, 1, t);
  assertEquals(s.phase, "Error");
  assertOk(s.message?.includes("invalid label 'bad_name' in hostname"));
  assertEquals(s.conditions?.[0].status, "False");
  assertEquals(s.conditions?.[0].reason, "InvalidSpec");
  assertEquals(
    classifyError(
      new RouterHostsError({
        code: status.UNAVAILABLE,
        method: "GetHost",
        address: "r:1",
        serverMessage: "down",
      }),
    ).reason,
    "ServerUnavailable",
  );
  assertEquals(
    classifyError(
      new AdoptionRefusedError({
        id: "1",
        ipAddress: "1.1.1.1",
        hostname: "a",
        aliases: [],
        tags: [],
        version: "1",
      }),
    ).reason,
    "AdoptionRefused",
  );
  const kept = errorStatus({ hostId: "01H", hostVersion: "2" }, "ServerUnavailable", "down", 1, t);
  assertEquals([kept.hostId, kept.hostVersion], ["01H", "2"]);
});

// --- HostMappingReconciler against in-memory fakes (router-hosts, API server objects) ---

const PATH = "/apis/router-hosts.fzymgc.house/v1alpha1/namespaces/home/hostmappings/nas";
const KEY = "home/nas";

interface Recorded {
  type: string;
  reason: string;
  note: string;
}

/** A reconciler wired to fakes; `informer()` copies the API's object into the cache as a watch would. */
function rig(spec: Record<string, unknown> = { hostname: "nas.lan", ip: "10.0.0.5" }) {
  const hosts = new FakeHosts();
  const api = new FakeObjectApi();
  const store = new Store<HostMappingView>();
  const events: Recorded[] = [];
  const managed = new Map<string, boolean>();
  let clock = Date.parse("2026-01-01T00:00:00Z");
  const informer = () => {
    const o = api.get(PATH);
    store.apply(KEY, o && projectHostMapping(o));
  };
  const reconciler = new HostMappingReconciler({
    hosts,
    writer: new ObjectWriter({ api, resource: HOSTMAPPING, project: projectHostMapping, store }),
    get: (key) => store.get(key),
    events: { event: (_r, type, reason, note) => events.push({ type, reason, note }) },
    log: new Logger({ sink: () => {} }),
    managed: (key, on) => managed.set(key, on),
    now: () => new Date(clock += 1000),
  });
  api.put(PATH, {
    apiVersion: "router-hosts.fzymgc.house/v1alpha1",
    kind: "HostMapping",
    metadata: { name: "nas", namespace: "home", uid: "u1", generation: 1 },
    spec,
  });
  informer();
  return {
    hosts,
    api,
    events,
    managed,
    informer,
    /** One reconcile as the controller runs it: from the cache, then the watch catches up. */
    async reconcile(): Promise<unknown> {
      try {
        await reconciler.reconcile(KEY);
        return undefined;
      } catch (e) {
        return e;
      } finally {
        informer();
      }
    },
    status(): HostMappingStatus {
      return (api.get(PATH)?.status ?? {}) as HostMappingStatus;
    },
    synced(): { status: string; reason: string; observedGeneration?: number } {
      return this.status().conditions!.find((c) => c.type === "Synced")!;
    },
    /** A user edit of the spec: generation moves. */
    edit(spec: Record<string, unknown>): void {
      const o = api.get(PATH)!;
      o.spec = { ...(o.spec as object), ...spec };
      o.metadata!.generation = (o.metadata!.generation ?? 0) + 1;
      api.put(PATH, o);
      informer();
    },
    /** `kubectl delete`: the API server sets deletionTimestamp while finalizers remain. */
    delete(): void {
      const o = api.get(PATH)!;
      o.metadata!.deletionTimestamp = "2026-01-01T01:00:00Z";
      api.put(PATH, o);
      informer();
    },
  };
}

Deno.test("reconciler: create → finalizer, AddHost, ONE status write with reason Created", async () => {
  const r = rig({ hostname: "nas.lan", ip: "10.0.0.5", tags: ["storage"] });
  assertEquals(await r.reconcile(), undefined);
  assertEquals(r.api.get(PATH)!.metadata!.finalizers, [HOSTMAPPING_FINALIZER]);
  assertEquals(r.api.writes, [`PATCH ${PATH}`, `PATCH ${PATH}/status`]);
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
  assertEquals(r.managed.get(KEY), true);

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
  const r = rig({ hostname: "nas.lan", ip: "10.0.0.5", tags: ["a", "b"] });
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
  const r = rig({ hostname: "nas.lan", ip: "10.0.0.5", tags: ["storage"] });
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
  assertEquals(r.api.get(PATH), undefined, "the object is gone once the finalizer is removed");
  assertEquals(r.managed.get(KEY), false);
});

Deno.test("reconciler: a failed cleanup keeps the finalizer, reason DeleteFailed, retried", async () => {
  const r = rig();
  await r.reconcile();
  const id = r.status().hostId!;
  r.delete();
  r.hosts.down = true;
  const err = await r.reconcile();
  assertOk(err instanceof RouterHostsError && !(err instanceof TerminalError));
  assertEquals(r.api.get(PATH)!.metadata!.finalizers, [HOSTMAPPING_FINALIZER]);
  assertEquals([r.status().phase, r.synced().reason], ["Error", "DeleteFailed"]);
  assertOk(r.status().message!.startsWith("cleanup of the host entry failed, finalizer kept"));
  r.hosts.down = false;
  assertEquals(await r.reconcile(), undefined);
  assertEquals([r.hosts.entries.has(id), r.api.get(PATH)], [false, undefined]);
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
  const o = r.api.get(PATH)!;
  o.metadata!.finalizers = [HOSTMAPPING_FINALIZER];
  r.api.put(PATH, o);
  r.delete();
  assertEquals(await r.reconcile(), undefined);
  assertEquals(r.hosts.entries.has(ours.id), false);
  assertEquals(r.hosts.entries.get(theirs.id), theirs, "someone else's entry is left alone");
  assertEquals(r.hosts.entries.get(other.id), other, "only an exact ip+hostname match");
  assertEquals(r.api.get(PATH), undefined);
});

Deno.test("fake router-hosts: DeleteHost honours expected_version as the server does", async () => {
  const hosts = new FakeHosts();
  const e = hosts.add({ ipAddress: "10.0.0.5", hostname: "nas.lan", comment: "k8s:home/nas" });
  await hosts.updateHost({ id: e.id, expectedVersion: e.version, tags: ["x"] });
  const stale = await assertRejects(() => hosts.deleteHost(e.id, e.version));
  assertOk(stale instanceof RouterHostsError && stale.outcome === "conflict", String(stale));
  assertMatch(stale.message, /version conflict on .*: expected 1, got 2/);
  const bad = await assertRejects(() => hosts.deleteHost(e.id, "v2"));
  assertOk(bad instanceof RouterHostsError && bad.outcome === "invalid");
  assertOk(hosts.entries.has(e.id), "a refused delete deletes nothing");
  // host_sync's owned delete reads the version first, so it passes the check.
  assertOk(await deleteHost(hosts, e.id, (x) => x.comment === "k8s:home/nas"));
  assertEquals(hosts.entries.has(e.id), false);
  const any = hosts.add({ ipAddress: "1.1.1.1", hostname: "a" });
  await hosts.updateHost({ id: any.id, expectedVersion: any.version, tags: ["y"] });
  await hosts.deleteHost(any.id);
  assertEquals(hosts.entries.has(any.id), false, "without expected_version: unconditional");
});
