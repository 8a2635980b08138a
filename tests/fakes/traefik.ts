/**
 * Traefik objects for unit tests of the IngressRoute source and the engine.
 *
 * @module
 */
import type { KubeObject } from "../../k8s/resource.ts";

/** A backtick, to write Traefik rules inside template literals. */
export const B = "`";

/** An IngressRoute (or `kind`) apps/web with one route per match. */
export function ingressRoute(
  matches: unknown[],
  meta: Record<string, unknown> = {},
  kind = "IngressRoute",
): KubeObject {
  return {
    apiVersion: "traefik.io/v1alpha1",
    kind,
    metadata: {
      name: "web",
      namespace: "apps",
      uid: "uid-web",
      resourceVersion: "1",
      generation: 1,
      ...meta,
    },
    spec: { entryPoints: ["websecure"], routes: matches.map((match) => ({ match, kind: "Rule" })) },
  } as KubeObject;
}
