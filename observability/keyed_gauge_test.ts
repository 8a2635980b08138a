import { assertEquals } from "../tests/assert.ts";
import { KeyedGauge } from "./keyed_gauge.ts";

Deno.test("keyed gauge: publishes the sum over keys per controller, 0 from the start", () => {
  const published: [string, number][] = [];
  const g = new KeyedGauge({ set: (l, v) => published.push([l.controller, v]) }, "ingress");
  assertEquals(published, [["ingress", 0]]);
  g.set("a/x", 3);
  g.set("a/y", 2);
  g.set("a/x", 3);
  g.set("a/x", 1);
  g.delete("a/y");
  g.delete("a/unknown");
  assertEquals(g.total, 1);
  assertEquals(published.map(([, v]) => v), [0, 3, 5, 3, 1]);
});
