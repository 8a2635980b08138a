import { status } from "@grpc/grpc-js";
import { FakeHosts } from "../../tests/fakes/router_hosts.ts";
import { assertEquals, assertOk, assertRejects } from "../../tests/assert.ts";
import type { HostEntry } from "../../grpc/hosts_port.ts";
import { RouterHostsError } from "../../grpc/errors.ts";
import {
  AdoptionRefusedError,
  deleteHost,
  type DesiredHost,
  diffHost,
  ensureHost,
} from "./sync.ts";

const desired: DesiredHost = {
  ipAddress: "10.0.0.5",
  hostname: "nas.lan",
  comment: "k8s:default/nas",
  aliases: ["files.lan"],
  tags: ["storage"],
};
const ours = (e: HostEntry) => e.comment === "k8s:default/nas";

Deno.test("no known id: AddHost once and return the created entry with its version", async () => {
  const api = new FakeHosts();
  const r = await ensureHost(api, desired, undefined, ours);
  assertEquals(r.action, "created");
  assertEquals(r.entry.version, "1");
  assertEquals(api.calls, ["AddHost"]);
});

Deno.test("known id and equal entry (lists as sets): one GetHost, no write", async () => {
  const api = new FakeHosts();
  const created = await api.addHost({ ...desired, aliases: ["files.lan"], tags: ["storage"] });
  api.calls = [];
  const r = await ensureHost(api, { ...desired, tags: ["storage", "storage"] }, created.id, ours);
  assertEquals(r.action, "unchanged");
  assertEquals(api.calls, ["GetHost"]);
});

Deno.test("changed spec: one UpdateHost carrying the version read and only the changed fields", () => {
  const entry: HostEntry = { id: "X", ...desired, version: "7" };
  assertEquals(diffHost(entry, desired), undefined);
  assertEquals(diffHost(entry, { ...desired, ipAddress: "10.0.0.6", aliases: [] }), {
    id: "X",
    expectedVersion: "7",
    ipAddress: "10.0.0.6",
    aliases: [],
  });
  assertEquals(diffHost(entry, { ...desired, tags: ["b", "a"] }), {
    id: "X",
    expectedVersion: "7",
    tags: ["b", "a"],
  });
  assertEquals(diffHost({ ...entry, comment: undefined }, { ...desired, comment: "" }), undefined);
});

Deno.test("clearing aliases and tags sends empty lists", async () => {
  const api = new FakeHosts();
  const created = await api.addHost(desired);
  const r = await ensureHost(api, { ...desired, aliases: [], tags: [] }, created.id, ours);
  assertEquals(r.action, "updated");
  assertEquals([r.entry.aliases, r.entry.tags], [[], []]);
});

Deno.test("a version conflict is re-read and retried", async () => {
  const api = new FakeHosts();
  const created = await api.addHost(desired);
  api.interfere = 1;
  api.calls = [];
  const r = await ensureHost(api, { ...desired, ipAddress: "10.0.0.9" }, created.id, ours);
  assertEquals(r.entry.ipAddress, "10.0.0.9");
  assertEquals(api.calls, ["GetHost", "UpdateHost", "GetHost", "UpdateHost"]);
});

Deno.test("entry deleted out of band: recreated", async () => {
  const api = new FakeHosts();
  const r = await ensureHost(api, desired, "01HZZZZZZZZZZZZZZZZZZZZZ99", ours);
  assertEquals(r.action, "recreated");
  assertOk(api.entries.has(r.entry.id));
  const s = await ensureHost(api, desired, "not-a-ulid", ours);
  assertEquals(s.action, "recreated");
  assertEquals(s.entry.id, r.entry.id, "the second recreate adopts the first (same owner)");
});

Deno.test("ALREADY_EXISTS with our comment: adopted and converged", async () => {
  const api = new FakeHosts();
  await api.addHost({ ...desired, aliases: [] });
  const r = await ensureHost(api, desired, undefined, ours);
  assertEquals(r.action, "adopted");
  assertEquals(r.entry.aliases, ["files.lan"]);
});

Deno.test("ALREADY_EXISTS with a foreign comment: refused, the entry untouched", async () => {
  const api = new FakeHosts();
  const foreign = await api.addHost({ ...desired, comment: "added by hand" });
  const e = await assertRejects(() => ensureHost(api, desired, undefined, ours));
  assertOk(e instanceof AdoptionRefusedError);
  assertEquals(api.entries.get(foreign.id)?.comment, "added by hand");
  assertEquals(api.entries.get(foreign.id)?.version, "1");
});

Deno.test("delete: NOT_FOUND and impossible ids count as done; other errors propagate", async () => {
  const api = new FakeHosts();
  await deleteHost(api, "01HZZZZZZZZZZZZZZZZZZZZZ99");
  const e = new FakeHosts();
  e.deleteHost = () =>
    Promise.reject(
      new RouterHostsError({
        code: status.UNAVAILABLE,
        method: "DeleteHost",
        address: "x",
        serverMessage: "down",
      }),
    );
  await assertRejects(() => deleteHost(e, "01HZZZZZZZZZZZZZZZZZZZZZ01"));
});
