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
  forEachLimit,
  HostnameHeldError,
} from "./sync.ts";

const desired: DesiredHost = {
  ipAddress: "10.0.0.5",
  hostname: "nas.lan",
  comment: "k8s:default/nas",
  aliases: ["files.lan"],
  tags: ["storage"],
};
const ours = (e: HostEntry) => e.comment === "k8s:default/nas";

Deno.test("no known id: AddHost once, between two looks for another holder of the name", async () => {
  const api = new FakeHosts();
  const r = await ensureHost(api, desired, undefined, ours);
  assertEquals(r.action, "created");
  assertEquals(r.entry.version, "1");
  assertEquals(api.calls, ["SearchHosts", "AddHost", "SearchHosts"]);
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

Deno.test("forEachLimit: at most `limit` at once, none started after abort", async () => {
  let running = 0, peak = 0;
  const seen: number[] = [];
  const stop = new AbortController();
  await forEachLimit([1, 2, 3, 4, 5, 6], 2, stop.signal, async (n) => {
    running++;
    peak = Math.max(peak, running);
    seen.push(n);
    await Promise.resolve();
    if (n === 3) stop.abort();
    running--;
  });
  assertEquals(peak, 2);
  assertEquals(seen, [1, 2, 3, 4]);
});

Deno.test("one hostname, one holder: an entry of the name at another IP is never shadowed", async () => {
  for (
    const holder of [
      { ipAddress: "10.66.0.3", hostname: "nas.lan", comment: "added by hand" },
      { ipAddress: "10.66.0.3", hostname: "NAS.lan", comment: "k8s:other/nas" },
      {
        ipAddress: "10.66.0.3",
        hostname: "nas.lan",
        comment: "k8s:default/nas",
        tags: ["owner:b"],
      },
    ]
  ) {
    const api = new FakeHosts();
    const held = api.add(holder);
    const owned = (e: HostEntry) => ours(e) && !e.tags.some((t) => t.startsWith("owner:"));
    const e = await assertRejects(() => ensureHost(api, desired, undefined, owned));
    assertOk(e instanceof HostnameHeldError, holder.comment);
    assertEquals(e.entry.id, held.id);
    assertEquals(api.calls, ["SearchHosts"], "no AddHost beside the holder");
    assertEquals([...api.entries.values()], [held]);
  }
});

Deno.test("one object may hold several entries of its name (IPv4 and IPv6)", async () => {
  const api = new FakeHosts();
  const v4 = await ensureHost(api, desired, undefined, ours);
  const v6 = await ensureHost(api, { ...desired, ipAddress: "fd00::5" }, undefined, ours);
  assertEquals([v4.action, v6.action], ["created", "created"]);
  assertEquals(api.entries.size, 2);
});

Deno.test("two writers racing for a free name: the newer entry is deleted by its writer", async () => {
  const api = new FakeHosts();
  const add = api.addHost.bind(api);
  let rival: HostEntry | undefined;
  api.addHost = (h) => {
    // Another object's AddHost lands first, after our first look.
    rival = api.add({ ipAddress: "10.66.0.3", hostname: "nas.lan", comment: "k8s:other/nas" });
    return add(h);
  };
  const e = await assertRejects(() => ensureHost(api, desired, undefined, ours));
  assertOk(e instanceof HostnameHeldError);
  assertEquals(e.entry.id, rival!.id);
  assertEquals([...api.entries.keys()], [rival!.id]);
});

Deno.test("canonical IPs: every spelling makes one entry, written in RFC 5952 form", async () => {
  const api = new FakeHosts();
  const first = await ensureHost(api, { ...desired, ipAddress: "FD00::1" }, undefined, ours);
  assertEquals(first.entry.ipAddress, "fd00::1");
  for (const spelling of ["fd00::1", "fd00:0::1"]) {
    const again = await ensureHost(api, { ...desired, ipAddress: spelling }, undefined, ours);
    assertEquals([again.action, again.entry.id], ["adopted", first.entry.id]);
  }
  assertEquals(api.entries.size, 1);
  // An entry of ours written before, spelled otherwise, is rewritten once (IP only).
  const old = api.add({ ...desired, hostname: "old.lan", ipAddress: "FD00:0::2" });
  const fixed = await ensureHost(
    api,
    { ...desired, hostname: "old.lan", ipAddress: "fd00::2" },
    old.id,
    ours,
  );
  assertEquals([fixed.action, fixed.entry.ipAddress, fixed.entry.version], [
    "updated",
    "fd00::2",
    "2",
  ]);
});

Deno.test("an IP move sends only the IP: the version moves by exactly 1", async () => {
  const api = new FakeHosts();
  const created = await ensureHost(api, desired, undefined, ours);
  const moved = await ensureHost(
    api,
    { ...desired, ipAddress: "10.0.0.6" },
    created.entry.id,
    ours,
  );
  assertEquals([moved.action, moved.entry.version], ["updated", "2"]);
});
