import { assertEquals, assertOk } from "../tests/assert.ts";
import { fingerprint, viewOf } from "./view.ts";

const object = {
  apiVersion: "v1",
  kind: "Service",
  metadata: {
    namespace: "web",
    name: "app",
    uid: "u-1",
    resourceVersion: "42",
    generation: 3,
    finalizers: ["router-hosts.fzymgc.house/finalizer"],
    labels: { app: "web" },
    annotations: { "reconcile": "1", "ours/host-ids": "a,b" },
  },
};

Deno.test("viewOf keeps the metadata a reconcile reads, with defaults for missing fields", () => {
  const view = viewOf(object);
  assertEquals(
    [view.namespace, view.name, view.uid, view.resourceVersion, view.generation],
    ["web", "app", "u-1", "42", 3],
  );
  assertEquals(view.finalizers, ["router-hosts.fzymgc.house/finalizer"]);
  assertEquals("deletionTimestamp" in view, false);
  const bare = viewOf({ apiVersion: "v1", kind: "Service", metadata: {} });
  assertEquals([bare.namespace, bare.name, bare.generation, bare.finalizers], ["", "", 0, []]);
  const deleting = viewOf({
    ...object,
    metadata: { ...object.metadata, deletionTimestamp: "2026-01-01T00:00:00Z" },
  });
  assertEquals(deleting.deletionTimestamp, "2026-01-01T00:00:00Z");
});

Deno.test("the fingerprint moves with labels and annotations, except the ignored ones", () => {
  const base = viewOf(object, ["ours/host-ids"]).metaHash;
  const annotated = (annotations: Record<string, string>) =>
    viewOf({ ...object, metadata: { ...object.metadata, annotations } }, ["ours/host-ids"])
      .metaHash;
  assertEquals(annotated({ reconcile: "1", "ours/host-ids": "c" }), base, "our own annotation");
  assertOk(annotated({ reconcile: "2", "ours/host-ids": "a,b" }) !== base, "a user's annotation");
  const relabelled = viewOf(
    { ...object, metadata: { ...object.metadata, labels: { app: "api" } } },
    ["ours/host-ids"],
  );
  assertOk(relabelled.metaHash !== base, "a label");
});

Deno.test("fingerprint is stable and short", () => {
  assertEquals(fingerprint({ a: 1 }), fingerprint({ a: 1 }));
  assertOk(fingerprint({ a: 1 }) !== fingerprint({ a: 2 }));
  assertOk(/^[0-9a-z]{1,7}$/.test(fingerprint(["x"])));
});
