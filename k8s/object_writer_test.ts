import { assertEquals } from "../tests/assert.ts";
import type { RequestOptions } from "./client.ts";
import { ObjectWriter } from "./object_writer.ts";
import type { KubeObject, ResourceType } from "./resource.ts";
import { Store } from "./store.ts";
import { type ObjectView, viewOf } from "./view.ts";

const RT: ResourceType = {
  group: "x.io",
  version: "v1",
  plural: "things",
  kind: "Thing",
  namespaced: true,
};

function thing(rv: string, extra: Record<string, unknown> = {}): KubeObject {
  return { metadata: { namespace: "ns", name: "a", uid: "u", resourceVersion: rv, ...extra } };
}

/** Answers every PATCH with `answer`, after `before` ran (the watch racing the response). */
function writer(store: Store<ObjectView>, answer: KubeObject, before: () => void = () => {}) {
  return new ObjectWriter<ObjectView>({
    api: {
      request<T>(_o: RequestOptions): Promise<T> {
        before();
        return Promise.resolve(answer as T);
      },
    },
    resource: RT,
    project: (o) => viewOf(o),
    store,
  });
}

Deno.test("object writer: our answer goes into the cache over the version it started from", async () => {
  const store = new Store<ObjectView>();
  store.apply("ns/a", viewOf(thing("1")));
  await writer(store, thing("2", { annotations: { k: "v" } }))
    .writeAnnotations(viewOf(thing("1")), { k: "v" });
  assertEquals(store.get("ns/a")?.resourceVersion, "2");
});

Deno.test("object writer: a newer version from the watch is never replaced by our answer", async () => {
  const store = new Store<ObjectView>();
  store.apply("ns/a", viewOf(thing("1")));
  const deleting = viewOf(thing("3", { deletionTimestamp: "2026-01-01T00:00:00Z" }));
  await writer(store, thing("2"), () => store.apply("ns/a", deleting))
    .writeAnnotations(viewOf(thing("1")), { k: "v" });
  assertEquals(store.get("ns/a"), deleting, "the deletion the watch delivered stays");
  await writer(store, thing("4"), () => store.apply("ns/a", undefined))
    .writeStatus(deleting, {});
  assertEquals(store.get("ns/a"), undefined, "a deleted object is not brought back");
});
