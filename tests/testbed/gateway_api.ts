/**
 * What a Gateway controller writes and no controller on the bed does: a
 * route's `status.parents` (Accepted=True, or False with a reason, per
 * parentRef) and a Gateway's `status.addresses`. The e2e tests, the chart
 * test and the demo write them through the status subresource, as they
 * write a Service's load-balancer address.
 *
 * @module
 */
import type { KubeTestbed } from "./kube.ts";

const API = "/apis/gateway.networking.k8s.io/v1";

/** The controllerName the bed's stand-in Gateway controller writes. */
export const TESTBED_GATEWAY_CONTROLLER = "example.com/testbed-gateway";

/**
 * The `status` of a route whose Gateways accepted each of `parentRefs`
 * (or, with `refused`, did not: Accepted=False with that reason).
 */
export function routeStatus(
  parentRefs: readonly Record<string, unknown>[],
  refused?: string,
): { parents: unknown[] } {
  const lastTransitionTime = new Date().toISOString().replace(/\.\d+Z$/, "Z");
  return {
    parents: parentRefs.map((parentRef) => ({
      parentRef,
      controllerName: TESTBED_GATEWAY_CONTROLLER,
      conditions: [{
        type: "Accepted",
        status: refused ? "False" : "True",
        reason: refused ?? "Accepted",
        message: refused ? `not accepted: ${refused}` : "accepted by the test bed",
        lastTransitionTime,
      }],
    })),
  };
}

/** Writes `routeStatus(parentRefs, refused)` on the route `plural`/`name` in `ns`. */
export async function setRouteStatus(
  kube: KubeTestbed,
  ns: string,
  plural: string,
  name: string,
  parentRefs: readonly Record<string, unknown>[],
  refused?: string,
): Promise<void> {
  await kube.mergePatchJson(`${API}/namespaces/${ns}/${plural}/${name}/status`, {
    status: routeStatus(parentRefs, refused),
  });
}

/** Writes the Gateway's `status.addresses` (type IPAddress, or Hostname for a name). */
export async function setGatewayAddresses(
  kube: KubeTestbed,
  ns: string,
  name: string,
  addresses: readonly string[],
): Promise<void> {
  await kube.mergePatchJson(`${API}/namespaces/${ns}/gateways/${name}/status`, {
    status: {
      addresses: addresses.map((value) => ({
        type: /^[0-9.]+$|:/.test(value) ? "IPAddress" : "Hostname",
        value,
      })),
    },
  });
}
