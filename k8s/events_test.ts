import { assertEquals, assertMatch } from "../tests/assert.ts";
import { Logger } from "../observability/log.ts";
import { FakeClock } from "./clock.ts";
import { type EventRegarding, KubeEventRecorder, microTime } from "./events.ts";

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

Deno.test("repeats join a series written at most every 30 s, never one Event per repeat", async () => {
  const { requests, recorder, clock } = setup();
  for (let i = 0; i < 50; i++) {
    recorder.event(obj, "Warning", "SyncFailed", "server down");
    await Promise.resolve();
    clock.advance(1_000);
  }
  const posts = requests.filter((r) => r.method === "POST");
  const patches = requests.filter((r) => r.method === "PATCH");
  assertEquals(posts.length, 1);
  assertEquals(patches.length, 1);
  const series = (patches[0].body as { series: { count: number } }).series;
  assertEquals(series.count, 31);
});

Deno.test("distinct events about one object are rate limited per object", async () => {
  const { requests, recorder, clock } = setup(3);
  for (let i = 0; i < 10; i++) recorder.event(obj, "Warning", "SyncFailed", `failure ${i}`);
  await Promise.resolve();
  assertEquals(requests.length, 3);
  recorder.event({ ...obj, uid: "u-2", name: "other" }, "Normal", "Recreated", "again");
  assertEquals(requests.length, 4, "another object has its own budget");
  clock.advance(30_000);
  recorder.event(obj, "Warning", "SyncFailed", "after refill");
  assertEquals(requests.length, 5);
});
