import { assertEquals, assertRejects } from "../tests/assert.ts";
import {
  addFinalizerOps,
  finalize,
  finalizeReporting,
  removeFinalizerOps,
  type Reported,
} from "./finalizer.ts";

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

/** A controller's report: the outcome or error, and what it counts. */
interface Counted extends Reported {
  managed?: number;
  conflicts?: string[];
  released?: string[];
}

const writer = (list: string[]) => ({
  addFinalizer: (v: { finalizers: string[] }, name: string) => {
    list.push(`add ${name}`);
    return Promise.resolve({ ...v, finalizers: [...v.finalizers, name] });
  },
  removeFinalizer: (_v: unknown, name: string) => {
    list.push(`remove ${name}`);
    return Promise.resolve();
  },
});

Deno.test("finalizeReporting: a cleanup with an error keeps the finalizer; the report carries it", async () => {
  const writes: string[] = [];
  const gone = { deletionTimestamp: "t", finalizers: ["f"] };
  const failed = await finalizeReporting<View, Counted>(writer(writes), "f", gone, {
    apply: () => Promise.reject(new Error("not called")),
    cleanup: () => Promise.resolve({ released: ["a.lan"], error: new Error("down") }),
  });
  assertEquals([failed.error?.message, failed.released, writes], ["down", ["a.lan"], []]);
  const done = await finalizeReporting<View, Counted>(writer(writes), "f", gone, {
    apply: () => Promise.reject(new Error("not called")),
    cleanup: () => Promise.resolve({ managed: 0 }),
  });
  assertEquals([done, writes], [{ managed: 0, outcome: {} }, ["remove f"]]);
});

Deno.test("finalizeReporting: apply's report comes back; a throw becomes the report's error", async () => {
  const writes: string[] = [];
  const live = { finalizers: [] as string[] };
  const report = await finalizeReporting<View, Counted>(writer(writes), "f", live, {
    apply: async (_v, ensure) => {
      await ensure();
      return { managed: 2, conflicts: [] };
    },
    cleanup: () => Promise.reject(new Error("not called")),
  });
  assertEquals([report, writes], [{ managed: 2, conflicts: [], outcome: {} }, ["add f"]]);
  const thrown = await finalizeReporting<View, Counted>(writer(writes), "f", live, {
    apply: () => Promise.reject(new Error("boom")),
    cleanup: () => Promise.reject(new Error("not called")),
  });
  assertEquals(thrown.error?.message, "boom");
  await assertRejects(() => Promise.reject(thrown.error));
});
