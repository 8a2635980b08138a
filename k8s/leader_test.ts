import { assertEquals, assertMatch, assertOk, assertRejects } from "../tests/assert.ts";
import { Logger } from "../observability/log.ts";
import { KubeApiError, type RequestOptions } from "./client.ts";
import { FakeClock } from "./clock.ts";
import { LeaderElector, type LeaseSpec } from "./leader.ts";

/** An in-memory Lease endpoint with resourceVersion checks. */
class FakeLeases {
  lease?: { metadata: Record<string, unknown>; spec: LeaseSpec };
  rv = 0;
  fail = false;
  /** While set, PUTs queue here and are applied in arrival order by resumePuts(). */
  heldPuts?: Array<() => void>;
  resumePuts(): void {
    const held = this.heldPuts ?? [];
    this.heldPuts = undefined;
    for (const apply of held) apply();
  }
  request<T>(o: RequestOptions): Promise<T> {
    if (this.fail) {
      return Promise.reject(new KubeApiError("refused", { status: 0 }));
    }
    if (o.method === "PUT" && this.heldPuts) {
      const held = this.heldPuts;
      return new Promise<T>((resolve, reject) =>
        held.push(() => this.#apply<T>(o).then(resolve, reject))
      );
    }
    return this.#apply(o);
  }
  #apply<T>(o: RequestOptions): Promise<T> {
    const body = o.body as { metadata: Record<string, unknown>; spec: LeaseSpec };
    switch (o.method) {
      case "GET":
        if (!this.lease) {
          return Promise.reject(new KubeApiError("nf", { status: 404 }));
        }
        return Promise.resolve(structuredClone(this.lease) as T);
      case "POST":
        if (this.lease) {
          return Promise.reject(new KubeApiError("exists", { status: 409 }));
        }
        this.lease = {
          metadata: { ...body.metadata, resourceVersion: String(++this.rv) },
          spec: body.spec,
        };
        return Promise.resolve(structuredClone(this.lease) as T);
      case "PUT":
        if (body.metadata.resourceVersion !== this.lease?.metadata.resourceVersion) {
          return Promise.reject(new KubeApiError("conflict", { status: 409 }));
        }
        this.lease = {
          metadata: { ...body.metadata, resourceVersion: String(++this.rv) },
          spec: body.spec,
        };
        return Promise.resolve(structuredClone(this.lease) as T);
    }
    throw new Error(o.method);
  }
}

function elector(api: FakeLeases, identity: string, clock: FakeClock) {
  return new LeaderElector({
    api,
    namespace: "ops",
    name: "router-hosts-operator.fzymgc.house",
    identity,
    log: new Logger({ sink: () => {} }),
    clock,
    wallNow: () => new Date(Date.UTC(2026, 0, 1) + clock.now()),
  });
}

/** Lets pending promise callbacks run. */
async function settle() {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

Deno.test("first candidate creates the Lease with six-digit MicroTime and its identity", async () => {
  const api = new FakeLeases();
  const clock = new FakeClock();
  const a = elector(api, "host-a_1", clock);
  assertEquals(await a.acquire(new AbortController().signal), true);
  assertEquals(api.lease?.spec.holderIdentity, "host-a_1");
  assertEquals(api.lease?.spec.leaseDurationSeconds, 15);
  assertMatch(api.lease!.spec.renewTime!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  assertOk(a.leading);
});

Deno.test("a standby waits a full lease duration of *local* time after the record last changed", async () => {
  const api = new FakeLeases();
  const clock = new FakeClock();
  const a = elector(api, "a", clock);
  await a.acquire(new AbortController().signal);
  // The holder's clock is far in the future: its renewTime must not matter.
  api.lease!.spec.renewTime = "2099-01-01T00:00:00.000000Z";
  const b = elector(api, "b", clock);
  const ctl = new AbortController();
  let got = false;
  b.acquire(ctl.signal).then((v) => got = v);
  await settle();
  clock.advance(14_000);
  await settle();
  assertEquals(got, false, "not before 15 s of unchanged record");
  clock.advance(3_000);
  await settle();
  clock.advance(2_500);
  await settle();
  assertEquals(got, true);
  assertEquals(api.lease?.spec.holderIdentity, "b");
  assertEquals(api.lease?.spec.leaseTransitions, 1);
});

Deno.test("a renewing holder keeps the standby out", async () => {
  const api = new FakeLeases();
  const clock = new FakeClock();
  const a = elector(api, "a", clock);
  await a.acquire(new AbortController().signal);
  const holdCtl = new AbortController();
  a.holdUntil(holdCtl.signal).catch(() => {});
  const b = elector(api, "b", clock);
  const ctl = new AbortController();
  let got = false;
  b.acquire(ctl.signal).then((v) => got = v);
  for (let i = 0; i < 30; i++) {
    clock.advance(1_000);
    await settle();
  }
  assertEquals(got, false);
  assertEquals(api.lease?.spec.holderIdentity, "a");
  assertEquals(api.lease?.spec.leaseTransitions, 0, "renewals keep transitions");
  ctl.abort();
  holdCtl.abort();
});

Deno.test("a holder that cannot renew within the deadline loses leadership", async () => {
  const api = new FakeLeases();
  const clock = new FakeClock();
  const statuses: boolean[] = [];
  const a = new LeaderElector({
    api,
    namespace: "ops",
    name: "l",
    identity: "a",
    log: new Logger({ sink: () => {} }),
    clock,
    onStatus: (s) => statuses.push(s),
  });
  await a.acquire(new AbortController().signal);
  api.fail = true;
  const lost = assertRejects(() => a.holdUntil(new AbortController().signal));
  for (let i = 0; i < 20; i++) {
    clock.advance(1_000);
    await settle();
  }
  assertMatch((await lost).message, /lost the leader lease/);
  assertEquals(statuses, [true, false]);
});

Deno.test("release waits for a renewal in flight, so the renewal neither voids nor undoes it", async () => {
  const api = new FakeLeases();
  const clock = new FakeClock();
  const a = elector(api, "a", clock);
  await a.acquire(new AbortController().signal);
  const ctl = new AbortController();
  const holding = a.holdUntil(ctl.signal);
  // A renewal has read the Lease and its write is on the wire when shutdown starts.
  api.heldPuts = [];
  clock.advance(2_000);
  await settle();
  assertEquals(api.heldPuts.length, 1);
  ctl.abort();
  const released = a.release();
  await settle();
  api.resumePuts();
  await released;
  await holding;
  assertEquals(api.lease?.spec.holderIdentity, "");
  assertEquals(api.lease?.spec.leaseDurationSeconds, 1);
});

Deno.test("release empties the holder so a standby takes over at once", async () => {
  const api = new FakeLeases();
  const clock = new FakeClock();
  const a = elector(api, "a", clock);
  await a.acquire(new AbortController().signal);
  const b = elector(api, "b", clock);
  const ctl = new AbortController();
  let got = false;
  b.acquire(ctl.signal).then((v) => got = v);
  await settle();
  await a.release();
  assertEquals(api.lease?.spec.holderIdentity, "");
  assertEquals(api.lease?.spec.leaseDurationSeconds, 1);
  clock.advance(2_500);
  await settle();
  assertEquals(got, true);
});
