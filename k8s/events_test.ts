import { assertEquals, assertMatch, assertOk } from "../tests/assert.ts";
import { Logger } from "../observability/log.ts";
import { FakeClock } from "./clock.ts";
import {
  type EventRegarding,
  KubeEventRecorder,
  MAX_NOTE_BYTES,
  microTime,
  truncateUtf8,
} from "./events.ts";

const obj: EventRegarding = {
  apiVersion: "router-hosts.fzymgc.house/v1alpha1",
  kind: "HostMapping",
  namespace: "default",
  name: "nas",
  uid: "u-1",
};

function setup(burst = 3) {
  const requests: { method: string; path: string; body?: unknown }[] = [];
  const clock = new FakeClock(1_000_000);
  const recorder = new KubeEventRecorder({
    api: {
      request: <T>(o: { method: string; path: string; body?: unknown }) => {
        requests.push(o);
        return Promise.resolve({} as T);
      },
    },
    log: new Logger({ sink: () => {} }),
    controller: "router-hosts.fzymgc.house/operator",
    instance: "test",
    clock,
    burst,
    refillMs: 30_000,
  });
  return { requests, clock, recorder };
}

Deno.test("MicroTime has six fractional digits", () => {
  assertEquals(microTime(new Date("2026-01-01T00:00:00.123Z")), "2026-01-01T00:00:00.123000Z");
});

Deno.test("an event is POSTed to events.k8s.io/v1 about the regarding object", async () => {
  const { requests, recorder } = setup();
  recorder.event(obj, "Warning", "AdoptionRefused", "entry is not ours");
  await Promise.resolve();
  assertEquals(requests.length, 1);
  assertEquals(requests[0].method, "POST");
  assertEquals(requests[0].path, "/apis/events.k8s.io/v1/namespaces/default/events");
  const body = requests[0].body as Record<string, unknown>;
  assertEquals([body.reason, body.type, body.note], [
    "AdoptionRefused",
    "Warning",
    "entry is not ours",
  ]);
  assertEquals(body.regarding, obj);
  assertMatch(String(body.eventTime), /\.\d{6}Z$/);
});

const bytes = (s: string) => new TextEncoder().encode(s).length;

Deno.test("truncateUtf8 counts bytes and cuts on a character boundary", () => {
  assertEquals(truncateUtf8("short", 1024), "short");
  assertEquals(truncateUtf8("x".repeat(1024), 1024), "x".repeat(1024));
  // 1,023 characters + "…" is 1,026 bytes: what the API server refused.
  const ascii = truncateUtf8("x".repeat(100_000), 1024);
  assertEquals([bytes(ascii), ascii.endsWith("…")], [1024, true]);
  for (const ch of ["é", "€", "😀"]) {
    const cut = truncateUtf8(ch.repeat(100_000), 1024);
    assertOk(bytes(cut) <= 1024 && bytes(cut) > 1024 - 4 - 3, `${ch}: ${bytes(cut)} bytes`);
    assertEquals(cut.slice(0, -1).replaceAll(ch, ""), "", `${ch}: whole characters only`);
  }
});

Deno.test("a long note is cut to the API server's byte limit; the log keeps it", () => {
  const lines: string[] = [];
  const requests: { body?: unknown }[] = [];
  const recorder = new KubeEventRecorder({
    api: {
      request: <T>(o: { body?: unknown }) => {
        requests.push(o);
        return Promise.resolve({} as T);
      },
    },
    log: new Logger({ sink: (l) => lines.push(l) }),
    controller: "router-hosts.fzymgc.house/operator",
    instance: "test",
  });
  const note = "règle ".repeat(20_000);
  recorder.event(obj, "Warning", "InvalidRule", note);
  const sent = (requests[0].body as { note: string }).note;
  assertOk(bytes(sent) <= MAX_NOTE_BYTES, `${bytes(sent)} bytes`);
  assertOk(note.startsWith(sent.slice(0, -1)));
  assertEquals(lines.length, 1);
  assertMatch(JSON.parse(lines[0]).note, /^règle règle/);
});

/** Lets the fake API's resolved promises settle. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

Deno.test("repeats join one Event's series: the first at once, then at most every 30 s, the last count always", async () => {
  const { requests, recorder, clock } = setup();
  for (let i = 0; i < 50; i++) {
    recorder.event(obj, "Warning", "SyncFailed", "server down");
    await settle();
    clock.advance(1_000);
    await settle();
  }
  const counts = () =>
    requests.filter((r) => r.method === "PATCH").map((r) =>
      (r.body as { series: { count: number } }).series.count
    );
  assertEquals(requests.filter((r) => r.method === "POST").length, 1, "one Event");
  assertEquals(counts(), [2, 31], "count 2 at the first repeat, then 30 s later");
  clock.advance(30_000);
  await settle();
  assertEquals(counts(), [2, 31, 50], "the last count is written");
  clock.advance(120_000);
  await settle();
  assertEquals(counts().length, 3, "nothing more to write");
});

Deno.test("a repeat whose note differs joins the series (the note is the first one's)", async () => {
  const { requests, recorder } = setup();
  recorder.event(obj, "Warning", "SyncFailed", "connection refused; Last error: ECONNREFUSED");
  await settle();
  recorder.event(obj, "Warning", "SyncFailed", "connection refused; Last error: null");
  await settle();
  assertEquals(requests.map((r) => r.method), ["POST", "PATCH"]);
  assertEquals((requests[1].body as { series: { count: number } }).series.count, 2);
});

Deno.test("a repeat before the Event is created waits for it, then is written", async () => {
  const requests: { method: string; body?: unknown }[] = [];
  let create: (() => void) | undefined;
  const recorder = new KubeEventRecorder({
    api: {
      request: <T>(o: { method: string; path: string; body?: unknown }) => {
        requests.push(o);
        if (o.method === "POST") {
          return new Promise<T>((resolve) => create = () => resolve({} as T));
        }
        return Promise.resolve({} as T);
      },
    },
    log: new Logger({ sink: () => {} }),
    controller: "c",
    instance: "i",
    clock: new FakeClock(0),
  });
  recorder.event(obj, "Warning", "SyncFailed", "down");
  recorder.event(obj, "Warning", "SyncFailed", "down");
  recorder.event(obj, "Warning", "SyncFailed", "down");
  assertEquals(requests.map((r) => r.method), ["POST"], "no PATCH of an Event not yet created");
  create!();
  await settle();
  assertEquals(requests.map((r) => r.method), ["POST", "PATCH"]);
  assertEquals((requests[1].body as { series: { count: number } }).series.count, 3);
});

Deno.test("distinct events about one object are rate limited per object", async () => {
  const { requests, recorder, clock } = setup(3);
  for (let i = 0; i < 10; i++) recorder.event(obj, "Warning", `Reason${i}`, `failure ${i}`);
  await Promise.resolve();
  assertEquals(requests.length, 3);
  recorder.event({ ...obj, uid: "u-2", name: "other" }, "Normal", "Recreated", "again");
  assertEquals(requests.length, 4, "another object has its own budget");
  clock.advance(30_000);
  recorder.event(obj, "Warning", "AfterRefill", "after refill");
  assertEquals(requests.length, 5);
});
