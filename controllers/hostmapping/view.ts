/**
 * What a HostMapping is to the operator: the resource, its finalizer, the
 * fields the cache keeps (projection), which changes need a reconcile, and
 * the entry it wants on router-hosts.
 *
 * Separate from the reconciler (hostmapping/controller.ts) because these are pure
 * functions of the object, used by the reconciler, its wiring and main.ts
 * (the comment format, for the orphan sweep).
 *
 * @module
 */
import { deepEqual } from "../../k8s/equal.ts";
import type { KubeObject, ResourceType } from "../../k8s/resource.ts";
import { type ObjectView, viewOf } from "../../k8s/view.ts";
import type { DesiredHost } from "../hosts/sync.ts";
import { canonicalIp } from "../hosts/ip.ts";
import type { HostMappingStatus } from "./status.ts";
import { DEFAULT_POLICY, entryTags, type Policy, retainsOnDelete } from "../hosts/policy.ts";

/** The HostMapping custom resource. */
export const HOSTMAPPING: ResourceType = {
  group: "router-hosts.fzymgc.house",
  version: "v1alpha1",
  plural: "hostmappings",
  kind: "HostMapping",
  namespaced: true,
};

/** Held until the server entry is deleted. */
export const HOSTMAPPING_FINALIZER = "router-hosts.fzymgc.house/host-cleanup";

/** The fields of a HostMapping that reconcile reads; all the cache keeps. */
export interface HostMappingView extends ObjectView {
  spec: { hostname: string; ip: string; aliases: string[]; tags: string[] };
  status: HostMappingStatus;
  /** Annotation `on-delete: retain`: the entry stays when the object is deleted. */
  retain?: boolean;
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
}

/** Keeps what reconcile needs of a HostMapping. */
export function projectHostMapping(obj: KubeObject): HostMappingView {
  const spec = (obj.spec ?? {}) as Record<string, unknown>;
  const status = (obj.status ?? {}) as HostMappingStatus;
  const retain = retainsOnDelete(obj.metadata?.annotations);
  return {
    ...viewOf(obj),
    ...(retain ? { retain } : {}),
    spec: {
      hostname: typeof spec.hostname === "string" ? spec.hostname : "",
      ip: typeof spec.ip === "string" ? spec.ip : "",
      aliases: strings(spec.aliases),
      tags: strings(spec.tags),
    },
    status: {
      phase: status.phase,
      message: status.message,
      hostId: status.hostId,
      hostVersion: status.hostVersion,
      lastSyncTime: status.lastSyncTime,
      conditions: status.conditions,
    },
  };
}

/**
 * True when a change from `prev` to `next` needs a reconcile: spec,
 * deletion, labels or annotations changed, or our finalizer is missing. Status-only changes (our own writes) do
 * not, so writing status never loops back into a reconcile.
 */
export function needsReconcile(prev: HostMappingView | undefined, next: HostMappingView): boolean {
  if (!prev) return true;
  return prev.generation !== next.generation ||
    prev.deletionTimestamp !== next.deletionTimestamp ||
    // Our own finalizer write must not wake us again (its watch event can
    // arrive before our PATCH returns); someone removing it must.
    (!next.finalizers.includes(HOSTMAPPING_FINALIZER) && !next.deletionTimestamp) ||
    prev.metaHash !== next.metaHash ||
    !deepEqual(prev.spec, next.spec);
}

/** The owner comment of the entry of `namespace/name`. */
export function hostMappingComment(namespace: string, name: string): string {
  return `k8s:${namespace}/${name}`;
}

function unique(xs: string[]): string[] {
  return [...new Set(xs)];
}

/** The entry a HostMapping wants (with the owner tag of `policy`). */
export function desiredHost(view: HostMappingView, policy: Policy = DEFAULT_POLICY): DesiredHost {
  return {
    ipAddress: canonicalIp(view.spec.ip) ?? view.spec.ip,
    hostname: view.spec.hostname,
    comment: hostMappingComment(view.namespace, view.name),
    aliases: unique(view.spec.aliases),
    tags: unique(entryTags(policy, view.spec.tags)),
  };
}
