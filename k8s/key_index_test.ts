import { assertEquals } from "../tests/assert.ts";
import { KeyIndex } from "./key_index.ts";

Deno.test("key index: a target maps to exactly the sources that reference it now", () => {
  const ix = new KeyIndex();
  ix.set("apps/r1", ["infra/gw", "apps/gw"]);
  ix.set("apps/r2", ["infra/gw", "infra/gw"]);
  assertEquals(ix.sourcesOf("infra/gw").sort(), ["apps/r1", "apps/r2"]);
  assertEquals(ix.sourcesOf("apps/gw"), ["apps/r1"]);
  ix.set("apps/r1", ["apps/gw"]);
  assertEquals(ix.sourcesOf("infra/gw"), ["apps/r2"], "a dropped reference is forgotten");
  ix.set("apps/r2", []);
  assertEquals(ix.sourcesOf("infra/gw"), [], "a deleted source is forgotten");
  assertEquals(ix.sourcesOf("nobody/gw"), []);
});
