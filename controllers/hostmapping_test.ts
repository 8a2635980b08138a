import { assertEquals, assertOk } from "../tests/assert.ts";
import { status } from "@grpc/grpc-js";
import { RouterHostsError } from "../grpc/errors.ts";
import {
  classifyError,
  desiredHost,
  errorStatus,
  needsReconcile,
  projectHostMapping,
  statusEquivalent,
  syncedStatus,
} from "./hostmapping.ts";
import { AdoptionRefusedError } from "./host_sync.ts";

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
  const first = syncedStatus({}, entry, 3, t0, true);
  assertEquals(first.phase, "Synced");
  assertEquals(first.lastSyncTime, "2026-01-01T00:00:00Z");
  const later = syncedStatus(first, entry, 3, new Date("2026-01-01T01:00:00Z"), false);
  assertOk(statusEquivalent(first, later));
  const moved = syncedStatus(
    first,
    { ...entry, version: "5" },
    4,
    new Date("2026-01-01T01:00:00Z"),
    true,
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
