import { status } from "@grpc/grpc-js";
import { assertEquals } from "../tests/assert.ts";
import type { HostEntry, HostsPort, HostUpdate, NewHost } from "./hosts_port.ts";
import { RouterHostsError } from "./errors.ts";
import { type SettleResult, SettlingHosts } from "./settle.ts";

/**
 * A server with the real one's regeneration: each successful write commits,
 * lists every entry, waits the next of `delays` (ms), then replaces `file`.
 */
class RacyServer implements HostsPort {
  readonly address = "racy:1";
  readonly entries = new Map<string, HostEntry>();
  file: string[] = [];
  delays: number[] = [];
  calls: string[] = [];
  /** The next calls of this method fail with this code. */
  failing = new Map<string, number>();
  /** Called as each write arrives. */
  onWrite?: (call: string) => void;
  #next = 1;

  #fail(method: string): void {
    this.onWrite?.(this.calls.at(-1)!);
    const code = this.failing.get(method);
    if (code !== undefined) {
      throw new RouterHostsError({ code, method, address: this.address, serverMessage: "no" });
    }
  }

  async #regenerate(): Promise<void> {
    const listed = [...this.entries.values()].map((e) => e.hostname).sort();
    await new Promise((resolve) => setTimeout(resolve, this.delays.shift() ?? 0));
    this.file = listed;
  }

  async addHost(host: NewHost): Promise<HostEntry> {
    this.calls.push(`AddHost ${host.hostname}`);
    this.#fail("AddHost");
    const entry: HostEntry = {
      id: String(this.#next++).padStart(26, "0"),
      ipAddress: host.ipAddress,
      hostname: host.hostname,
      tags: host.tags ?? [],
      aliases: [],
      version: "1",
      comment: host.comment,
    };
    this.entries.set(entry.id, entry);
    await this.#regenerate();
    return entry;
  }
  async updateHost(update: HostUpdate): Promise<HostEntry> {
    const fields = Object.keys(update).filter((k) => k !== "id" && k !== "expectedVersion");
    this.calls.push(`UpdateHost ${update.id}${fields.length ? ` ${fields.join(",")}` : ""}`);
    this.#fail("UpdateHost");
    const entry = this.entries.get(update.id);
    if (!entry) {
      throw new RouterHostsError({
        code: status.NOT_FOUND,
        method: "UpdateHost",
        address: this.address,
        serverMessage: "not found",
      });
    }
    if (update.hostname) entry.hostname = update.hostname;
    await this.#regenerate();
    return { ...entry };
  }
  async deleteHost(id: string): Promise<void> {
    this.calls.push(`DeleteHost ${id}`);
    this.#fail("DeleteHost");
    this.entries.delete(id);
    await this.#regenerate();
  }
  getHost(id: string): Promise<HostEntry> {
    this.calls.push(`GetHost ${id}`);
    return Promise.resolve({ ...this.entries.get(id)! });
  }
  findExact(): Promise<HostEntry[]> {
    return Promise.resolve([]);
  }
  searchHosts(): Promise<HostEntry[]> {
    return Promise.resolve([]);
  }
  listHosts(): Promise<HostEntry[]> {
    this.calls.push("ListHosts");
    return Promise.resolve([...this.entries.values()].map((e) => ({ ...e })));
  }
}

const host = (hostname: string): NewHost => ({ ipAddress: "10.0.0.1", hostname });

/** The wrapper with quietMs 0, and the settle results it reported. */
function settling(server: RacyServer, owns?: (e: HostEntry) => boolean) {
  const results: SettleResult[] = [];
  let wake: () => void = () => {};
  const api = new SettlingHosts(server, {
    quietMs: 0,
    owns,
    onSettle: (result) => {
      results.push(result);
      if (result !== "not_found") wake();
    },
  });
  /** Resolves when the next settle ends (ok, failed or skipped). */
  const nextSettle = () => new Promise<void>((resolve) => wake = resolve);
  return { api, results, nextSettle };
}

/** Lets every timer of up to a few ms (the fake's delays, a 0 ms quiet period) fire. */
const timersRun = () => new Promise((resolve) => setTimeout(resolve, 50));

const writeCalls = (s: RacyServer) => s.calls.filter((c) => !/^(GetHost|ListHosts)/.test(c));

