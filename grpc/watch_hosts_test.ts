import { assertEquals } from "../tests/assert.ts";
import { FakeClock } from "../k8s/clock.ts";
import { Logger } from "../observability/log.ts";
import type { WatchHostsMessage } from "../proto/hosts_codec.ts";
import { WATCH_ROTATED } from "./client.ts";
import { RouterHostsError } from "./errors.ts";
import { diffSnapshots, type EntryChange, HostsWatch } from "./watch_hosts.ts";

const known = (...entries: [string, string, string][]) =>
  new Map(entries.map(([id, version, hostname]) => [id, `${version}\0${hostname}`]));

Deno.test("diffSnapshots: appeared, changed (renamed or not) and vanished; equal entries are not changes", () => {
  const before = known(["a", "1", "a.lan"], ["b", "1", "b.lan"], ["c", "1", "c.lan"], [
    "d",
    "1",
    "d.lan",
  ]);
  const after = known(["a", "1", "a.lan"], ["b", "2", "b.lan"], ["c", "2", "x.lan"], [
    "e",
    "1",
    "e.lan",
  ]);
  assertEquals(diffSnapshots(before, after), [
    { kind: "changed", id: "b", hostname: "b.lan" },
    { kind: "changed", id: "c", hostname: "x.lan", previousHostname: "c.lan" },
    { kind: "appeared", id: "e", hostname: "e.lan" },
    { kind: "vanished", id: "d", hostname: "d.lan" },
  ]);
});

Deno.test("diffSnapshots: what our own writes and deletes explain is left out", () => {
  const before = known(["a", "1", "a.lan"], ["b", "1", "b.lan"]);
  const after = known(["a", "2", "a.lan"], ["c", "1", "c.lan"]);
  const own = new Map<string, string | null>([["a", "2\0a.lan"], ["b", null], ["c", "1\0c.lan"]]);
  assertEquals(diffSnapshots(before, after, own), []);
  // Someone else's edit after ours is still a change.
  const later = known(["a", "3", "a.lan"], ["c", "1", "c.lan"]);
  assertEquals(diffSnapshots(after, later, own), [{ kind: "changed", id: "a", hostname: "a.lan" }]);
});

/** A server the test scripts: each stream is a handle the test pushes messages into. */
class FakeServer {
  readonly streams: {
    push(msg: WatchHostsMessage): void;
    end(error?: RouterHostsError): void;
    cancelled: boolean;
  }[] = [];
  #waiters: (() => void)[] = [];

