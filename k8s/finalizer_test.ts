import { assertEquals, assertRejects } from "../tests/assert.ts";
import { addFinalizerOps, finalize, removeFinalizerOps } from "./finalizer.ts";

const F = "router-hosts.fzymgc.house/host-cleanup";

Deno.test("adding tests the list as seen and appends; none yet: tests that there is none", () => {
  assertEquals(addFinalizerOps(["other/x"], F), [
    { op: "test", path: "/metadata/finalizers", value: ["other/x"] },
    { op: "add", path: "/metadata/finalizers/-", value: F },
  ]);
  assertEquals(addFinalizerOps([], F), [
    { op: "test", path: "/metadata/finalizers", value: null },
    { op: "add", path: "/metadata/finalizers", value: [F] },
  ]);
  assertEquals(addFinalizerOps(["other/x", F], F), undefined, "already there: no patch");
});

Deno.test("removing tests that ours is still at the index seen, and removes only that", () => {
  assertEquals(removeFinalizerOps(["other/x", F, "other/y"], F), [
    { op: "test", path: "/metadata/finalizers/1", value: F },
    { op: "remove", path: "/metadata/finalizers/1" },
  ]);
  assertEquals(removeFinalizerOps(["other/x"], F), undefined, "not there: no patch");
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
