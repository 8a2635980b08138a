import { assertEquals } from "../../tests/assert.ts";
import { FakeHosts } from "../../tests/fakes/router_hosts.ts";
import { Logger } from "../../observability/log.ts";
import { retainEntries } from "./retain.ts";

Deno.test("retain: our entries are tagged retained once; others and missing ones are left", async () => {
  const hosts = new FakeHosts();
  const ours = hosts.add({ ipAddress: "10.0.0.1", hostname: "a.lan", comment: "k8s:x/a" });
  const done = hosts.add({
    ipAddress: "10.0.0.1",
    hostname: "b.lan",
    comment: "k8s:x/a",
    tags: ["retained"],
  });
  const theirs = hosts.add({ ipAddress: "10.0.0.1", hostname: "c.lan", comment: "manual" });
  const warnings: string[] = [];
  const log = new Logger({ sink: (line) => warnings.push(line) });
  const kept = await retainEntries(
    hosts,
    [ours, done, theirs, { hostname: "gone.lan", id: "01GONE" }],
    (e) => e.comment === "k8s:x/a",
    log,
    2,
  );
  assertEquals(kept, 2);
  assertEquals(hosts.entries.get(ours.id)!.tags, ["retained"]);
  assertEquals(hosts.entries.get(done.id)!.version, done.version, "already tagged: no write");
  assertEquals(hosts.entries.get(theirs.id), theirs);
  assertEquals(warnings.length, 1, "the missing entry is logged, not thrown");
});
