import { assertEquals, assertMatch, assertRejects, assertThrows } from "../tests/assert.ts";
import { KubeApiError } from "./client.ts";
import {
  addFinalizer,
  addFinalizerPatch,
  finalize,
  type FinalizerClient,
  hasFinalizer,
  removeFinalizer,
  removeFinalizerPatch,
} from "./finalizer.ts";
import type { ResourceType } from "./resource.ts";

const F = "router-hosts.fzymgc.house/host-cleanup";
const RT: ResourceType = {
  group: "router-hosts.fzymgc.house",
  version: "v1alpha1",
  plural: "hostmappings",
  kind: "HostMapping",
  namespaced: true,
};
const obj = (finalizers?: string[]) => ({
  metadata: { namespace: "ns", name: "a", resourceVersion: "17", finalizers },
});

Deno.test("the add patch keeps other finalizers and carries the resourceVersion", () => {
  assertEquals(addFinalizerPatch(obj(["other/x"]), F), {
    metadata: { finalizers: ["other/x", F], resourceVersion: "17" },
  });
  assertEquals(addFinalizerPatch(obj(), F), {
    metadata: { finalizers: [F], resourceVersion: "17" },
  });
  assertEquals(addFinalizerPatch(obj([F]), F), undefined, "already there: no patch");
});

Deno.test("the remove patch keeps other finalizers and carries the resourceVersion", () => {
  assertEquals(removeFinalizerPatch(obj(["other/x", F]), F), {
    metadata: { finalizers: ["other/x"], resourceVersion: "17" },
  });
  assertEquals(removeFinalizerPatch(obj([F]), F), {
    metadata: { finalizers: [], resourceVersion: "17" },
  });
  assertEquals(removeFinalizerPatch(obj(["other/x"]), F), undefined);
  assertEquals(hasFinalizer(obj([F]), F), true);
  assertEquals(hasFinalizer(obj(), F), false);
});

Deno.test("a patch without resourceVersion is refused", () => {
  const e = assertThrows(() => addFinalizerPatch({ metadata: { name: "a" } }, F));
  assertMatch(e.message, /resourceVersion/);
});

function fakeClient(answer: (path: string, patch: unknown) => unknown) {
  const calls: [string, unknown][] = [];
  const client: FinalizerClient = {
    mergePatch<T>(path: string, patch: unknown): Promise<T> {
      calls.push([path, patch]);
      try {
        return Promise.resolve(answer(path, patch) as T);
      } catch (e) {
        return Promise.reject(e);
      }
    },
  };
  return { client, calls };
}

Deno.test("addFinalizer merge-patches the object and skips the call when present", async () => {
  const { client, calls } = fakeClient(() => obj([F]));
  const patched = await addFinalizer(client, RT, obj(), F);
  assertEquals(patched.metadata.finalizers, [F]);
  assertEquals(calls, [[
    "/apis/router-hosts.fzymgc.house/v1alpha1/namespaces/ns/hostmappings/a",
    { metadata: { finalizers: [F], resourceVersion: "17" } },
  ]]);
  await addFinalizer(client, RT, obj([F]), F);
  assertEquals(calls.length, 1);
});

Deno.test("removeFinalizer treats a vanished object as done and passes conflicts on", async () => {
  const gone = fakeClient(() => {
    throw new KubeApiError("not found", { status: 404 });
  });
  assertEquals(await removeFinalizer(gone.client, RT, obj([F]), F), undefined);
  const stale = fakeClient(() => {
    throw new KubeApiError("conflict", { status: 409 });
  });
  const e = await assertRejects(() => removeFinalizer(stale.client, RT, obj([F]), F));
  assertEquals((e as KubeApiError).status, 409);
});

/** Records finalizer writes; the view it returns carries the change. */
class Writer {
  calls: string[] = [];
  addFinalizer(v: View, name: string): Promise<View> {
    this.calls.push(`add ${name}`);
    return Promise.resolve({ ...v, finalizers: [...v.finalizers, name] });
  }
  removeFinalizer(_v: View, name: string): Promise<void> {
    this.calls.push(`remove ${name}`);
    return Promise.resolve();
  }
}
type View = { finalizers: string[]; deletionTimestamp?: string };

Deno.test("finalize: apply adds the finalizer only when asked, and only once", async () => {
  const w = new Writer();
  const seen: View[] = [];
  await finalize(w, F, { finalizers: [] }, {
    apply: async (_v, ensure) => {
      seen.push(await ensure());
      return {};
    },
    cleanup: () => Promise.reject(new Error("not deleting")),
  });
  assertEquals(w.calls, [`add ${F}`]);
  assertEquals(seen[0].finalizers, [F]);
  await finalize(w, F, { finalizers: [F] }, {
    apply: async (_v, ensure) => (await ensure(), { requeueAfterMs: 5 }),
    cleanup: () => Promise.reject(new Error("not deleting")),
  });
  assertEquals(w.calls, [`add ${F}`], "already there: no write");
  const noWork = await finalize(w, F, { finalizers: [] }, {
    apply: () => Promise.resolve({}),
    cleanup: () => Promise.reject(new Error("not deleting")),
  });
  assertEquals([noWork, w.calls.length], [{}, 1], "apply that writes nothing adds nothing");
});

Deno.test("finalize: cleanup runs under our finalizer, which goes only after it succeeds", async () => {
  const w = new Writer();
  const deleting = { finalizers: ["other/x", F], deletionTimestamp: "2026-01-01T00:00:00Z" };
  const fail = {
    apply: () => Promise.resolve({}),
    cleanup: () => Promise.reject(new Error("down")),
  };
  await assertRejects(() => finalize(w, F, deleting, fail));
  assertEquals(w.calls, [], "finalizer kept when cleanup fails");
  let cleaned = 0;
  const ok = { apply: () => Promise.resolve({}), cleanup: () => (cleaned++, Promise.resolve({})) };
  await finalize(w, F, deleting, ok);
  assertEquals([cleaned, w.calls], [1, [`remove ${F}`]]);
  await finalize(w, F, { ...deleting, finalizers: ["other/x"] }, ok);
  assertEquals(cleaned, 1, "without our finalizer there is nothing to clean up");
});
