/**
 * Gateway API routes as the Gateway API means them (issue 20), end to end on
 * the real Gateway API CRDs and the router-hosts server: Gateway parents
 * only, no `--default-ingress-ip` fallback for mesh routes; acceptance from
 * the route's `status.parents` (written here as a Gateway controller would);
 * hostnames intersected with the attached listeners and their
 * `allowedRoutes`; an entry at each accepting Gateway's address. The
 * operator runs with `--default-ingress-ip` set, which the Go operator
 * would give every one of these routes.
 */
import type { HostEntry } from "../../grpc/hosts_port.ts";
import { assertEquals, assertOk } from "../assert.ts";
import { type KubeTestbed, trackSteps, uniqueName } from "../testbed/mod.ts";
import { eventually } from "../testbed/operator.ts";
import { entriesNamed, eventsAbout, reconciles, waitIdle } from "../testbed/observe.ts";
import { setGatewayAddresses, setRouteStatus } from "../testbed/gateway_api.ts";
import { bedTest } from "../testbed/bed.ts";
import { HOST_IDS } from "./sources_fixture.ts";

const API = "/apis/gateway.networking.k8s.io/v1";
const DEFAULT_IP = "10.4.9.9";

type Ref = Record<string, unknown>;

class Routes {
  constructor(readonly kube: KubeTestbed, readonly ns: string) {}

  path(plural: string, name = ""): string {
    return `${API}/namespaces/${this.ns}/${plural}${name ? `/${name}` : ""}`;
  }
  async gateway(name: string, listeners: unknown[]): Promise<void> {
    await this.kube.postJson(this.path("gateways"), {
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "Gateway",
      metadata: { name },
      spec: { gatewayClassName: "test", listeners },
    });
  }
  async route(
    name: string,
    parentRefs: Ref[],
    hostnames?: string[],
    kind = "HTTPRoute",
  ): Promise<void> {
    await this.kube.postJson(this.path(`${kind.toLowerCase()}s`), {
      apiVersion: "gateway.networking.k8s.io/v1",
      kind,
      metadata: { name },
      spec: { parentRefs, ...(hostnames ? { hostnames } : {}) },
    });
  }
  accept(name: string, parentRefs: Ref[], refused?: string, kind = "HTTPRoute"): Promise<void> {
    const plural = `${kind.toLowerCase()}s`;
    return setRouteStatus(this.kube, this.ns, plural, name, parentRefs, refused);
  }
  async tracked(name: string): Promise<Record<string, string>> {
    const r = await this.kube.getJson<{ metadata: { annotations?: Record<string, string> } }>(
      this.path("httproutes", name),
    );
    const raw = r.metadata.annotations?.[HOST_IDS];
    return raw ? JSON.parse(raw) : {};
  }
  async delete(name: string, kind = "HTTPRoute"): Promise<void> {
    const path = this.path(`${kind.toLowerCase()}s`, name);
    await this.kube.deleteJson(path);
    await eventually(
      `${kind} ${name} gone`,
      async () => (await this.kube.request("GET", path)).status === 404,
    );
  }
  events(name: string) {
    return eventsAbout(this.kube, this.ns, "HTTPRoute", name);
  }
}

const http = (name: string, extra: Ref = {}) => ({ name, port: 80, protocol: "HTTP", ...extra });
const pairs = (entries: HostEntry[]) => entries.map((e) => [e.hostname, e.ipAddress]).sort();