Deno.test("settle: two overlapping AddHosts whose regenerations reorder leave the file short; one no-op UpdateHost restores it", async () => {
  const server = new RacyServer();
  const { api, results, nextSettle } = settling(server);
  server.delays = [20, 0]; // the first write's regeneration lists less and writes last
  const settled = nextSettle();
  await Promise.all([api.addHost(host("a.lan")), api.addHost(host("b.lan"))]);
  assertEquals(server.file, ["a.lan"], "the race itself (without a settle the file stays so)");
  await settled;
  assertEquals(server.file, ["a.lan", "b.lan"]);
  assertEquals(results, ["ok"]);
  // Only the id (and the version last seen): no field, so no event on the server.
  assertEquals(writeCalls(server).slice(2), [`UpdateHost ${"1".padStart(26, "0")}`]);
  api.close();
});

Deno.test("settle: writes that never overlap cost no extra call", async () => {
  const server = new RacyServer();
  const { api, results } = settling(server);
  for (const name of ["a.lan", "b.lan", "c.lan"]) await api.addHost(host(name));
  const first = [...server.entries.keys()][0];
  await api.updateHost({ id: first, expectedVersion: "1", hostname: "a2.lan" });
  await api.deleteHost(first);
  await timersRun();
  assertEquals(results, []);
  assertEquals(writeCalls(server).length, 5);
  assertEquals(server.file, ["b.lan", "c.lan"]);
  api.close();
});

Deno.test("settle: a refused write (a version conflict) overlapping a successful one regenerates nothing, so no settle", async () => {
  const server = new RacyServer();
  const { api, results } = settling(server);
  await api.addHost(host("a.lan"));
  server.failing.set("UpdateHost", status.ABORTED);
  const id = [...server.entries.keys()][0];
  await Promise.allSettled([
    api.addHost(host("b.lan")),
    api.updateHost({ id, expectedVersion: "0", hostname: "x.lan" }),
  ]);
  await timersRun();
  assertEquals(results, []);
  api.close();
});

Deno.test("settle: a write whose fate is unknown (DEADLINE_EXCEEDED) counts as one that may have regenerated", async () => {
  const server = new RacyServer();
  const { api, results, nextSettle } = settling(server);
  await api.addHost(host("a.lan"));
  server.failing.set("DeleteHost", status.DEADLINE_EXCEEDED);
  const settled = nextSettle();
  await Promise.allSettled([api.addHost(host("b.lan")), api.deleteHost("0".repeat(26))]);
  await settled;
  assertEquals(results, ["ok"]);
  api.close();
});

Deno.test("settle: after overlapping deletes of every entry this process wrote, an owned entry it read carries the settle", async () => {
  const server = new RacyServer();
  const ours = (e: HostEntry) => e.comment === "ours";
  const { api, results, nextSettle } = settling(server, ours);
  server.entries.set("K".repeat(26), {
    id: "K".repeat(26),
    ipAddress: "10.0.0.9",
    hostname: "kept.lan",
    tags: [],
    aliases: [],
    version: "4",
    comment: "ours",
  });
  server.entries.set("F".repeat(26), {
    id: "F".repeat(26),
    ipAddress: "10.0.0.8",
    hostname: "foreign.lan",
    tags: [],
    aliases: [],
    version: "1",
  });
  await api.listHosts();
  const a = await api.addHost(host("a.lan"));
  const b = await api.addHost(host("b.lan"));
  server.delays = [20, 0]; // the first delete's regeneration writes last, listing b.lan
  const settled = nextSettle();
  await Promise.all([api.deleteHost(a.id), api.deleteHost(b.id)]);
  assertEquals(server.file.includes("b.lan"), true, "the race left a deleted name in the file");
  await settled;
  assertEquals(results, ["ok"]);
  assertEquals(writeCalls(server).at(-1), `UpdateHost ${"K".repeat(26)}`);
  assertEquals(server.file, ["foreign.lan", "kept.lan"]);
  api.close();
});

Deno.test("settle: with no entry left on the server nothing can carry it, and it says so", async () => {
  const server = new RacyServer();
  const { api, results, nextSettle } = settling(server);
  server.entries.set("A".repeat(26), {
    id: "A".repeat(26),
    ipAddress: "10.0.0.1",
    hostname: "a.lan",
    tags: [],
    aliases: [],
    version: "1",
  });
  const settled = nextSettle();
  await Promise.all([api.deleteHost("A".repeat(26)), api.deleteHost("B".repeat(26))]);
  await settled;
  assertEquals(results, ["skipped"]);
  assertEquals(writeCalls(server).length, 2);
  api.close();
});

