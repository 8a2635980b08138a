import { Logger } from "../observability/log.ts";
import { assertEquals, assertOk } from "../tests/assert.ts";
import {
  type CallOptions,
  KubeApiError,
  type Query,
  type WatchEvent,
  WatchInactiveError,
} from "./client.ts";
import { Informer, type InformerOptions, type ListWatchClient } from "./watcher.ts";
import type { KubeList, KubeObject, ResourceType } from "./resource.ts";

const RT: ResourceType = {
  group: "example.com",
  version: "v1",
  plural: "widgets",
  kind: "Widget",
  namespaced: true,
};

function widget(name: string, rv: string, spec: unknown, status?: unknown): KubeObject {
  return { metadata: { namespace: "ns", name, resourceVersion: rv }, spec, status };
}

/** One watch stream the test feeds by hand. */
class Stream {
  readonly query: Query;
  readonly #items: (WatchEvent | { end: true } | { error: unknown })[] = [];
  #wake?: () => void;

  constructor(query: Query) {
    this.query = query;
  }

  send(type: WatchEvent["type"], object: KubeObject): void {
    this.#push({ type, object });
  }

  close(): void {
    this.#push({ end: true });
  }

  fail(error: unknown): void {
    this.#push({ error });
  }

  #push(item: WatchEvent | { end: true } | { error: unknown }): void {
    this.#items.push(item);
    this.#wake?.();
  }

  async *events(signal: AbortSignal): AsyncGenerator<WatchEvent> {
    for (;;) {
      while (this.#items.length === 0) {
        if (signal.aborted) return;
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
          signal.addEventListener("abort", () => resolve(), { once: true });
        });
      }
      const item = this.#items.shift()!;
      if ("end" in item) return;
      if ("error" in item) throw item.error;
      yield item;
    }
  }
}

/** An in-memory ListWatchClient: lists come from `onList`, watches are {@link Stream}s. */
class FakeApi implements ListWatchClient {
  lists: Query[] = [];
  streams: Stream[] = [];
  onList: (query: Query) => KubeList = () => ({ metadata: { resourceVersion: "1" }, items: [] });