bedTest({
  name: "Gateway API routes: Gateway parents, acceptance, listeners, addresses (issue 20)",
  gatewayApi: true,
}, async ({ bed, ops, t }) => {
  const { step, dumpLogsIfFailed } = trackSteps(t);
  const args = ["--enable-gateway", `--default-ingress-ip=${DEFAULT_IP}`];
  const op = await ops.start({ args });
  const ns = await bed.kube.createNamespace(uniqueName("gwa"));
  const r = new Routes(bed.kube, ns);
  await r.gateway("edge", [
    http("app", { hostname: "app.gwa.lan" }),
    http("wild", { port: 8080, hostname: "*.example.gwa" }),
    http("team", {
      port: 9090,
      hostname: "team.gwa.lan",
      allowedRoutes: {
        namespaces: { from: "Selector", selector: { matchLabels: { team: "web" } } },
      },
    }),
  ]);
  await setGatewayAddresses(bed.kube, ns, "edge", ["10.4.0.1"]);

  await step(
    "item 1: a mesh route (parent a Service) creates nothing, one Normal Event",
    async () => {
      const refs = [{ group: "", kind: "Service", name: "backend" }];
      await r.route("mesh", refs, ["mesh.gwa.lan"]);
      await r.accept("mesh", refs);
      const event = await eventually(
        "a NoGatewayParent event",
        async () => (await r.events("mesh")).find((e) => e.reason === "NoGatewayParent"),
      );
      assertEquals(event.type, "Normal");
      await waitIdle(op, "gateway-httproute");
      assertEquals(
        await entriesNamed(bed, "mesh.gwa.lan"),
        [],
        "no --default-ingress-ip entry",
      );
      const events = await r.events("mesh");
      assertEquals(events.filter((e) => e.type === "Warning"), [], "no Warning");
      assertEquals(events.length, 1, "one Event");
      await r.delete("mesh");
    },
  );

  await step(
    "item 2: waits for Accepted=True (one Event, woken by the status), removed when withdrawn",
    async () => {
      const refs = [{ name: "edge", sectionName: "app" }];
      await r.route("pending", refs, ["app.gwa.lan"]);
      const event = await eventually(
        "a NotAccepted event",
        async () => (await r.events("pending")).find((e) => e.reason === "NotAccepted"),
      );
      assertEquals(event.type, "Normal");
      await waitIdle(op, "gateway-httproute");
      assertEquals(await entriesNamed(bed, "app.gwa.lan"), [], "nothing before acceptance");
      const before = await reconciles(op, "gateway-httproute");

      await r.accept("pending", refs);
      const entries = await eventually("the accepted route's entry", async () => {
        const e = await entriesNamed(bed, "app.gwa.lan");
        return e.length === 1 ? e : undefined;
      });
      assertEquals(pairs(entries), [["app.gwa.lan", "10.4.0.1"]]);
      await waitIdle(op, "gateway-httproute");
      assertEquals(
        await reconciles(op, "gateway-httproute"),
        before + 1,
        "exactly one reconcile: the status change",
      );
      assertEquals(
        (await r.events("pending")).filter((e) => e.reason === "NotAccepted").length,
        1,
        "one NotAccepted Event",
      );

      await r.accept("pending", refs, "NotAllowedByListeners");
      await eventually(
        "the entry removed when acceptance is withdrawn",
        async () => (await entriesNamed(bed, "app.gwa.lan")).length === 0,
      );
      // The annotation is written after the delete: wait for it, as for any observed state.
      await eventually(
        "the host-ids annotation emptied",
        async () => Object.keys(await r.tracked("pending")).length === 0,
      );
      await r.delete("pending");
    },
  );

  await step(
    "item 3: no hostnames → the listener's; intersection with wildcard listeners; wildcards one Event",
    async () => {
      const bare = [{ name: "edge", sectionName: "app" }];
      await r.route("bare", bare);
      await r.accept("bare", bare);
      const refs = [{ name: "edge" }];
      await r.route("mixed", refs, ["a.example.gwa", "b.other.gwa", "*.example.gwa"]);
      await r.accept("mixed", refs);
      await eventually("app.gwa.lan from the listener", async () => {
        const e = await entriesNamed(bed, "app.gwa.lan");
        return e.length === 1 && e[0].comment === `k8s-gateway:${ns}/bare`;
      });
      await eventually(
        "a.example.gwa from the intersection",
        async () => (await entriesNamed(bed, "a.example.gwa")).length === 1,
      );
      const mixedId = (await entriesNamed(bed, "a.example.gwa"))[0].id;
      await eventually(
        "mixed tracks a.example.gwa alone",
        async () =>
          JSON.stringify(await r.tracked("mixed")) === JSON.stringify({ "a.example.gwa": mixedId }),
      );
      assertEquals(await entriesNamed(bed, "b.other.gwa"), [], "no listener serves it");
      const wildcard = await eventually(
        "a WildcardHostname event",
        async () => (await r.events("mixed")).find((e) => e.reason === "WildcardHostname"),
      );
      assertOk(wildcard.note.includes("*.example.gwa"), wildcard.note);
      await r.delete("bare");
      await r.delete("mixed");
    },
  );

  await step(
    "item 3: allowedRoutes Selector follows the namespace's labels (watched, no polling)",
    async () => {
      const refs = [{ name: "edge", sectionName: "team" }];
      await r.route("team", refs);
      await r.accept("team", refs);
      const event = await eventually(
        "a NoMatchingListener event",
        async () => (await r.events("team")).find((e) => e.reason === "NoMatchingListener"),
      );
      assertEquals(event.type, "Normal");
      assertEquals(await entriesNamed(bed, "team.gwa.lan"), []);
      await bed.kube.mergePatchJson(`/api/v1/namespaces/${ns}`, {
        metadata: { labels: { team: "web" } },
      });
      await eventually(
        "team.gwa.lan once the namespace matches the selector",
        async () => (await entriesNamed(bed, "team.gwa.lan")).length === 1,
      );
      await r.delete("team");
      assertEquals(await entriesNamed(bed, "team.gwa.lan"), []);
    },
  );

  await step(
    "item 3: allowedRoutes Same and kinds: another namespace's routes only where admitted",
    async () => {
      await r.gateway("grpc", [
        http("grpc-only", {
          hostname: "grpc.gwa.lan",
          allowedRoutes: { namespaces: { from: "All" }, kinds: [{ kind: "GRPCRoute" }] },
        }),
      ]);
      await setGatewayAddresses(bed.kube, ns, "grpc", ["10.4.0.7"]);
      const other = new Routes(bed.kube, await bed.kube.createNamespace(uniqueName("gwb")));
      const toApp = [{ name: "edge", namespace: ns, sectionName: "app" }];
      const toGrpc = [{ name: "grpc", namespace: ns }];
      // Accepted (a controller may accept what a listener then ignores): the listener rules decide.
      await other.route("same-only", toApp, ["app.gwa.lan"]);
      await other.accept("same-only", toApp);
      await other.route("http-kind", toGrpc);
      await other.accept("http-kind", toGrpc);
      await other.route("grpc-kind", toGrpc, undefined, "GRPCRoute");
      await other.accept("grpc-kind", toGrpc, undefined, "GRPCRoute");
      const grpc = await eventually(
        "the GRPCRoute's entry from the grpc-only listener",
        async () => {
          const e = await entriesNamed(bed, "grpc.gwa.lan");
          return e.length === 1 ? e : undefined;
        },
      );
      assertEquals(grpc[0].comment, `k8s-gateway:${other.ns}/grpc-kind`);
      assertEquals(grpc[0].tags, ["kubernetes", "gateway", "grpcroute"]);
      for (const name of ["same-only", "http-kind"]) {
        await eventually(
          `a NoMatchingListener event on ${name}`,
          async () => (await other.events(name)).some((e) => e.reason === "NoMatchingListener"),
        );
      }
      await waitIdle(op, "gateway-httproute");
      assertEquals(
        await entriesNamed(bed, "app.gwa.lan"),
        [],
        "Same: not from another namespace",
      );
      await other.delete("same-only");
      await other.delete("http-kind");
      await other.delete("grpc-kind", "GRPCRoute");
      assertEquals(await entriesNamed(bed, "grpc.gwa.lan"), []);
    },
  );

  await step(
    "item 4: an entry at each accepting Gateway (IPAddress, Hostname resolved); one moves in place",
    async () => {
      await r.gateway("inside", [
        http("all", { allowedRoutes: { namespaces: { from: "All" } } }),
      ]);
      // The bed's resolver answers localhost itself (controllers/engine/ip_source.ts).
      await setGatewayAddresses(bed.kube, ns, "inside", ["localhost"]);
      const refs = [{ name: "edge", sectionName: "app" }, { name: "inside" }];
      await r.route("both", refs, ["app.gwa.lan"]);
      await r.accept("both", refs);
      const two = await eventually("app.gwa.lan at both Gateways", async () => {
        const e = await entriesNamed(bed, "app.gwa.lan");
        return e.length === 2 ? e : undefined;
      });
      assertEquals(pairs(two), [["app.gwa.lan", "10.4.0.1"], ["app.gwa.lan", "127.0.0.1"]]);
      const id = (ip: string) => two.find((e) => e.ipAddress === ip)!.id;
      const want = {
        "app.gwa.lan": id("10.4.0.1"),
        [`app.gwa.lan (${id("127.0.0.1")})`]: id("127.0.0.1"),
      };
      const ids = await eventually("both entries tracked", async () => {
        const got = await r.tracked("both");
        return Object.keys(got).length === 2 ? got : undefined;
      });
      assertEquals(ids, want);

      await setGatewayAddresses(bed.kube, ns, "edge", ["10.4.0.2"]);
      await eventually(
        "the edge entry moved in place",
        async () => (await bed.hosts.getHost(id("10.4.0.1"))).ipAddress === "10.4.0.2",
      );
      assertEquals(
        pairs(await entriesNamed(bed, "app.gwa.lan")),
        [["app.gwa.lan", "10.4.0.2"], ["app.gwa.lan", "127.0.0.1"]],
      );
      assertEquals(await r.tracked("both"), ids, "same entries, same ids");

      await r.accept("both", refs.slice(0, 1));
      await eventually(
        "only edge's entry left once inside no longer accepts",
        async () =>
          JSON.stringify(pairs(await entriesNamed(bed, "app.gwa.lan"))) ===
            JSON.stringify([["app.gwa.lan", "10.4.0.2"]]),
      );
      await r.delete("both");
      assertEquals(await entriesNamed(bed, "app.gwa.lan"), []);
    },
  );
  dumpLogsIfFailed();
});
