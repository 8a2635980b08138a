import { assertEquals, assertOk } from "../../tests/assert.ts";
import { desiredHost, needsReconcile, projectHostMapping } from "./view.ts";

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
