/**
 * The Gateway API sources end to end (`--enable-gateway`): the operator runs
 * as its own process against a real kube-apiserver with the Gateway API
 * CRDs of sigs.k8s.io/gateway-api (standard channel, pinned in
 * tests/testbed/versions.json) and the router-hosts server, observed
 * from outside. The operator starts before the CRDs exist, as on a cluster
 * where Gateway API is installed after the operator. No Gateway controller
 * runs on the bed: the test writes what one would (the Gateway's address,
 * the route's Accepted=True), tests/testbed/gateway_api.ts.
 */
import type { HostEntry } from "../../grpc/hosts_port.ts";
import { assertEquals, assertOk } from "../assert.ts";
import { installCrds, type KubeTestbed, trackSteps, uniqueName } from "../testbed/mod.ts";
import { eventually } from "../testbed/operator.ts";
import { eventsAbout, reconciles, waitIdle } from "../testbed/observe.ts";
import { setRouteStatus } from "../testbed/gateway_api.ts";
import { HOST_IDS } from "./sources_fixture.ts";
import { bedTest } from "../testbed/bed.ts";

const API = "/apis/gateway.networking.k8s.io/v1";
/** Longer than the Go operator's 5 s requeue of a route without an IP. */
const NO_POLL_WINDOW_MS = 6_000;
const FINALIZER = "router-hosts.fzymgc.house/gateway-cleanup";

type RouteKind = "HTTPRoute" | "GRPCRoute" | "TLSRoute";

interface RouteObject {
  metadata: {
    name: string;
    namespace: string;
    finalizers?: string[];
    annotations?: Record<string, string>;
  };
}

/** Gateway API objects on the bed's API server. */
class GatewayApi {
  constructor(readonly kube: KubeTestbed) {}

  path(ns: string, plural: string, name?: string): string {
    return `${API}/namespaces/${ns}/${plural}${name ? `/${name}` : ""}`;
  }
  async createGateway(ns: string, name: string): Promise<void> {
    await this.kube.postJson(this.path(ns, "gateways"), {
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "Gateway",
      metadata: { name },
      spec: {
        gatewayClassName: "test",
        listeners: [
          { name: "http", port: 80, protocol: "HTTP" },
          { name: "tls", port: 443, protocol: "TLS", tls: { mode: "Passthrough" } },
        ],
      },
    });
  }
  /** Sets the Gateway's status.addresses, as a Gateway controller would. */
  async setAddress(ns: string, name: string, ip: string): Promise<void> {
    await this.kube.mergePatchJson(`${this.path(ns, "gateways", name)}/status`, {
      status: { addresses: [{ type: "IPAddress", value: ip }] },
    });
  }
  /** Creates the route on `gateway`, which accepts it (as its controller would). */
  async createRoute(
    kind: RouteKind,
    ns: string,
    name: string,
    hostnames: string[],
    gateway: string,
  ): Promise<void> {
    const backend = { name: "svc", port: kind === "TLSRoute" ? 443 : 80 };
    const parentRefs = [{ name: gateway }];
    await this.kube.postJson(this.path(ns, plural(kind)), {
      apiVersion: "gateway.networking.k8s.io/v1",
      kind,
      metadata: { name },
      spec: { parentRefs, hostnames, rules: [{ backendRefs: [backend] }] },
    });
    await setRouteStatus(this.kube, ns, plural(kind), name, parentRefs);
  }
  route(kind: RouteKind, ns: string, name: string): Promise<RouteObject> {
    return this.kube.getJson(this.path(ns, plural(kind), name));
  }
  async deleteRoute(kind: RouteKind, ns: string, name: string): Promise<void> {
    await this.kube.deleteJson(this.path(ns, plural(kind), name));
  }
  /** Waits until the route's host-ids annotation names exactly `hostnames`. */
  waitTracked(
    kind: RouteKind,
    ns: string,
    name: string,
    hostnames: string[],
  ): Promise<Record<string, string>> {
    const want = JSON.stringify([...hostnames].sort());
    return eventually(`${kind} ${ns}/${name} tracks ${want}`, async () => {
      const raw = (await this.route(kind, ns, name)).metadata.annotations?.[HOST_IDS];
      const ids: Record<string, string> = raw ? JSON.parse(raw) : {};
      return JSON.stringify(Object.keys(ids).sort()) === want ? ids : undefined;
    });
  }
  /** Waits until the route is gone (its finalizer was removed). */
  waitGone(kind: RouteKind, ns: string, name: string): Promise<boolean> {
    return eventually(`${kind} ${ns}/${name} deleted`, async () => {
      const res = await this.kube.request("GET", this.path(ns, plural(kind), name));
      return res.status === 404;
    });
  }
}

