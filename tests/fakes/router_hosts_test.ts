import { assertEquals, assertMatch, assertOk, assertRejects } from "../assert.ts";
import { RouterHostsError } from "../../grpc/errors.ts";
import { deleteHost } from "../../controllers/hosts/sync.ts";
import { FakeHosts } from "./router_hosts.ts";

Deno.test("fake router-hosts: DeleteHost honours expected_version as the server does", async () => {
  const hosts = new FakeHosts();
  const e = hosts.add({ ipAddress: "10.0.0.5", hostname: "nas.lan", comment: "k8s:home/nas" });
  await hosts.updateHost({ id: e.id, expectedVersion: e.version, tags: ["x"] });
  const stale = await assertRejects(() => hosts.deleteHost(e.id, e.version));
  assertOk(stale instanceof RouterHostsError && stale.outcome === "conflict", String(stale));
  assertMatch(stale.message, /version conflict on .*: expected 1, got 2/);
  const bad = await assertRejects(() => hosts.deleteHost(e.id, "v2"));
  assertOk(bad instanceof RouterHostsError && bad.outcome === "invalid");
  assertOk(hosts.entries.has(e.id), "a refused delete deletes nothing");
  // host_sync's owned delete reads the version first, so it passes the check.
  assertOk(await deleteHost(hosts, e.id, (x) => x.comment === "k8s:home/nas"));
  assertEquals(hosts.entries.has(e.id), false);
  const any = hosts.add({ ipAddress: "1.1.1.1", hostname: "a" });
  await hosts.updateHost({ id: any.id, expectedVersion: any.version, tags: ["y"] });
  await hosts.deleteHost(any.id);
  assertEquals(hosts.entries.has(any.id), false, "without expected_version: unconditional");
});
