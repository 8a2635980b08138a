import { Registry } from "prom-client";
import { assertEquals, assertMatch } from "../tests/assert.ts";
import { FakeHosts } from "../tests/fakes/router_hosts.ts";
import { DEFAULT_POLICY } from "../controllers/hosts/policy.ts";
import { Logger } from "../observability/log.ts";
import { MEDIA_TYPE } from "./endpoint.ts";
import { WebhookProvider } from "./provider.ts";
import { acceptAllows, contentTypeAccepted, webhookHandler, WebhookMetrics } from "./server.ts";

function setup(maxBodyBytes?: number) {
  const hosts = new FakeHosts();
  const registry = new Registry();
  const lines: Record<string, unknown>[] = [];
  const log = new Logger({ sink: (line) => lines.push(JSON.parse(line)), level: "info" });
  const metrics = new WebhookMetrics(registry);
  const handler = webhookHandler({
    provider: new WebhookProvider({ hosts, policy: DEFAULT_POLICY, log }),
    domainFilter: { include: ["home.arpa"], exclude: [] },
    metrics,
    log,
    maxBodyBytes,
  });
  const call = (
    method: string,
    path: string,
    init: { body?: BodyInit; headers?: Record<string, string>; signal?: AbortSignal } = {},
  ) => handler(new Request(`http://webhook${path}`, { method, ...init }));
  return { hosts, registry, call, lines };
}

const SEND = { "content-type": MEDIA_TYPE, accept: MEDIA_TYPE };

Deno.test("GET / negotiates: our media type and the domain filter", async () => {
  const { call } = setup();
  const res = await call("GET", "/", { headers: { accept: MEDIA_TYPE } });
  assertEquals(res.status, 200);
  assertEquals(res.headers.get("content-type"), MEDIA_TYPE);
  assertEquals(await res.json(), { include: ["home.arpa"] });
});

Deno.test("POST /records applies and answers 204; a partial failure is 500 naming the name", async () => {
  const { call, hosts } = setup();
  hosts.add({ hostname: "b.home.arpa", ipAddress: "10.0.0.2", comment: "mine" });
  const ok = await call("POST", "/records", {
    headers: SEND,
    body: JSON.stringify({
      create: [{ dnsName: "a.home.arpa", recordType: "A", targets: ["10.0.0.1"] }],
    }),
  });
  assertEquals(ok.status, 204);
  const bad = await call("POST", "/records", {
    headers: SEND,
    body: JSON.stringify({
      create: [{ dnsName: "b.home.arpa", recordType: "A", targets: ["10.0.0.2"] }],
    }),
  });
  assertEquals(bad.status, 500);
  assertMatch(await bad.text(), /1 change\(s\) failed.*\ncreate b\.home\.arpa 10\.0\.0\.2: /);
  const list = await call("GET", "/records", { headers: { accept: MEDIA_TYPE } });
  assertEquals(await list.json(), [{
    dnsName: "a.home.arpa",
    targets: ["10.0.0.1"],
    recordType: "A",
  }]);
});

Deno.test("POST /adjustendpoints answers the A/AAAA endpoints as sent, unknown fields kept", async () => {
  const { call } = setup();
  const sent = [
    {
      dnsName: "a.home.arpa",
      recordType: "A",
      targets: ["10.0.0.1"],
      labels: { resource: "service/default/a" },
    },
    { dnsName: "a.home.arpa", recordType: "TXT", targets: ["x"] },
  ];
  const res = await call("POST", "/adjustendpoints", { headers: SEND, body: JSON.stringify(sent) });
  assertEquals(res.status, 200);
  assertEquals(await res.json(), [sent[0]]);
});

Deno.test("POST /adjustendpoints: names and targets as they will be written; one log line with counts", async () => {
  const { call, lines } = setup();
  const sent = [
    { dnsName: "Six.Home.Arpa.", recordType: "AAAA", targets: ["FD00::1", "fd00:0::1"] },
    ...Array.from({ length: 1000 }, (_, i) => ({
      dnsName: `t${i}.home.arpa`,
      recordType: "TXT",
      targets: ["x"],
    })),
    { dnsName: "a..b.home.arpa", recordType: "A", targets: ["10.0.0.1"] },
    { dnsName: "ip.home.arpa", recordType: "A", targets: ["not-an-ip"] },
  ];
  const res = await call("POST", "/adjustendpoints", { headers: SEND, body: JSON.stringify(sent) });
  assertEquals(await res.json(), [
    { dnsName: "six.home.arpa", recordType: "AAAA", targets: ["fd00::1"] },
  ]);
  assertEquals(lines.length, 1);
  assertEquals(lines[0].received, 1003);
  assertEquals(lines[0].kept, 1);
  assertEquals(lines[0].dropped, { record_type: 1000, invalid_name: 1, no_address_target: 1 });
  assertEquals((lines[0].droppedSample as string[]).length, 5);
});

Deno.test("a body over the limit is 413, also when it arrives as a stream of unknown length", async () => {
  const { call, hosts } = setup(1000);
  const big = JSON.stringify({
    create: Array.from({ length: 100 }, (_, i) => ({
      dnsName: `n${i}.home.arpa`,
      recordType: "A",
      targets: ["10.0.0.1"],
    })),
  });
  const whole = await call("POST", "/records", { headers: SEND, body: big });
  assertEquals(whole.status, 413);
  let pulled = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull: (c) => {
      pulled++;
      c.enqueue(new TextEncoder().encode(" ".repeat(400)));
    },
  });
  const streamed = await call("POST", "/adjustendpoints", { headers: SEND, body: stream });
  assertEquals(streamed.status, 413);
  assertMatch(await streamed.text(), /larger than 1000 bytes/);
  // Read up to the limit, not on: the endless stream was pulled a few times only.
  assertEquals(pulled <= 5, true, `pulled ${pulled}`);
  assertEquals(hosts.calls, []);
});

