import { assertEquals, assertRejects } from "../../tests/assert.ts";
import { FakeHosts } from "../../tests/fakes/router_hosts.ts";
import { isOutcome } from "../../grpc/errors.ts";
import { Logger } from "../../observability/log.ts";
import { DryRunEvents, dryRunHosts } from "./dry_run.ts";

function logged() {
  const lines: Record<string, unknown>[] = [];
  return { lines, log: new Logger({ sink: (l) => lines.push(JSON.parse(l)) }) };
}

Deno.test("dry run: writes are logged with the change and never reach the server; reads do", async () => {
  const hosts = new FakeHosts();
  const old = hosts.add({
    ipAddress: "10.0.0.1",
    hostname: "old.lan",
    comment: "k8s:a/b",
    tags: [],
  });
  const { lines, log } = logged();
  const dry = dryRunHosts(hosts, log);
  const added = await dry.addHost({
    ipAddress: "10.0.0.2",
    hostname: "new.lan",
    comment: "c",
    tags: ["t"],
  });
  assertEquals([added.hostname, added.tags], ["new.lan", ["t"]]);
  const updated = await dry.updateHost({
    id: old.id,
    expectedVersion: old.version,
    ipAddress: "10.0.0.9",
  });
  assertEquals([updated.hostname, updated.ipAddress], ["old.lan", "10.0.0.9"]);
  await dry.deleteHost(old.id, old.version);
  assertEquals([...hosts.entries.values()], [old], "nothing written");
  assertEquals(await dry.listHosts(), [old], "ListHosts reads the server (the webhook's records)");
  assertEquals(hosts.calls.filter((c) => /Add|Update|Delete/.test(c)), []);
  assertEquals(lines.map((l) => l.msg), [
    "dry-run: would AddHost",
    "dry-run: would UpdateHost",
    "dry-run: would DeleteHost",
  ]);
  assertEquals([lines[0].hostname, lines[1].ipAddress, lines[2].hostId], [
    "new.lan",
    "10.0.0.9",
    old.id,
  ]);
});

Deno.test("dry run: an AddHost of an existing ip+hostname answers ALREADY_EXISTS, as the server would", async () => {
  const hosts = new FakeHosts();
  hosts.add({ ipAddress: "10.0.0.1", hostname: "old.lan", comment: "x", tags: [] });
  const dry = dryRunHosts(hosts, logged().log);
  const e = await assertRejects(() => dry.addHost({ ipAddress: "10.0.0.1", hostname: "old.lan" }));
  assertEquals(isOutcome(e, "already-exists"), true);
});

Deno.test("dry run: Events are logged, not recorded", () => {
  const { lines, log } = logged();
  new DryRunEvents(log).event(
    { apiVersion: "v1", kind: "HostMapping", namespace: "a", name: "b", uid: "u" },
    "Warning",
    "HostnameConflict",
    "note",
  );
  assertEquals(lines[0].msg, "dry-run: would record Event");
  assertEquals([lines[0].object, lines[0].reason], ["a/b", "HostnameConflict"]);
});