  watchHosts(handlers: {
    message(msg: WatchHostsMessage): void;
    end(error: RouterHostsError | undefined): void;
  }) {
    let ended = false;
    const stream = {
      cancelled: false,
      push: (msg: WatchHostsMessage) => handlers.message(msg),
      end: (error?: RouterHostsError) => {
        if (ended) return;
        ended = true;
        handlers.end(error);
      },
    };
    this.streams.push(stream);
    for (const w of this.#waiters.splice(0)) w();
    return {
      cancel: () => {
        stream.cancelled = true;
        stream.end(
          new RouterHostsError({
            code: 1,
            method: "WatchHosts",
            address: "x",
            serverMessage: "Cancelled on client",
          }),
        );
      },
    };
  }

  /** Resolves once `n` streams have been opened. */
  async opened(n: number): Promise<void> {
    while (this.streams.length < n) await new Promise<void>((r) => this.#waiters.push(r));
  }

  snapshot(stream: number, ...entries: [string, string, string][]): void {
    const s = this.streams[stream];
    for (const [id, version, hostname] of entries) s.push({ entry: { id, version, hostname } });
    s.push({ complete: { count: entries.length, changeId: String(stream) } });
  }
}

/** Resolves once the watch waits on a timer (its backoff). */
async function waiting(clock: FakeClock): Promise<void> {
  while (clock.pending === 0) await new Promise((r) => setTimeout(r, 0));
}

function error(code: number, serverMessage = "boom"): RouterHostsError {
  return new RouterHostsError({ code, method: "WatchHosts", address: "x", serverMessage });
}

function setup(options: { failuresBeforeFallback?: number; maxEntries?: number } = {}) {
  const server = new FakeServer();
  const changes: EntryChange[][] = [];
  const lines: string[] = [];
  const gauges = { connected: 0, fallback: 0, snapshots: 0, entries: -1 };
  const clock = new FakeClock();
  const watch = new HostsWatch({
    source: server,
    onChanges: (c) => changes.push(c),
    log: new Logger({ sink: (l) => lines.push(l) }),
    observer: {
      connected: (on) => gauges.connected = on ? 1 : 0,
      fallback: (on) => gauges.fallback = on ? 1 : 0,
      snapshot: (n) => {
        gauges.snapshots++;
        gauges.entries = n;
      },
    },
    backoff: { jitter: 0 },
    fallbackRetryMs: 300_000,
    clock,
    ...options,
  });
  const stop = new AbortController();
  const done = watch.run(stop.signal);
  return { server, changes, lines, gauges, clock, watch, stop, done };
}

Deno.test("HostsWatch: the first snapshot is the baseline; later ones report only what changed", async () => {
  const t = setup();
  await t.server.opened(1);
  t.server.snapshot(0, ["a", "1", "a.lan"], ["b", "1", "b.lan"]);
  assertEquals(t.changes, []);
  assertEquals([t.gauges.connected, t.gauges.snapshots, t.gauges.entries], [1, 1, 2]);
  t.server.snapshot(0, ["a", "1", "a.lan"], ["b", "1", "b.lan"]);
  assertEquals(t.changes, [], "a snapshot equal to the last reports nothing");
  t.server.snapshot(0, ["a", "2", "a.lan"]);
  assertEquals(t.changes, [[
    { kind: "changed", id: "a", hostname: "a.lan" },
    { kind: "vanished", id: "b", hostname: "b.lan" },
  ]]);
  t.stop.abort();
  await t.done;
  assertEquals(t.gauges.connected, 0);
  assertEquals(t.server.streams[0].cancelled, true);
});

Deno.test("HostsWatch: our own writes are not reported, even when a snapshot taken before them arrives after", async () => {
  const t = setup();
  await t.server.opened(1);
  t.server.snapshot(0, ["a", "1", "a.lan"], ["b", "1", "b.lan"]);
  t.watch.noteWrite({ id: "a", version: "2", hostname: "a.lan" });
  t.watch.noteWrite({ id: "c", version: "1", hostname: "c.lan" });
  t.watch.noteDelete("b");
  // Started before our writes: shows the old state.
  t.server.snapshot(0, ["a", "1", "a.lan"], ["b", "1", "b.lan"]);
  t.server.snapshot(0, ["a", "2", "a.lan"], ["c", "1", "c.lan"]);
  assertEquals(t.changes, []);
  // Once seen, a write is forgotten: a later change of the same entry is someone else's.
  t.server.snapshot(0, ["a", "1", "a.lan"], ["c", "1", "c.lan"]);
  assertEquals(t.changes, [[{ kind: "changed", id: "a", hostname: "a.lan" }]]);
  t.stop.abort();
  await t.done;
});

Deno.test("HostsWatch: after a reconnect the first snapshot is diffed against the last one before it", async () => {
  const t = setup();
  await t.server.opened(1);
  t.server.snapshot(0, ["a", "1", "a.lan"], ["b", "1", "b.lan"]);
  t.server.streams[0].end(error(14, "connection reset"));
  assertEquals(t.gauges.connected, 0);
  await waiting(t.clock);
  t.clock.advance(1_000);
  await t.server.opened(2);
  t.server.snapshot(1, ["b", "1", "b.lan"]);
  assertEquals(t.changes, [[{ kind: "vanished", id: "a", hostname: "a.lan" }]]);
  assertEquals(t.lines.filter((l) => l.includes("reconnecting")).length, 1);
  t.stop.abort();
  await t.done;
});

Deno.test("HostsWatch: UNIMPLEMENTED falls back at once, with one log line and the gauge, and retries quietly", async () => {
  const t = setup();
  await t.server.opened(1);
  t.server.streams[0].end(error(12, "unknown method WatchHosts"));
  await waiting(t.clock);
  assertEquals(t.gauges.fallback, 1);
  t.clock.advance(300_000);
  await t.server.opened(2);
  t.server.streams[1].end(error(12, "unknown method WatchHosts"));
  await waiting(t.clock);
  t.clock.advance(300_000);
  await t.server.opened(3);
  const warned = t.lines.filter((l) => l.includes("does not implement WatchHosts"));
  assertEquals(warned.length, 1);
  assertEquals(t.lines.filter((l) => l.includes("reconnecting")).length, 0);
  // A server upgraded meanwhile: live again.
  t.server.snapshot(2, ["a", "1", "a.lan"]);
  assertEquals(t.gauges.fallback, 0);
  t.stop.abort();
  await t.done;
});

Deno.test("HostsWatch: a stream that keeps failing falls back after the limit; one that gets a snapshot resets the count", async () => {
  const t = setup({ failuresBeforeFallback: 3 });
  for (let i = 0; i < 3; i++) {
    await t.server.opened(i + 1);
    t.server.streams[i].end(error(14, "connection refused"));
    await waiting(t.clock);
    if (i < 2) t.clock.advance(30_000);
  }
  assertEquals(t.gauges.fallback, 1);
  assertEquals(t.lines.filter((l) => l.includes("failed 3 times in a row")).length, 1);
  // Still retried at the backoff's pace (30 s at most), quietly; live again once it answers.
  t.clock.advance(30_000);
  await t.server.opened(4);
  t.server.snapshot(3, ["a", "1", "a.lan"]);
  assertEquals(t.gauges.fallback, 0);
  assertEquals(t.lines.filter((l) => l.includes("reconnecting")).length, 2);
  t.stop.abort();
  await t.done;
});

Deno.test("HostsWatch: a new client identity reopens the stream at once, without a failure", async () => {
  const t = setup({ failuresBeforeFallback: 1 });
  await t.server.opened(1);
  t.server.snapshot(0, ["a", "1", "a.lan"]);
  t.server.streams[0].end(error(1, WATCH_ROTATED));
  await t.server.opened(2);
  assertEquals(t.gauges.fallback, 0);
  assertEquals(t.lines.filter((l) => l.includes("reconnecting")).length, 0);
  t.stop.abort();
  await t.done;
});

Deno.test("HostsWatch: a snapshot whose count disagrees with its entries is ignored, not diffed", async () => {
  const t = setup();
  await t.server.opened(1);
  t.server.snapshot(0, ["a", "1", "a.lan"]);
  t.server.streams[0].push({ complete: { count: 5, changeId: "x" } });
  assertEquals(t.changes, []);
  assertEquals(t.gauges.snapshots, 1);
  assertEquals(t.lines.filter((l) => l.includes("count disagrees")).length, 1);
  t.stop.abort();
  await t.done;
});

Deno.test("HostsWatch: a snapshot above maxEntries is refused: the stream is cancelled and the watch falls back", async () => {
  const t = setup({ maxEntries: 2 });
  await t.server.opened(1);
  t.server.snapshot(0, ["a", "1", "a.lan"], ["b", "1", "b.lan"], ["c", "1", "c.lan"]);
  await waiting(t.clock);
  assertEquals(t.server.streams[0].cancelled, true);
  assertEquals([t.gauges.fallback, t.gauges.snapshots], [1, 0]);
  assertEquals(t.lines.filter((l) => l.includes("more than 2 entries")).length, 1);
  t.stop.abort();
  await t.done;
});

Deno.test("HostsWatch: a failure while waking objects is logged, not thrown into the stream", async () => {
  const server = new FakeServer();
  const lines: string[] = [];
  const watch = new HostsWatch({
    source: server,
    onChanges: () => {
      throw new Error("queue closed");
    },
    log: new Logger({ sink: (l) => lines.push(l) }),
    clock: new FakeClock(),
  });
  const stop = new AbortController();
  const done = watch.run(stop.signal);
  await server.opened(1);
  server.snapshot(0, ["a", "1", "a.lan"]);
  server.snapshot(0, ["a", "2", "a.lan"]);
  assertEquals(lines.filter((l) => l.includes("queue closed")).length, 1);
  assertEquals(watch.snapshots, 2);
  stop.abort();
  await done;
});