Deno.test("POST /records: what can never be written is 204 (external-dns exits on 4xx, retries 5xx)", async () => {
  const { call, hosts, lines } = setup();
  const res = await call("POST", "/records", {
    headers: SEND,
    body: JSON.stringify({
      create: [
        { dnsName: "a.home.arpa", recordType: "A", targets: ["not-an-ip"] },
        { dnsName: "localhost\n", recordType: "A", targets: ["10.0.0.1"] },
        { dnsName: "", recordType: "A", targets: ["10.0.0.1"] },
        { dnsName: "b.home.arpa", targets: ["10.0.0.1"] },
      ],
    }),
  });
  assertEquals(res.status, 204);
  assertEquals(hosts.calls, ["ListHosts"]);
  assertEquals(lines.length, 1);
  assertEquals([lines[0].skipped, lines[0].writes, lines[0].status], [4, 0, 204]);
});

Deno.test("POST /records: a request abandoned before its writes is 503 (retried) and writes nothing", async () => {
  const { call, hosts } = setup();
  const abort = new AbortController();
  abort.abort(new Error("the client closed the connection"));
  const res = await call("POST", "/records", {
    headers: SEND,
    signal: abort.signal,
    body: JSON.stringify({
      create: [{ dnsName: "a.home.arpa", recordType: "A", targets: ["10.0.0.1"] }],
    }),
  });
  assertEquals(res.status, 503);
  assertMatch(await res.text(), /1 change\(s\) not started \(the client closed the connection\)/);
  assertEquals(hosts.calls, []);
});

Deno.test("bad bodies are 400 with the reason", async () => {
  const { call } = setup();
  const notJson = await call("POST", "/records", { headers: SEND, body: "{" });
  assertEquals(notJson.status, 400);
  assertMatch(await notJson.text(), /body is not JSON/);
  const wrongShape = await call("POST", "/adjustendpoints", { headers: SEND, body: `{"a":1}` });
  assertEquals(wrongShape.status, 400);
  assertMatch(await wrongShape.text(), /want a JSON list of endpoints/);
});

Deno.test("wrong media types: request Content-Type 415, Accept 406; wrong method 405", async () => {
  const { call, registry } = setup();
  const json = await call("POST", "/records", {
    headers: { "content-type": "application/json" },
    body: "{}",
  });
  assertEquals(json.status, 415);
  assertMatch(
    await json.text(),
    /Content-Type must be application\/external\.dns\.webhook\+json;version=1/,
  );
  const v2 = await call("POST", "/adjustendpoints", {
    headers: { "content-type": "application/external.dns.webhook+json;version=2" },
    body: "[]",
  });
  assertEquals(v2.status, 415);
  await v2.body?.cancel();
  const accept = await call("GET", "/records", { headers: { accept: "text/html" } });
  assertEquals(accept.status, 406);
  await accept.body?.cancel();
  const method = await call("DELETE", "/records");
  assertEquals(method.status, 405);
  assertEquals(method.headers.get("allow"), "GET, POST");
  await method.body?.cancel();
  const text = await registry.metrics();
  assertMatch(
    text,
    /router_hosts_webhook_requests_total\{endpoint="apply_changes",outcome="unsupported_media_type"\} 1/,
  );
  assertMatch(
    text,
    /router_hosts_webhook_requests_total\{endpoint="records",outcome="not_acceptable"\} 1/,
  );
});

Deno.test("content negotiation rules", () => {
  assertEquals(contentTypeAccepted(MEDIA_TYPE), true);
  assertEquals(contentTypeAccepted('Application/External.DNS.Webhook+JSON; version="1"'), true);
  assertEquals(contentTypeAccepted(null), false);
  assertEquals(contentTypeAccepted("application/json"), false);
  assertEquals(acceptAllows(null), true);
  assertEquals(acceptAllows("*/*"), true);
  assertEquals(acceptAllows("text/html, application/*;q=0.5"), true);
  assertEquals(acceptAllows(`${MEDIA_TYPE};q=0`), false);
  assertEquals(acceptAllows("application/external.dns.webhook+json;version=2"), false);
});

Deno.test("GET /healthz is ok without negotiation", async () => {
  const { call } = setup();
  const res = await call("GET", "/healthz", { headers: { accept: "text/plain" } });
  assertEquals([res.status, await res.text()], [200, "ok\n"]);
});

Deno.test("router-hosts unreachable: 500 with the reason, so external-dns retries", async () => {
  const { call, hosts } = setup();
  hosts.down = true;
  const list = await call("GET", "/records", { headers: { accept: MEDIA_TYPE } });
  assertEquals(list.status, 500);
  assertMatch(await list.text(), /^router-hosts: .*connection refused/);
  const apply = await call("POST", "/records", {
    headers: SEND,
    body: JSON.stringify({
      delete: [{ dnsName: "a.home.arpa", recordType: "A", targets: ["10.0.0.1"] }],
    }),
  });
  assertEquals(apply.status, 500);
  await apply.body?.cancel();
});
