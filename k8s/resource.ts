/**
 * What a Kubernetes resource is (group, version, plural, scope), the REST
 * paths of its collection and objects, and the "namespace/name" keys the
 * store and the work queue use.
 *
 * @module
 */

/** A resource the runtime can list, watch and patch. */
export interface ResourceType {
  /** API group; "" for the core group (`/api/v1`). */
  group: string;
  version: string;
  /** Lower-case plural used in paths, e.g. "hostmappings". */
  plural: string;
  kind: string;
  namespaced: boolean;
}

/** The metadata fields the runtime reads; everything else passes through. */
export interface ObjectMeta {
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  finalizers?: string[];
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  [field: string]: unknown;
}

/** Any Kubernetes object as it arrives from the API server. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  [field: string]: unknown;
}

/** A list response (`kind: XList`). */
export interface KubeList<T = KubeObject> {
  apiVersion?: string;
  kind?: string;
  metadata?: { resourceVersion?: string; continue?: string; remainingItemCount?: number };
  items: T[];
}

/** `group/version`, or just `version` for the core group. */
export function apiVersionOf(rt: ResourceType): string {
  return rt.group === "" ? rt.version : `${rt.group}/${rt.version}`;
}

function groupVersionPath(rt: ResourceType): string {
  return rt.group === "" ? `/api/${rt.version}` : `/apis/${rt.group}/${rt.version}`;
}

/**
 * Path of the resource's collection: all namespaces when `namespace` is
 * omitted (or the resource is cluster-scoped), else one namespace.
 */
export function collectionPath(rt: ResourceType, namespace?: string): string {
  const ns = rt.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : "";
  return `${groupVersionPath(rt)}${ns}/${rt.plural}`;
}

/** Path of one object, optionally of a subresource such as "status". */
export function objectPath(
  rt: ResourceType,
  namespace: string | undefined,
  name: string,
  subresource?: string,
): string {
  if (rt.namespaced && !namespace) {
    throw new Error(`${rt.kind} ${name}: a namespaced resource needs a namespace`);
  }
  const base = `${collectionPath(rt, namespace)}/${encodeURIComponent(name)}`;
  return subresource ? `${base}/${subresource}` : base;
}

/**
 * The cache key of an object: "namespace/name", or "name" for
 * cluster-scoped objects (client-go's MetaNamespaceKeyFunc).
 */
export function objectKey(obj: { metadata?: { name?: string; namespace?: string } }): string {
  const name = obj.metadata?.name;
  if (!name) throw new Error("object has no metadata.name");
  const ns = obj.metadata?.namespace;
  return ns ? `${ns}/${name}` : name;
}

/** Splits a key made by {@link objectKey}; `namespace` is "" for cluster-scoped keys. */
export function parseKey(key: string): { namespace: string; name: string } {
  const slash = key.indexOf("/");
  if (slash < 0) return { namespace: "", name: key };
  return { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}
