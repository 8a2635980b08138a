import { assertEquals } from "../tests/assert.ts";
import { Store } from "./store.ts";

Deno.test("apply reports a change only when the projection differs", () => {
  const s = new Store<{ ip: string; tags: string[] }>();
  assertEquals(s.apply("ns/a", { ip: "1", tags: ["x"] }), true);
  assertEquals(s.apply("ns/a", { tags: ["x"], ip: "1" }), false, "key order does not matter");
  assertEquals(s.apply("ns/a", { ip: "1", tags: ["x", "y"] }), true);
  assertEquals(s.apply("ns/a", undefined), true);
  assertEquals(s.apply("ns/a", undefined), false, "removing a missing key is no change");
  assertEquals(s.size, 0);
});

Deno.test("replace reports removals first, then additions and modifications only", () => {
  const s = new Store<number>();
  s.apply("a", 1);
  s.apply("b", 1);
  s.apply("c", 1);
  const changes = s.replace(new Map([["b", 1], ["c", 2], ["d", 1]]));
  assertEquals(changes, [
    { key: "a", value: undefined, previous: 1 },
    { key: "c", value: 2, previous: 1 },
    { key: "d", value: 1, previous: undefined },
  ]);
  assertEquals(s.keys().sort(), ["b", "c", "d"]);
  assertEquals(s.get("c"), 2);
  assertEquals(s.has("a"), false);
  assertEquals(s.values().sort(), [1, 1, 2]);
});

Deno.test("replace within: only the accepted keys are replaced, the others stay", () => {
  const s = new Store<number>();
  s.apply("a/x", 1);
  s.apply("a/y", 1);
  s.apply("b/x", 1);
  const changes = s.replace(new Map([["a/y", 2]]), (key) => key.startsWith("a/"));
  assertEquals(changes, [
    { key: "a/x", value: undefined, previous: 1 },
    { key: "a/y", value: 2, previous: 1 },
  ]);
  assertEquals(s.keys().sort(), ["a/y", "b/x"]);
});
