/**
 * The chart's Grafana dashboard against a running operator: `helm template`
 * renders it (off by default) as a ConfigMap the Grafana sidecar picks up,
 * and every series its queries read is one the operator really exposes on
 * /metrics.
 */
import { assertEquals, assertOk } from "../assert.ts";
import { ensureGoTool, ROOT, uniqueName } from "../testbed/mod.ts";
import { dashboardExpressions, metricNames, seriesOf } from "../testbed/promql.ts";
import { withBed, withOperator } from "../testbed/bed.ts";

async function helmTemplate(helm: string, values: string[]): Promise<string> {
  const out = await new Deno.Command(helm, {
    args: ["template", "rho", "chart", "--namespace", "monitoring-test", ...values],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  if (!out.success) throw new Error(`helm template failed: ${dec.decode(out.stderr)}`);
  return dec.decode(out.stdout);
}

Deno.test({
  name: "Grafana dashboard",
  sanitizeOps: false,
  sanitizeResources: false,
}, async (t) => {
  const helm = (await ensureGoTool("helm")).path;
  let dashboard: unknown;

  await t.step("off by default; on: a ConfigMap labelled grafana_dashboard=1", async () => {
    assertOk(!(await helmTemplate(helm, [])).includes("grafana_dashboard"));
    const yaml = await helmTemplate(helm, [
      "--set",
      "metrics.dashboard.enabled=true",
      "--set",
      "metrics.dashboard.annotations.grafana_folder=Kubernetes",
      "--show-only",
      "templates/dashboard.yaml",
    ]);
    assertOk(/^kind: ConfigMap$/m.test(yaml), yaml);
    assertOk(/^ {4}grafana_dashboard: "1"$/m.test(yaml), "sidecar label");
    assertOk(/^ {4}grafana_folder: Kubernetes$/m.test(yaml), "annotation");
    // The JSON is the data key's block scalar, indented by four spaces.
    const json = yaml.split("router-hosts-operator.json: |-\n")[1].split("\n")
      .map((l) => l.slice(4)).join("\n");
    dashboard = JSON.parse(json);
    assertEquals(
      dashboard,
      JSON.parse(await Deno.readTextFile(`${ROOT}/chart/dashboards/router-hosts-operator.json`)),
    );
  });

  await withBed({}, async (bed) => {
    const leaseNs = await bed.kube.createNamespace(uniqueName("dash"));
    const args = ["--leader-elect", `--leader-election-namespace=${leaseNs}`];
    await withOperator(bed, { args }, async (op) => {
      await bed.hm.create(leaseNs, "nas", { hostname: "nas.lan", ip: "10.8.0.1" });
      await bed.hm.waitSynced(leaseNs, "nas");

      await t.step("every series the queries read is on the operator's /metrics", async () => {
        const text = await op.metrics();
        const exposed = new Set<string>();
        for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
          for (const s of seriesOf(m[1], m[2])) exposed.add(s);
        }
        assertOk(exposed.has("leader_election_master_status"), "scraped a leader");
        const used = new Set(dashboardExpressions(dashboard).flatMap(metricNames));
        assertOk(used.size >= 12, `${used.size} series used`);
        assertEquals([...used].filter((n) => !exposed.has(n)), [], "not exposed by the operator");
      });
    });
  });
});
