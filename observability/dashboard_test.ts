import { Registry } from "prom-client";
import { assertEquals, assertOk } from "../tests/assert.ts";
import { dashboardExpressions, metricNames, seriesOf } from "../tests/testbed/promql.ts";
import { Metrics } from "./metrics.ts";

const DASHBOARD = new URL("../chart/dashboards/router-hosts-operator.json", import.meta.url);

Deno.test("the Grafana dashboard queries only series the operator's registry exposes", async () => {
  const dashboard = JSON.parse(await Deno.readTextFile(DASHBOARD));
  const families = await new Metrics(new Registry()).registry.getMetricsAsJSON();
  const exposed = new Set(families.flatMap((f) => seriesOf(f.name, String(f.type))));
  const exprs = dashboardExpressions(dashboard);
  assertOk(exprs.length >= 15, `${exprs.length} queries`);
  const used = new Set(exprs.flatMap(metricNames));
  const unknown = [...used].filter((n) => !exposed.has(n));
  assertEquals(unknown, [], "metric names the operator does not expose");
  // What the issue asks the dashboard to show.
  for (
    const name of [
      "controller_runtime_reconcile_total",
      "controller_runtime_reconcile_errors_total",
      "workqueue_depth",
      "workqueue_queue_duration_seconds_bucket",
      "router_hosts_grpc_requests_total",
      "router_hosts_grpc_request_duration_seconds_bucket",
      "router_hosts_managed_hosts",
      "leader_election_master_status",
    ]
  ) assertOk(used.has(name), `the dashboard shows ${name}`);
});

Deno.test("metricNames skips functions, groupings, matchers, ranges and variables", () => {
  assertEquals(
    metricNames(
      'histogram_quantile(0.99, sum by (method, le) (rate(x_bucket{namespace=~"$namespace",code!="OK"}[$__rate_interval]))) / on (pod) group_left max(y)',
    ),
    ["x_bucket", "y"],
  );
  assertEquals(metricNames("sum without (a) (rate(b_total[5m] offset 1h)) and bool c"), [
    "b_total",
    "c",
  ]);
});