function plural(kind: RouteKind): string {
  return `${kind.toLowerCase()}s`;
}

function assertEntry(
  e: HostEntry,
  hostname: string,
  ip: string,
  ns: string,
  name: string,
  kind: RouteKind,
) {
  assertEquals(
    [e.hostname, e.ipAddress, e.comment, e.tags],
    [hostname, ip, `k8s-gateway:${ns}/${name}`, ["kubernetes", "gateway", kind.toLowerCase()]],
  );
}

bedTest({ name: "Gateway API routes (--enable-gateway)" }, async ({ bed, ops, t }) => {
  const { step, dumpLogsIfFailed } = trackSteps(t);

  const op = await ops.start({ args: ["--enable-gateway"] });
  const gw = new GatewayApi(bed.kube);
  const ns = await bed.kube.createNamespace(uniqueName("gw"));

  await step("started before the Gateway API CRDs: waits, then picks them up", async () => {
    assertEquals(await op.probe("/readyz"), 200, "ready without the Gateway API CRDs");
    await eventually(
      "a log line that the gateway-httproute controller waits for its CRD",
      () =>
        op.logs().some((l) =>
          l.controller === "gateway-httproute" && l.level === "warn" &&
          /Gateway API CRD httproutes\.gateway\.networking\.k8s\.io is not installed/.test(
            String(l.msg),
          )
        ),
    );
    await installCrds(bed.kube, "gateway-api");
    await gw.createGateway(ns, "edge");
    await gw.setAddress(ns, "edge", "10.3.0.1");
    await gw.createRoute("HTTPRoute", ns, "first", ["first.gw.lan"], "edge");
    // The informer retries with backoff up to 30 s (plus jitter).
    await eventually(
      "the HTTPRoute synced",
      async () => (await bed.hosts.findExact("10.3.0.1", "first.gw.lan")).length === 1,
      90_000,
    );
    for (const kind of ["httproute", "grpcroute", "tlsroute"]) {
      await eventually(
        `the gateway-${kind} controller started`,
        () =>
          op.logs().some((l) =>
            new RegExp(
              `Gateway API CRD ${kind}s\\.gateway\\.networking\\.k8s\\.io is installed`,
            )
              .test(String(l.msg))
          ),
        90_000,
      );
    }
    await gw.deleteRoute("HTTPRoute", ns, "first");
    await gw.waitGone("HTTPRoute", ns, "first");
  });

  // Created first, so that everything the next steps do happens while it waits.
  let waitingSince = 0;
  let reconcilesWhileWaiting = 0;
  await step(
    "no address and no --default-ingress-ip → nothing created, one NoIngressIP",
    async () => {
      await gw.createGateway(ns, "pending");
      await gw.createRoute("TLSRoute", ns, "waiting", ["waiting.gw.lan"], "pending");
      await eventually(
        "a NoIngressIP event",
        async () =>
          (await eventsAbout(bed.kube, ns, "TLSRoute", "waiting")).some((e) =>
            e.reason === "NoIngressIP"
          ),
      );
      // The reconcile that emitted the event is counted once it returns.
      await waitIdle(op, "gateway-tlsroute");
      reconcilesWhileWaiting = await reconciles(op, "gateway-tlsroute");
      waitingSince = Date.now();
      assertEquals(await bed.hosts.searchHosts("waiting.gw.lan"), []);
      const route = await gw.route("TLSRoute", ns, "waiting");
      assertEquals(
        route.metadata.finalizers ?? [],
        [],
        "no finalizer while nothing is written",
      );
    },
  );

  await step(
    "HTTPRoute: two entries with the Gateway's IP; address change updates them in place; delete cleans",
    async () => {
      await gw.createRoute(
        "HTTPRoute",
        ns,
        "web",
        ["a.gw.lan", "b.gw.lan", "*.gw.lan"],
        "edge",
      );
      const ids = await gw.waitTracked("HTTPRoute", ns, "web", ["a.gw.lan", "b.gw.lan"]);
      const before: Record<string, HostEntry> = {};
      for (const [hostname, id] of Object.entries(ids)) {
        before[hostname] = await bed.hosts.getHost(id);
        assertEntry(before[hostname], hostname, "10.3.0.1", ns, "web", "HTTPRoute");
        assertEquals(
          (await bed.hosts.searchHosts(hostname)).length,
          1,
          `one entry for ${hostname}`,
        );
      }
      assertEquals((await gw.route("HTTPRoute", ns, "web")).metadata.finalizers, [FINALIZER]);

      await gw.setAddress(ns, "edge", "10.3.0.2");
      for (const [hostname, id] of Object.entries(ids)) {
        const after = await eventually(`${hostname} moved to 10.3.0.2`, async () => {
          const e = await bed.hosts.getHost(id);
          return e.ipAddress === "10.3.0.2" ? e : undefined;
        });
        assertEntry(after, hostname, "10.3.0.2", ns, "web", "HTTPRoute");
        assertOk(after.version !== before[hostname].version, "version bumped");
      }
      assertEquals(await gw.waitTracked("HTTPRoute", ns, "web", ["a.gw.lan", "b.gw.lan"]), ids);

      await gw.deleteRoute("HTTPRoute", ns, "web");
      await gw.waitGone("HTTPRoute", ns, "web");
      for (const hostname of Object.keys(ids)) {
        assertEquals(await bed.hosts.searchHosts(hostname), [], `${hostname} deleted`);
      }
    },
  );

  await step(
    "entries in the Go operator's format are adopted; a foreign comment is refused and kept",
    async () => {
      const go = await bed.hosts.addHost({
        ipAddress: "10.3.0.2",
        hostname: "adopt.gw.lan",
        comment: `k8s-gateway:${ns}/legacy`,
        aliases: [],
        tags: ["kubernetes", "gateway", "httproute"],
      });
      const foreign = await bed.hosts.addHost({
        ipAddress: "10.3.0.2",
        hostname: "taken.gw.lan",
        comment: "k8s-gateway:elsewhere/legacy",
        aliases: [],
        tags: ["kubernetes", "gateway", "httproute"],
      });
      await gw.createRoute("HTTPRoute", ns, "legacy", ["adopt.gw.lan", "taken.gw.lan"], "edge");
      const ids = await gw.waitTracked("HTTPRoute", ns, "legacy", ["adopt.gw.lan"]);
      assertEquals(ids["adopt.gw.lan"], go.id, "adopted, not duplicated");
      // Another route's entry: a hostname conflict (issue 12), not a foreign entry.
      const refused = await eventually(
        "a HostnameConflict event",
        async () =>
          (await eventsAbout(bed.kube, ns, "HTTPRoute", "legacy")).find((e) =>
            e.reason === "HostnameConflict"
          ),
      );
      assertOk(refused.note.includes("taken.gw.lan"), refused.note);
      assertEquals((await bed.hosts.searchHosts("adopt.gw.lan")).length, 1);

      await gw.deleteRoute("HTTPRoute", ns, "legacy");
      await gw.waitGone("HTTPRoute", ns, "legacy");
      assertEquals(
        await bed.hosts.searchHosts("adopt.gw.lan"),
        [],
        "the adopted entry is ours",
      );
      assertEquals(
        (await bed.hosts.searchHosts("taken.gw.lan")).map((e) => e.id),
        [foreign.id],
        "the foreign entry is never deleted",
      );
    },
  );

  await step(
    "the waiting route is synced when its Gateway gets an address, with no polling",
    async () => {
      // A poll would show within its period (the Go operator requeues such a
      // route every 5 s): keep the operator busy with other routes until the
      // wait has lasted longer than that, then count.
      for (let i = 0; Date.now() - waitingSince < NO_POLL_WINDOW_MS; i++) {
        await gw.createRoute("HTTPRoute", ns, `busy-${i}`, [`busy-${i}.gw.lan`], "edge");
        await gw.waitTracked("HTTPRoute", ns, `busy-${i}`, [`busy-${i}.gw.lan`]);
        await gw.deleteRoute("HTTPRoute", ns, `busy-${i}`);
        await gw.waitGone("HTTPRoute", ns, `busy-${i}`);
      }
      const elapsedMs = Date.now() - waitingSince;
      assertEquals(
        await reconciles(op, "gateway-tlsroute"),
        reconcilesWhileWaiting,
        `no tlsroute reconcile in the ${elapsedMs} ms it waited`,
      );
      await gw.setAddress(ns, "pending", "10.3.0.9");
      const ids = await gw.waitTracked("TLSRoute", ns, "waiting", ["waiting.gw.lan"]);
      assertEntry(
        await bed.hosts.getHost(ids["waiting.gw.lan"]),
        "waiting.gw.lan",
        "10.3.0.9",
        ns,
        "waiting",
        "TLSRoute",
      );
      await eventually(
        "the reconcile the address caused is counted",
        async () => await reconciles(op, "gateway-tlsroute") > reconcilesWhileWaiting,
      );
      assertEquals(
        await reconciles(op, "gateway-tlsroute"),
        reconcilesWhileWaiting + 1,
        "exactly one reconcile: the Gateway's change",
      );
      const noIP = (await eventsAbout(bed.kube, ns, "TLSRoute", "waiting"))
        .filter((e) => e.reason === "NoIngressIP");
      assertEquals(noIP.length, 1, "one NoIngressIP event");
      await gw.deleteRoute("TLSRoute", ns, "waiting");
      await gw.waitGone("TLSRoute", ns, "waiting");
    },
  );

  await step(
    "GRPCRoute and TLSRoute with the same namespace/name: both synced, both cleaned",
    async () => {
      await gw.createRoute("GRPCRoute", ns, "twin", ["grpc.gw.lan"], "edge");
      await gw.createRoute("TLSRoute", ns, "twin", ["tls.gw.lan"], "edge");
      const grpc = await gw.waitTracked("GRPCRoute", ns, "twin", ["grpc.gw.lan"]);
      const tls = await gw.waitTracked("TLSRoute", ns, "twin", ["tls.gw.lan"]);
      assertEntry(
        await bed.hosts.getHost(grpc["grpc.gw.lan"]),
        "grpc.gw.lan",
        "10.3.0.2",
        ns,
        "twin",
        "GRPCRoute",
      );
      assertEntry(
        await bed.hosts.getHost(tls["tls.gw.lan"]),
        "tls.gw.lan",
        "10.3.0.2",
        ns,
        "twin",
        "TLSRoute",
      );
      await gw.deleteRoute("GRPCRoute", ns, "twin");
      await gw.waitGone("GRPCRoute", ns, "twin");
      assertEquals(await bed.hosts.searchHosts("grpc.gw.lan"), []);
      assertEquals(
        (await bed.hosts.searchHosts("tls.gw.lan")).length,
        1,
        "the TLSRoute's stays",
      );
      await gw.deleteRoute("TLSRoute", ns, "twin");
      await gw.waitGone("TLSRoute", ns, "twin");
      assertEquals(await bed.hosts.searchHosts("tls.gw.lan"), []);
    },
  );
  dumpLogsIfFailed();
});
