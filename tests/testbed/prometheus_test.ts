import { assertEquals, assertMatch, assertThrows } from "../assert.ts";
import { metricSum, parsePrometheus, Scrape } from "./prometheus.ts";

const TEXT = `# HELP router_hosts_grpc_requests_total gRPC calls.
# TYPE router_hosts_grpc_requests_total counter
router_hosts_grpc_requests_total{method="AddHost",code="OK"} 3
router_hosts_grpc_requests_total{method="AddHost",code="UNAVAILABLE"} 2
router_hosts_grpc_requests_total{method="GetHost",code="OK"} 7
# HELP workqueue_depth Depth.
# TYPE workqueue_depth gauge
workqueue_depth{name="hostmapping",controller="hostmapping"} 0
# HELP rt Reconcile time.
# TYPE rt histogram
rt_bucket{controller="hm",le="0.1"} 1
rt_bucket{controller="hm",le="+Inf"} 4
rt_sum{controller="hm"} 2.5
rt_count{controller="hm"} 4
# HELP odd Escapes.
# TYPE odd gauge
odd{path="a\\"b\\\\c",nl="x\\ny"} 1 1700000000000
`;

Deno.test("a scrape sums, picks one series and reads histogram buckets", () => {
  const s = new Scrape(TEXT);
  assertEquals(s.sum("router_hosts_grpc_requests_total", { method: "AddHost" }), 5);
  assertEquals(s.sum("router_hosts_grpc_requests_total"), 12);
  assertEquals(s.sum("router_hosts_grpc_requests_total", { method: "DeleteHost" }), 0);
  assertEquals(s.value("workqueue_depth", { name: "hostmapping" }), 0);
  assertMatch(
    assertThrows(() => s.value("router_hosts_grpc_requests_total", { method: "AddHost" })).message,
    /expected one sample .* found 2/,
  );
  assertEquals(s.buckets("rt", { controller: "hm" }), [[0.1, 1], [Infinity, 4]]);
  assertEquals(s.value("rt_count", { controller: "hm" }), 4);
  assertEquals(s.family("odd").samples[0].labels, { path: 'a"b\\c', nl: "x\ny" });
  assertEquals(s.family("rt").type, "histogram");
});

Deno.test("a malformed exposition is refused with the line", () => {
  assertMatch(
    assertThrows(() => parsePrometheus("undeclared_total 1\n")).message,
    /undeclared family: undeclared_total 1/,
  );
  assertMatch(
    assertThrows(() => parsePrometheus("# TYPE a counter\na 1\na 2\n")).message,
    /series repeated: a\{\}/,
  );
  assertMatch(
    assertThrows(() => parsePrometheus('# TYPE a counter\na{x="1" 1\n')).message,
    /bad/,
  );
});

Deno.test("metricSum takes labels written as in the exposition", () => {
  assertEquals(metricSum(TEXT, "router_hosts_grpc_requests_total", 'code="OK"'), 10);
  assertEquals(
    metricSum(TEXT, "router_hosts_grpc_requests_total", 'method="AddHost"', 'code="OK"'),
    3,
  );
  assertMatch(
    assertThrows(() => metricSum(TEXT, "workqueue_depth", "hostmapping")).message,
    /not written name="value"/,
  );
});