Deno.test("settle: with no entry of ours left, another entry carries the no-op and is left unchanged", async () => {
  const server = new RacyServer();
  const { api, results, nextSettle } = settling(server, (e) => e.comment === "ours");
  const foreign: HostEntry = {
    id: "F".repeat(26),
    ipAddress: "10.0.0.8",
    hostname: "foreign.lan",
    tags: [],
    aliases: [],
    version: "7",
  };
  server.entries.set(foreign.id, { ...foreign });
  const a = await api.addHost(host("a.lan"));
  const b = await api.addHost(host("b.lan"));
  server.delays = [20, 0]; // the first delete's regeneration writes last, listing b.lan
  const settled = nextSettle();
  await Promise.all([api.deleteHost(a.id), api.deleteHost(b.id)]);
  assertEquals(server.file, ["b.lan", "foreign.lan"], "the race left a deleted name in the file");
  await settled;
  assertEquals(results, ["ok"]);
  assertEquals(writeCalls(server).at(-1), `UpdateHost ${foreign.id}`);
  assertEquals(server.entries.get(foreign.id), foreign);
  assertEquals(server.file, ["foreign.lan"]);
  api.close();
});

Deno.test("settle: a candidate deleted behind our back (NOT_FOUND) is dropped and the next one used", async () => {
  const server = new RacyServer();
  const { api, results, nextSettle } = settling(server);
  const a = await api.addHost(host("a.lan"));
  const b = await api.addHost(host("b.lan"));
  server.entries.delete(b.id);
  const settled = nextSettle();
  await Promise.all([
    api.updateHost({ id: a.id, expectedVersion: "1", hostname: "a2.lan" }),
    api.addHost(host("c.lan")),
  ]);
  await settled;
  assertEquals(results, ["ok"]);
  // The newest entry of ours, c.lan, carries it.
  assertEquals(writeCalls(server).at(-1), `UpdateHost ${"3".padStart(26, "0")}`);
  // c.lan and b.lan deleted behind our back: c.lan is tried, then a.lan carries it.
  server.entries.delete("3".padStart(26, "0"));
  const again = nextSettle();
  await Promise.all([api.addHost(host("d.lan")), api.deleteHost("4".padStart(26, "0"))]);
  await again;
  assertEquals(results, ["ok", "not_found", "ok"]);
  assertEquals(writeCalls(server).at(-1), `UpdateHost ${a.id}`);
  api.close();
});

Deno.test("settle: a failed settle write is retried after the next write, overlapping or not", async () => {
  const server = new RacyServer();
  const { api, results, nextSettle } = settling(server);
  server.failing.set("UpdateHost", status.UNAVAILABLE);
  let settled = nextSettle();
  await Promise.all([api.addHost(host("a.lan")), api.addHost(host("b.lan"))]);
  await settled;
  assertEquals(results, ["failed"]);
  server.failing.clear();
  settled = nextSettle();
  await api.addHost(host("c.lan"));
  await settled;
  assertEquals(results, ["failed", "ok"]);
  api.close();
});

Deno.test("settle: a write overlapping the settle write itself is settled once more", async () => {
  const server = new RacyServer();
  const { api, results, nextSettle } = settling(server);
  let late: Promise<HostEntry> | undefined;
  server.onWrite = (call) => {
    if (!call.startsWith("UpdateHost")) return;
    server.onWrite = undefined;
    // The settle write lists before c.lan commits and writes last.
    server.delays = [20, 0];
    queueMicrotask(() => late = api.addHost(host("c.lan")));
  };
  let settled = nextSettle();
  await Promise.all([api.addHost(host("a.lan")), api.addHost(host("b.lan"))]);
  await settled;
  await late;
  assertEquals(server.file.includes("c.lan"), false, "the settle write raced c.lan");
  settled = nextSettle();
  await settled;
  assertEquals(results, ["ok", "ok"]);
  assertEquals(server.file, ["a.lan", "b.lan", "c.lan"]);
  api.close();
});

Deno.test("settle: close() cancels a pending settle", async () => {
  const server = new RacyServer();
  const api = new SettlingHosts(server, { quietMs: 0 });
  await Promise.all([api.addHost(host("a.lan")), api.addHost(host("b.lan"))]);
  api.close();
  await timersRun();
  assertEquals(writeCalls(server).length, 2);
});