  list<T>(_path: string, query: Query = {}, _opts?: CallOptions): Promise<T> {
    this.lists.push(query);
    try {
      return Promise.resolve(this.onList(query) as T);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  watch(_path: string, query: Query, signal: AbortSignal): AsyncIterable<WatchEvent> {
    const stream = new Stream(query);
    this.streams.push(stream);
    return stream.events(signal);
  }
}

async function until(cond: () => boolean, what: string, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

type Projection = { spec: unknown };

function setup(api: FakeApi, extra: Partial<InformerOptions<Projection>> = {}) {
  const changes: [string, Projection | undefined][] = [];
  const logs: Record<string, unknown>[] = [];
  const informer = new Informer<Projection>({
    client: api,
    resource: RT,
    project: (obj) => ({ spec: obj.spec }),
    log: new Logger({ level: "debug", sink: (line) => logs.push(JSON.parse(line)) }),
    onChange: (key, obj) => changes.push([key, obj]),
    backoff: { initialMs: 1, maxMs: 8 },
    random: () => 0,
    ...extra,
  });
  const ctl = new AbortController();
  const running = informer.run(ctl.signal);
  const stop = async () => {
    ctl.abort();
    await running;
  };
  return { informer, changes, logs, stop };
}

Deno.test("lists page by page, then watches from the list's resourceVersion", async () => {
  const api = new FakeApi();
  const all = ["a", "b", "c", "d", "e"].map((n) => widget(n, "7", { n }));
  api.onList = (q) => {
    const start = Number(q.continue ?? 0);
    const next = start + Number(q.limit);
    return {
      metadata: { resourceVersion: "42", continue: next < all.length ? String(next) : undefined },
      items: all.slice(start, next),
    };
  };
  const { informer, changes, stop } = setup(api, { pageSize: 2 });
  assertOk(await informer.waitForSync(AbortSignal.timeout(2000)));
  await until(() => api.streams.length === 1, "the watch");
  assertEquals(api.lists.map((q) => [q.limit, q.continue, q.resourceVersion]), [
    [2, undefined, undefined],
    [2, "2", undefined],
    [2, "4", undefined],
  ]);
  const w = api.streams[0].query;
  assertEquals([w.resourceVersion, w.allowWatchBookmarks], ["42", true]);
  assertOk(Number(w.timeoutSeconds) >= 300 && Number(w.timeoutSeconds) <= 600);
  assertEquals(changes.map(([k]) => k), ["ns/a", "ns/b", "ns/c", "ns/d", "ns/e"]);
  assertEquals(informer.store.size, 5);
  await stop();
});

Deno.test("watch events update the store; unchanged projections are not reported", async () => {
  const api = new FakeApi();
  const { informer, changes, stop } = setup(api);
  await until(() => api.streams.length === 1, "the watch");
  const s = api.streams[0];
  s.send("ADDED", widget("a", "2", { ip: "10.0.0.1" }));
  s.send("MODIFIED", widget("a", "3", { ip: "10.0.0.1" }, { phase: "Synced" }));
  s.send("MODIFIED", widget("a", "4", { ip: "10.0.0.2" }));
  s.send("DELETED", widget("a", "5", { ip: "10.0.0.2" }));
  s.send("DELETED", widget("never-seen", "6", {}));
  await until(() => informer.resourceVersion === "6", "rv 6");
  assertEquals(changes, [
    ["ns/a", { spec: { ip: "10.0.0.1" } }],
    ["ns/a", { spec: { ip: "10.0.0.2" } }],
    ["ns/a", undefined],
  ]);
  assertEquals(informer.store.size, 0);
  await stop();
});

Deno.test("a clean close re-watches from the last resourceVersion, bookmarks included", async () => {
  const api = new FakeApi();
  const { stop } = setup(api);
  await until(() => api.streams.length === 1, "the watch");
  api.streams[0].send("ADDED", widget("a", "10", {}));
  api.streams[0].send("BOOKMARK", { metadata: { resourceVersion: "15" } });
  api.streams[0].close();
  await until(() => api.streams.length === 2, "the second watch");
  assertEquals(api.streams[1].query.resourceVersion, "15");
  assertEquals(api.lists.length, 1, "no relist after a clean close");
  await stop();
});

Deno.test("410 Gone relists and reports objects deleted while disconnected", async () => {
  const api = new FakeApi();
  api.onList = () => ({
    metadata: { resourceVersion: "1" },
    items: [widget("a", "1", { v: 1 }), widget("b", "1", { v: 1 })],
  });
  const { changes, stop } = setup(api);
  await until(() => api.streams.length === 1, "the watch");
  changes.length = 0;
  // Meanwhile "a" was deleted, "b" is unchanged, "c" was created.
  api.onList = () => ({
    metadata: { resourceVersion: "90" },
    items: [widget("b", "1", { v: 1 }), widget("c", "80", { v: 1 })],
  });
  api.streams[0].send("ERROR", {
    kind: "Status",
    code: 410,
    reason: "Expired",
    message: "too old resource version: 1 (50)",
  });
  await until(() => api.streams.length === 2, "the watch after the relist");
  assertEquals(api.lists.length, 2);
  assertEquals(changes, [["ns/a", undefined], ["ns/c", { spec: { v: 1 } }]]);
  assertEquals(api.streams[1].query.resourceVersion, "90");
  await stop();
});

Deno.test("an HTTP 410 when starting the watch also relists", async () => {
  const api = new FakeApi();
  const { stop } = setup(api);
  await until(() => api.streams.length === 1, "the watch");
  api.streams[0].fail(new KubeApiError("gone", { status: 410, reason: "Gone" }));
  await until(() => api.lists.length === 2, "the relist");
  await stop();
});

Deno.test("other failures back off 1, 2, 4, 8, 8 ms and resume from the last resourceVersion", async () => {
  const api = new FakeApi();
  const { logs, stop } = setup(api);
  await until(() => api.streams.length === 1, "the watch");
  api.streams[0].send("ADDED", widget("a", "33", {}));
  for (let i = 0; i < 5; i++) {
    await until(() => api.streams.length === i + 1, `watch ${i + 1}`);
    api.streams[i].fail(new KubeApiError("connection refused", { status: 0 }));
  }
  await until(() => api.streams.length === 6, "watch 6");
  const delays = logs.filter((l) => l.msg === "watch failed; retrying").map((l) => l.delayMs);
  assertEquals(delays, [1, 2, 4, 8, 8]);
  assertEquals(api.streams.slice(1).map((s) => s.query.resourceVersion), Array(5).fill("33"));
  assertEquals(api.lists.length, 1, "no relist after connection errors");
  await stop();
});

Deno.test("a silent watch ended by the watchdog is resumed at once, without backoff", async () => {
  const api = new FakeApi();
  const { logs, stop } = setup(api, { backoff: { initialMs: 60_000 } });
  await until(() => api.streams.length === 1, "the watch");
  api.streams[0].send("ADDED", widget("a", "8", {}));
  api.streams[0].fail(new WatchInactiveError("no data for 90000 ms"));
  await until(() => api.streams.length === 2, "the second watch");
  api.streams[1].fail(new WatchInactiveError("no data for 90000 ms"));
  await until(() => api.streams.length === 3, "the third watch");
  assertEquals(api.streams[2].query.resourceVersion, "8");
  assertEquals(logs.filter((l) => l.msg === "watch failed; retrying").length, 0);
  await stop();
});

Deno.test("429 waits as long as Retry-After says", async () => {
  const api = new FakeApi();
  const { logs, stop } = setup(api);
  await until(() => api.streams.length === 1, "the watch");
  api.streams[0].fail(new KubeApiError("slow down", { status: 429, retryAfterSeconds: 0.02 }));
  await until(() => api.streams.length === 2, "the second watch");
  const failure = logs.find((l) => l.msg === "watch failed; retrying");
  assertEquals(failure?.delayMs, 20);
  await stop();
});

Deno.test("a watch that closes at once without events counts as a failure", async () => {
  const api = new FakeApi();
  const { logs, stop } = setup(api);
  await until(() => api.streams.length === 1, "the watch");
  api.streams[0].close();
  await until(() => api.streams.length === 2, "the second watch");
  assertOk(logs.some((l) => l.msg === "watch failed; retrying"));
  await stop();
});

Deno.test("404 on LIST marks the resource missing until it is served", async () => {
  const api = new FakeApi();
  let installed = false;
  api.onList = () => {
    if (!installed) throw new KubeApiError("not found", { status: 404, reason: "NotFound" });
    return { metadata: { resourceVersion: "5" }, items: [widget("a", "5", {})] };
  };
  const missing: boolean[] = [];
  const { informer, changes, logs, stop } = setup(api, { onMissing: (m) => missing.push(m) });
  await until(() => api.lists.length >= 3, "retries of the list");
  assertOk(informer.missing);
  assertOk(!informer.hasSynced());
  assertEquals(logs.filter((l) => String(l.msg).startsWith("resource not served")).length, 1);
  installed = true;
  assertOk(await informer.waitForSync(AbortSignal.timeout(2000)));
  assertEquals(missing, [true, false]);
  assertOk(!informer.missing);
  assertEquals(changes, [["ns/a", { spec: {} }]]);
  await stop();
});

Deno.test("a throwing onChange is logged and does not stop the informer", async () => {
  const api = new FakeApi();
  const logs: Record<string, unknown>[] = [];
  const informer = new Informer<Projection>({
    client: api,
    resource: RT,
    project: (obj) => ({ spec: obj.spec }),
    log: new Logger({ sink: (line) => logs.push(JSON.parse(line)) }),
    onChange: () => {
      throw new Error("boom");
    },
  });
  const ctl = new AbortController();
  const running = informer.run(ctl.signal);
  await until(() => api.streams.length === 1, "the watch");
  api.streams[0].send("ADDED", widget("a", "2", {}));
  api.streams[0].send("ADDED", widget("b", "3", {}));
  await until(() => informer.store.size === 2, "both objects");
  assertEquals(logs.filter((l) => l.msg === "onChange handler threw").length, 2);
  ctl.abort();
  await running;
});

Deno.test("an object the projection throws for is logged and skipped", async () => {
  const api = new FakeApi();
  const logs: Record<string, unknown>[] = [];
  const changes: string[] = [];
  const informer = new Informer<Projection>({
    client: api,
    resource: RT,
    project: (obj) => {
      if (obj.metadata?.name === "bad") throw new Error("spec is not an object");
      return { spec: obj.spec };
    },
    log: new Logger({ sink: (line) => logs.push(JSON.parse(line)) }),
    onChange: (key) => changes.push(key),
  });
  api.onList = () => ({
    metadata: { resourceVersion: "1" },
    items: [widget("bad", "1", {}), widget("good", "1", {})],
  });
  const ctl = new AbortController();
  const running = informer.run(ctl.signal);
  await until(() => api.streams.length === 1, "the watch");
  api.streams[0].send("MODIFIED", widget("bad", "2", {}));
  api.streams[0].send("ADDED", widget("next", "3", {}));
  await until(() => informer.resourceVersion === "3", "rv 3");
  assertEquals(changes, ["ns/good", "ns/next"]);
  assertEquals(logs.filter((l) => l.msg === "cannot project object; skipping it").length, 2);
  assertEquals(api.streams.length, 1, "the watch goes on");
  ctl.abort();
  await running;
});

Deno.test("waitForSync resolves false when its signal aborts first", async () => {
  const api = new FakeApi();
  api.onList = () => {
    throw new KubeApiError("unavailable", { status: 503 });
  };
  const { informer, stop } = setup(api);
  const ctl = new AbortController();
  const waiting = informer.waitForSync(ctl.signal);
  ctl.abort();
  assertEquals(await waiting, false);
  await stop();
});
