/**
 * The IngressRoute and IngressRouteTCP controllers (`traefik.io/v1alpha1`):
 * every hostname in an object's `spec.routes[].match` becomes one
 * router-hosts entry with ip `--default-ingress-ip`, comment
 * `k8s-ingress:<namespace>/<name>` and tags kubernetes, traefik, ingress.
 *
 * Which entry belongs to which hostname is kept on the object in the
 * annotation `router-hosts.fzymgc.house/host-ids` (a JSON object hostname →
 * entry id, the Go operator's format), so a hostname dropped from the rules
 * can be deleted and the entries survive operator restarts.
 *
 * Each kind has its own informer, queue and controller, so an IngressRoute
 * and an IngressRouteTCP of the same name never shadow each other. They do
 * share the comment (the Go operator's format has no kind in it), so each
 * one leaves alone entries the other object of the same name tracks or
 * wants ({@link Claims}).
 *
 * Recovery, so no entry is ever silently orphaned:
 * - a corrupt annotation: Warning Event `CorruptAnnotation` and an error
 *   log; the object's entries are found on the server by comment and tags
 *   (SearchHosts) and tracked from there, and the annotation is rewritten;
 * - an annotation write that fails (e.g. 409 because the object changed):
 *   the ids are kept in memory and merged into the next reconcile;
 * - on deletion, after the tracked entries are gone, entries with our
 *   comment and tags that the annotation missed (a crash between AddHost
 *   and the annotation write) are deleted too.
 *
 * An id in the annotation is trusted only while its entry still carries our
 * comment and tags: an annotation copied along with a manifest never lets
 * the copy update or delete the original's entries.
 *
 * The pure parts (projection, desired hostnames, annotation format, the
 * tracked-versus-desired plan) are exported for unit tests.
 *
 * @module
 */
import type { HostEntry } from "../grpc/client.ts";
import type { KubeClient } from "../k8s/client.ts";
import { Controller, TerminalError } from "../k8s/controller.ts";
import { deepEqual } from "../k8s/equal.ts";
import type { EventRecorder, EventRegarding } from "../k8s/events.ts";
import type { Unit } from "../k8s/manager.ts";
import { ObjectWriter } from "../k8s/object_writer.ts";
import type { KubeObject, ResourceType } from "../k8s/resource.ts";
import type { Store } from "../k8s/store.ts";
import { Informer } from "../k8s/watcher.ts";
import type { Logger } from "../observability/log.ts";
import type { Metrics } from "../observability/metrics.ts";
import {
  AdoptionRefusedError,
  deleteHost,
  type EnsureAction,
  ensureHost,
  type HostsApi,
} from "./host_sync.ts";
import { classifyError } from "./hostmapping.ts";
import { fingerprint, type ObjectView, viewOf } from "../k8s/view.ts";
import { parseRule, type RuleKind } from "./rules.ts";

/** One Traefik kind this module reconciles. */
export interface TraefikKind {
  resource: ResourceType;
  /** The controller name: the `controller` label of metrics and logs. */
  controller: string;
  /** Which matcher names the hosts. */
  rule: RuleKind;
}

/** Traefik's HTTP router CRD. */
export const INGRESSROUTE: TraefikKind = {
  resource: {
    group: "traefik.io",
    version: "v1alpha1",
    plural: "ingressroutes",
    kind: "IngressRoute",
    namespaced: true,
  },
  controller: "ingressroute",
  rule: "http",
};

/** Traefik's TCP router CRD. */
export const INGRESSROUTETCP: TraefikKind = {
  resource: {
    group: "traefik.io",
    version: "v1alpha1",
    plural: "ingressroutetcps",
    kind: "IngressRouteTCP",
    namespaced: true,
  },
  controller: "ingressroutetcp",
  rule: "tcp",
};

/** Held until every entry of the object is deleted (the Go operator's name). */
export const INGRESSROUTE_FINALIZER = "router-hosts.fzymgc.house/ingressroute-cleanup";
/** hostname → entry id, JSON (the Go operator's key and format). */
export const HOST_IDS_ANNOTATION = "router-hosts.fzymgc.house/host-ids";
/** Tags of every entry; `traefik` and `ingress` also mark an entry as adoptable. */
export const INGRESS_TAGS: readonly string[] = ["kubernetes", "traefik", "ingress"];

/** Hostnames of one object handled at once: a route with 200 hosts converges quickly. */
export const HOST_CONCURRENCY = 8;

/**
 * The fields of an IngressRoute(TCP) that reconcile reads; all the cache
 * keeps. Our own `host-ids` annotation is left out of `metaHash`, so writing
 * it never causes another pass over every host.
 */
export interface IngressRouteView extends ObjectView {
  /** The raw `host-ids` annotation. */
  hostIds?: string;
  /** `spec.routes[].match`; null where a route has no string match. */
  matches: (string | null)[];
}

/** Keeps what reconcile needs of an IngressRoute or IngressRouteTCP. */
export function projectIngressRoute(obj: KubeObject): IngressRouteView {
  const hostIds = obj.metadata?.annotations?.[HOST_IDS_ANNOTATION];
  const spec = (obj.spec ?? {}) as Record<string, unknown>;
  const routes = Array.isArray(spec.routes) ? spec.routes : [];
  const view: IngressRouteView = {
    ...viewOf(obj, [HOST_IDS_ANNOTATION]),
    matches: routes.map((r) => {
      const match = (r as Record<string, unknown> | null)?.match;
      return typeof match === "string" ? match : null;
    }),
  };
  if (hostIds !== undefined) view.hostIds = hostIds;
  return view;
}

/**
 * True when a change from `prev` to `next` needs a reconcile: rules,
 * deletion, finalizers, labels or other annotations changed. Our own writes
 * do not — the annotation (a person editing it is seen at the next resync),
 * and our finalizer appearing, which the watch may report before the write's
 * response is in the cache — so no write causes another pass over every host.
 */
export function needsReconcile(
  prev: IngressRouteView | undefined,
  next: IngressRouteView,
): boolean {
  if (!prev) return true;
  const others = (f: string[]) => f.filter((x) => x !== INGRESSROUTE_FINALIZER);
  const oursRemoved = prev.finalizers.includes(INGRESSROUTE_FINALIZER) &&
    !next.finalizers.includes(INGRESSROUTE_FINALIZER);
  return prev.generation !== next.generation ||
    prev.deletionTimestamp !== next.deletionTimestamp ||
    oursRemoved || !deepEqual(others(prev.finalizers), others(next.finalizers)) ||
    prev.metaHash !== next.metaHash ||
    !deepEqual(prev.matches, next.matches);
}

/** The owner comment of the entries of `namespace/name` (the Go operator's format). */
export function ingressComment(namespace: string, name: string): string {
  return `k8s-ingress:${namespace}/${name}`;
}

/** Adoption rule: our comment AND the tags traefik and ingress. */
export function ownsIngressEntry(comment: string): (entry: HostEntry) => boolean {
  return (e) => e.comment === comment && e.tags.includes("traefik") && e.tags.includes("ingress");
}

/** A host-matcher value of route `route` that is not synced, and why. */
export interface SkippedValue {
  route: number;
  value: string;
  reason: string;
}

/** A route whose match cannot be parsed. */
export interface RuleError {
  route: number;
  match: string | null;
  message: string;
}

/** The hostnames an object wants, and what was left out. */
export interface DesiredHostnames {
  /** De-duplicated case-insensitively across routes; first spelling kept. */
  hosts: string[];
  skipped: SkippedValue[];
  /** Malformed routes; while there are any, tracked hostnames are not deleted. */
  errors: RuleError[];
}

/** The hostnames of every route of `view`. */
export function desiredHostnames(view: IngressRouteView, rule: RuleKind): DesiredHostnames {
  const out: DesiredHostnames = { hosts: [], skipped: [], errors: [] };
  const seen = new Set<string>();
  view.matches.forEach((match, route) => {
    if (match === null) {
      out.errors.push({ route, match, message: "the route has no match rule" });
      return;
    }
    const parsed = parseRule(match, rule);
    for (const message of parsed.errors) out.errors.push({ route, match, message });
    for (const s of parsed.skipped) out.skipped.push({ route, ...s });
    for (const host of parsed.hosts) {
      if (seen.has(host.toLowerCase())) continue;
      seen.add(host.toLowerCase());
      out.hosts.push(host);
    }
  });
  return out;
}

/** One tracked entry: the hostname it was made for and its id. */
export interface TrackedHost {
  hostname: string;
  id: string;
}

/** The annotation's content, or why it is corrupt. */
export type ParsedHostIds = { tracked: TrackedHost[] } | { error: string };

/** Reads the `host-ids` annotation; absent or empty means nothing tracked. */
export function parseHostIds(raw: string | undefined): ParsedHostIds {
  if (raw === undefined || raw.trim() === "") return { tracked: [] };
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (e) {
    return { error: `not JSON: ${(e as Error).message}` };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { error: `not a JSON object but ${Array.isArray(value) ? "an array" : String(value)}` };
  }
  const tracked: TrackedHost[] = [];
  for (const [hostname, id] of Object.entries(value)) {
    if (typeof id !== "string" || id === "") {
      return { error: `the id of ${JSON.stringify(hostname)} is not a non-empty string` };
    }
    tracked.push({ hostname, id });
  }
  return { tracked };
}

/**
 * The annotation value for `tracked`: compact JSON with sorted keys, as Go's
 * encoding/json writes it; null (remove the annotation) when empty. A second
 * entry under an already used hostname (only possible after a recovery) is
 * kept under `hostname (id)`: a key no rule names, so it is deleted next.
 */
export function serializeHostIds(tracked: readonly TrackedHost[]): string | null {
  if (tracked.length === 0) return null;
  const map: Record<string, string> = {};
  for (const t of tracked) {
    map[t.hostname in map ? `${t.hostname} (${t.id})` : t.hostname] = t.id;
  }
  const sorted: Record<string, string> = {};
  for (const k of Object.keys(map).sort()) sorted[k] = map[k];
  return JSON.stringify(sorted);
}

/** What to do: make these hostnames exist (with the id we know, if any), delete these. */
export interface SyncPlan {
  ensure: { hostname: string; knownId?: string }[];
  stale: TrackedHost[];
}

/**
 * Matches tracked entries to desired hostnames: exact spelling first, then
 * case-insensitively (a change of case updates the entry in place). Tracked
 * entries no hostname claims are stale; an id tracked twice is one entry.
 */
export function planSync(tracked: readonly TrackedHost[], desired: readonly string[]): SyncPlan {
  const used = new Set<number>();
  const take = (match: (t: TrackedHost) => boolean): TrackedHost | undefined => {
    const i = tracked.findIndex((t, j) => !used.has(j) && match(t));
    if (i < 0) return undefined;
    used.add(i);
    return tracked[i];
  };
  const ensure = desired.map((hostname) => {
    const lower = hostname.toLowerCase();
    const known = take((t) => t.hostname === hostname) ??
      take((t) => t.hostname.toLowerCase() === lower);
    return known ? { hostname, knownId: known.id } : { hostname };
  });
  const ensuredIds = new Set(ensure.map((e) => e.knownId));
  const staleIds = new Set<string>();
  const stale = tracked.filter((t, i) => {
    if (used.has(i) || ensuredIds.has(t.id) || staleIds.has(t.id)) return false;
    staleIds.add(t.id);
    return true;
  });
  return { ensure, stale };
}

/** What the other kind's object of the same namespace/name holds on to. */
export interface Claims {
  /** Entry ids it tracks. */
  ids: ReadonlySet<string>;
  /** Hostnames it wants (lower case). */
  hostnames: ReadonlySet<string>;
}

const NO_CLAIMS: Claims = { ids: new Set(), hostnames: new Set() };

/**
 * The claims of the object `view` (undefined = none): an object being
 * deleted claims nothing, so two such objects never both spare an entry.
 */
export function claimsOf(view: IngressRouteView | undefined, rule: RuleKind): Claims {
  if (!view || view.deletionTimestamp) return NO_CLAIMS;
  const parsed = parseHostIds(view.hostIds);
  return {
    ids: new Set("tracked" in parsed ? parsed.tracked.map((t) => t.id) : []),
    hostnames: new Set(desiredHostnames(view, rule).hosts.map((h) => h.toLowerCase())),
  };
}

/** The router-hosts calls this controller makes (the gRPC client implements them). */
export interface IngressHostsApi extends HostsApi {
  /** The server's loose search; used to find our entries by comment. */
  searchHosts(query: string): Promise<HostEntry[]>;
}

/** Dependencies of {@link IngressRouteReconciler}. */
export interface IngressRouteDeps {
  kind: TraefikKind;
  hosts: IngressHostsApi;
  writer: ObjectWriter<IngressRouteView>;
  get: (key: string) => IngressRouteView | undefined;
  events: EventRecorder;
  log: Logger;
  /** `--default-ingress-ip`; empty means: sync nothing. */
  ingressIP: string;
  /** What the other kind's object with this key holds; none when omitted. */
  claims?: (key: string) => Claims;
  /** Reports how many entries a key tracks (router_hosts_managed_hosts). */
  tracked?: (key: string, count: number) => void;
  /** Hostnames of one object handled concurrently (default {@link HOST_CONCURRENCY}). */
  concurrency?: number;
}

/** Runs `fn` over `items`, at most `limit` at a time; `fn` must not reject. */
async function forEachLimit<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** "a, b, c and 7 more". */
function listSome(xs: readonly string[], max = 5): string {
  const head = xs.slice(0, max).join(", ");
  return xs.length > max ? `${head} and ${xs.length - max} more` : head;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

interface HostFailure {
  hostname: string;
  error: unknown;
}

/** Reconciles one IngressRoute or IngressRouteTCP key against router-hosts. */
export class IngressRouteReconciler {
  readonly #d: IngressRouteDeps;
  readonly #kind: string;
  /** Ids whose annotation write failed, merged into the next reconcile of the key. */
  readonly #unrecorded = new Map<string, TrackedHost[]>();
  /** Fingerprint of the rule problems last reported per key: report each once. */
  readonly #reported = new Map<string, string>();
  /** Objects (uid) already told there is no --default-ingress-ip. */
  readonly #noIPWarned = new Set<string>();

  constructor(deps: IngressRouteDeps) {
    this.#d = deps;
    this.#kind = deps.kind.resource.kind;
  }

  /** Drops what is remembered about a key whose object is gone. */
  forget(key: string, uid?: string): void {
    this.#unrecorded.delete(key);
    this.#reported.delete(key);
    if (uid) this.#noIPWarned.delete(uid);
  }

  /** Level-triggered: reads the cached object and makes the server match it. */
  async reconcile(key: string): Promise<void> {
    const view = this.#d.get(key);
    if (!view) return;
    const log = this.#d.log.with({ key });
    if (view.deletionTimestamp) return await this.#cleanup(key, view, log);

    const desired = desiredHostnames(view, this.#d.kind.rule);
    this.#reportRuleProblems(key, view, desired, log);
    if (!this.#d.ingressIP) return this.#warnNoIngressIP(view, desired, log);

    const comment = ingressComment(view.namespace, view.name);
    const owns = ownsIngressEntry(comment);
    const claims = this.#d.claims?.(key) ?? NO_CLAIMS;
    const { tracked, recorded } = await this.#tracked(key, view, comment, claims, log);
    const plan = planSync(tracked, desired.hosts);
    // A route that does not parse may still name hosts we track: keep them
    // until it parses again rather than delete entries a typo hid from us.
    const stale = desired.errors.length > 0 ? [] : plan.stale;
    const kept: TrackedHost[] = desired.errors.length > 0 ? [...plan.stale] : [];
    if (plan.ensure.length === 0 && stale.length === 0 && recorded === serializeHostIds(kept)) {
      this.#d.tracked?.(key, kept.length);
      return;
    }

    let current = view;
    if (!current.finalizers.includes(INGRESSROUTE_FINALIZER)) {
      current = await this.#d.writer.addFinalizer(current, INGRESSROUTE_FINALIZER);
    }

    const failures: HostFailure[] = [];
    const next: TrackedHost[] = [...kept];
    const actions = new Map<EnsureAction, string[]>();
    const recreated: string[] = [];
    const released: string[] = [];
    const deleted: string[] = [];
    type Op = { ensure: SyncPlan["ensure"][number] } | { stale: TrackedHost };
    const ops: Op[] = [
      ...plan.ensure.map((ensure) => ({ ensure })),
      ...stale.map((s) => ({ stale: s })),
    ];
    await forEachLimit(ops, this.#d.concurrency ?? HOST_CONCURRENCY, async (op) => {
      if ("ensure" in op) {
        const { hostname, knownId } = op.ensure;
        try {
          const result = await ensureHost(
            this.#d.hosts,
            {
              ipAddress: this.#d.ingressIP,
              hostname,
              comment,
              aliases: [],
              tags: [...INGRESS_TAGS],
            },
            knownId,
            owns,
            { knownMustBeOwned: true },
          );
          next.push({ hostname, id: result.entry.id });
          if (result.action !== "unchanged") {
            actions.set(result.action, [...actions.get(result.action) ?? [], hostname]);
            log.info(`host entry ${result.action}`, {
              hostname,
              hostId: result.entry.id,
              version: result.entry.version,
            });
          }
          if (result.action === "recreated") {
            recreated.push(`${hostname} (${knownId} → ${result.entry.id})`);
          }
        } catch (e) {
          if (knownId) next.push({ hostname, id: knownId });
          failures.push({ hostname, error: e });
        }
        return;
      }
      const { hostname, id } = op.stale;
      if (claims.ids.has(id) || claims.hostnames.has(hostname.toLowerCase())) {
        released.push(hostname);
        return;
      }
      try {
        if (await deleteHost(this.#d.hosts, id, owns)) {
          deleted.push(hostname);
          log.info("host entry deleted: hostname no longer in the rules", { hostname, hostId: id });
        } else {
          log.warn("tracked entry is not ours (comment or tags changed); left alone", {
            hostname,
            hostId: id,
          });
        }
      } catch (e) {
        next.push(op.stale);
        failures.push({ hostname, error: e });
      }
    });
    if (released.length > 0) {
      log.info(
        `hostnames no longer in the rules are still used by the ${this.#siblingKind()} of the same name; their entries are left to it`,
        { hostnames: released },
      );
    }

    // Record progress before reporting failures, so no created id is lost.
    await this.#record(key, current, recorded, next, log);

    if (recreated.length > 0) {
      const note = `${recreated.length} host entr${
        recreated.length === 1 ? "y was" : "ies were"
      } gone from router-hosts and recreated: ${listSome(recreated)}`;
      this.#d.events.event(regarding(this.#d.kind, current), "Normal", "Recreated", note);
    }
    const changed = [...actions.values()].reduce((n, hs) => n + hs.length, 0) + deleted.length;
    if (changed > 0) {
      log.info("host entries synced", {
        created: actions.get("created")?.length,
        adopted: actions.get("adopted")?.length,
        updated: actions.get("updated")?.length,
        recreated: actions.get("recreated")?.length,
        deleted: deleted.length || undefined,
        tracked: next.length,
      });
    }
    if (failures.length > 0) this.#fail(current, failures, ops.length, log);
  }

  /** Writes the annotation when its content changes; remembers it in memory when the write fails. */
  async #record(
    key: string,
    view: IngressRouteView,
    recorded: string | null | undefined,
    next: TrackedHost[],
    log: Logger,
  ): Promise<void> {
    const value = serializeHostIds(next);
    if (value !== recorded) {
      try {
        await this.#d.writer.writeAnnotations(view, { [HOST_IDS_ANNOTATION]: value });
      } catch (e) {
        this.#unrecorded.set(key, next);
        log.warn("could not record host ids in the annotation; kept in memory for the next try", {
          error: errorText(e),
          tracked: next.length,
        });
        throw e;
      }
    }
    this.#unrecorded.delete(key);
    this.#d.tracked?.(key, next.length);
  }

  /**
   * The entries the object tracks: the annotation (or, when it is corrupt,
   * our entries found on the server by comment) plus ids whose recording
   * failed. `recorded` is the annotation's canonical form (undefined when
   * corrupt), to tell whether it must be written.
   */
  async #tracked(
    key: string,
    view: IngressRouteView,
    comment: string,
    claims: Claims,
    log: Logger,
  ): Promise<{ tracked: TrackedHost[]; recorded: string | null | undefined }> {
    const parsed = parseHostIds(view.hostIds);
    let tracked: TrackedHost[];
    let recorded: string | null | undefined;
    if ("error" in parsed) {
      const note = `annotation ${HOST_IDS_ANNOTATION} is corrupt (${parsed.error}); ` +
        `looking up this ${this.#kind}'s entries on router-hosts by comment "${comment}" and tags traefik, ingress, ` +
        "and rewriting the annotation from them";
      log.error("corrupt host-ids annotation", { error: parsed.error, value: view.hostIds });
      this.#d.events.event(regarding(this.#d.kind, view), "Warning", "CorruptAnnotation", note);
      const owns = ownsIngressEntry(comment);
      const found = (await this.#d.hosts.searchHosts(comment)).filter((e) =>
        owns(e) && !claims.ids.has(e.id) && !claims.hostnames.has(e.hostname.toLowerCase())
      );
      tracked = found.map((e) => ({ hostname: e.hostname, id: e.id }));
      log.warn("recovered host ids from router-hosts", {
        found: tracked.length,
        hostnames: tracked.map((t) => t.hostname),
      });
    } else {
      tracked = parsed.tracked;
      recorded = serializeHostIds(tracked);
    }
    for (const t of this.#unrecorded.get(key) ?? []) {
      if (!tracked.some((x) => x.id === t.id)) tracked = [...tracked, t];
    }
    return { tracked, recorded };
  }

  #fail(view: IngressRouteView, failures: HostFailure[], total: number, log: Logger): never {
    const refused = failures.filter((f) => f.error instanceof AdoptionRefusedError);
    const other = failures.filter((f) => !(f.error instanceof AdoptionRefusedError));
    const at = regarding(this.#d.kind, view);
    for (const f of failures) {
      const { reason, message } = classifyError(f.error);
      log.warn("host entry sync failed", { hostname: f.hostname, reason, error: message });
    }
    if (refused.length > 0) {
      const note =
        `${refused.length} hostname(s) already have an entry on router-hosts that is not ours ` +
        `(comment and tags traefik, ingress must match to adopt it): ${
          listSome(refused.map((f) => f.hostname))
        }; first: ${errorText(refused[0].error)}`;
      this.#d.events.event(at, "Warning", "AdoptionRefused", note);
    }
    if (other.length > 0) {
      const note = `${other.length} of ${total} host entr${
        total === 1 ? "y" : "ies"
      } failed to sync (${listSome(other.map((f) => f.hostname))}): ${
        classifyError(other[0].error).message
      }`;
      this.#d.events.event(at, "Warning", "SyncFailed", note);
    }
    const summary = `${failures.length} of ${total} host entries failed: ${
      failures.slice(0, 3).map((f) => `${f.hostname}: ${classifyError(f.error).message}`).join("; ")
    }`;
    // Entries that are not ours, or a spec the server rejects, do not fix
    // themselves: wait for a change or the periodic resync.
    const retryable = other.some((f) => classifyError(f.error).reason !== "InvalidSpec");
    if (!retryable) throw new TerminalError(summary);
    throw new Error(summary);
  }

  async #cleanup(key: string, view: IngressRouteView, log: Logger): Promise<void> {
    if (!view.finalizers.includes(INGRESSROUTE_FINALIZER)) return;
    const comment = ingressComment(view.namespace, view.name);
    const owns = ownsIngressEntry(comment);
    const claims = this.#d.claims?.(key) ?? NO_CLAIMS;
    const spared = (t: TrackedHost) =>
      claims.ids.has(t.id) || claims.hostnames.has(t.hostname.toLowerCase());
    const { tracked, recorded } = await this.#tracked(key, view, comment, claims, log);

    const failures: HostFailure[] = [];
    const remaining: TrackedHost[] = [];
    const done = new Set<string>();
    const deleteAll = (list: readonly TrackedHost[]) =>
      forEachLimit(list, this.#d.concurrency ?? HOST_CONCURRENCY, async (t) => {
        if (done.has(t.id)) return;
        done.add(t.id);
        if (spared(t)) return;
        try {
          if (await deleteHost(this.#d.hosts, t.id, owns)) {
            log.info("host entry deleted", { hostname: t.hostname, hostId: t.id });
          } else {
            log.warn("tracked entry is not ours (comment or tags changed); left alone", {
              hostname: t.hostname,
              hostId: t.id,
            });
          }
        } catch (e) {
          remaining.push(t);
          failures.push({ hostname: t.hostname, error: e });
        }
      });
    await deleteAll(tracked);
    if (failures.length === 0) {
      try {
        const untracked = (await this.#d.hosts.searchHosts(comment))
          .filter((e) => owns(e) && !done.has(e.id))
          .map((e) => ({ hostname: e.hostname, id: e.id }))
          .filter((t) => !spared(t));
        if (untracked.length > 0) {
          log.info("deleting entries of this object that the annotation did not list", {
            hostnames: untracked.map((t) => t.hostname),
          });
        }
        await deleteAll(untracked);
      } catch (e) {
        failures.push({ hostname: "(search by comment)", error: e });
      }
    }
    if (failures.length > 0) {
      if (serializeHostIds(remaining) !== recorded) {
        await this.#record(key, view, recorded, remaining, log);
      }
      const { message } = classifyError(failures[0].error);
      const note = `cleanup of ${failures.length} host entr${
        failures.length === 1 ? "y" : "ies"
      } failed, finalizer kept: ${message}`;
      log.warn("cleanup failed", { failed: failures.length, error: message });
      this.#d.events.event(regarding(this.#d.kind, view), "Warning", "SyncFailed", note);
      throw new Error(note);
    }
    log.info("all host entries deleted; removing the finalizer", { deleted: done.size });
    this.#d.tracked?.(key, 0);
    this.#unrecorded.delete(key);
    await this.#d.writer.removeFinalizer(view, INGRESSROUTE_FINALIZER);
  }

  #reportRuleProblems(
    key: string,
    view: IngressRouteView,
    desired: DesiredHostnames,
    log: Logger,
  ): void {
    const seen = fingerprint([desired.skipped, desired.errors]);
    if (this.#reported.get(key) === seen) return;
    this.#reported.set(key, seen);
    const at = regarding(this.#d.kind, view);
    const EVENTS = 5;
    desired.skipped.forEach((s, i) => {
      log.warn("hostname skipped", { route: s.route, value: s.value, reason: s.reason });
      if (i < EVENTS) {
        this.#d.events.event(
          at,
          "Warning",
          "InvalidHostname",
          `route ${s.route}: ${JSON.stringify(s.value)} is not synced to router-hosts: ${s.reason}`,
        );
      }
    });
    if (desired.skipped.length > EVENTS) {
      this.#d.events.event(
        at,
        "Warning",
        "InvalidHostname",
        `${desired.skipped.length - EVENTS} more values are not synced; see the operator log`,
      );
    }
    for (const e of desired.errors) {
      log.warn("route rule cannot be parsed", { route: e.route, match: e.match, error: e.message });
      this.#d.events.event(
        at,
        "Warning",
        "InvalidRule",
        `route ${e.route}: ${
          e.match === null
            ? e.message
            : `cannot parse match ${JSON.stringify(e.match)}: ${e.message}`
        }; its hosts are not synced, and entries already made are kept until it is fixed`,
      );
    }
  }

  #warnNoIngressIP(view: IngressRouteView, desired: DesiredHostnames, log: Logger): void {
    if (desired.hosts.length === 0 || this.#noIPWarned.has(view.uid)) return;
    this.#noIPWarned.add(view.uid);
    const note = `--default-ingress-ip is not set: ${listSome(desired.hosts)} ` +
      "are not synced to router-hosts; set it (Helm value routerHosts.defaultIngressIP)";
    log.warn("no --default-ingress-ip; not syncing", { hostnames: desired.hosts.length });
    this.#d.events.event(regarding(this.#d.kind, view), "Warning", "NoIngressIP", note);
  }

  #siblingKind(): string {
    return this.#d.kind.rule === "http" ? "IngressRouteTCP" : "IngressRoute";
  }
}

function regarding(kind: TraefikKind, v: IngressRouteView): EventRegarding {
  return {
    apiVersion: `${kind.resource.group}/${kind.resource.version}`,
    kind: kind.resource.kind,
    namespace: v.namespace,
    name: v.name,
    uid: v.uid,
  };
}

/** Everything the IngressRoute controllers are built from. */
export interface IngressRouteUnitOptions {
  kube: KubeClient;
  hosts: IngressHostsApi;
  events: EventRecorder;
  log: Logger;
  metrics: Metrics;
  workers: number;
  resyncPeriodMs: number;
  /** `--default-ingress-ip`; empty: objects get a NoIngressIP event and nothing is synced. */
  ingressIP: string;
}

/**
 * Builds the IngressRoute and IngressRouteTCP units: one informer, queue and
 * controller per kind. When a Traefik CRD is not installed its informer
 * reports `missing` (readiness does not wait for it) and keeps retrying; the
 * controller starts once the CRD appears and the cache has synced.
 */
export function createIngressRouteUnits(o: IngressRouteUnitOptions): Unit[] {
  const kinds = [INGRESSROUTE, INGRESSROUTETCP];
  const stores = new Map<TraefikKind, Store<IngressRouteView>>();
  const units = kinds.map((kind) => {
    const sibling = kind === INGRESSROUTE ? INGRESSROUTETCP : INGRESSROUTE;
    const unit = createKindUnit(
      o,
      kind,
      (key) => claimsOf(stores.get(sibling)?.get(key), sibling.rule),
    );
    stores.set(kind, unit.store);
    return unit.unit;
  });
  return units;
}

function createKindUnit(
  o: IngressRouteUnitOptions,
  kind: TraefikKind,
  claims: (key: string) => Claims,
): { unit: Unit; store: Store<IngressRouteView> } {
  const log = o.log.with({ controller: kind.controller });
  const crd = `${kind.resource.plural}.${kind.resource.group}`;
  const counts = new Map<string, number>();
  const gauge = () =>
    o.metrics.managedHosts.set(
      { controller: kind.controller },
      [...counts.values()].reduce((a, b) => a + b, 0),
    );
  gauge();
  const informer = new Informer<IngressRouteView>({
    client: o.kube,
    resource: kind.resource,
    project: projectIngressRoute,
    log,
    onChange: (key, obj, previous) => {
      if (!obj) {
        if (counts.delete(key)) gauge();
        reconciler.forget(key, previous?.uid);
        return;
      }
      // `controller` is created below; informers only call this once running.
      if (needsReconcile(previous, obj)) controller.queue.add(key);
    },
    onMissing: (missing) => {
      if (missing) {
        log.warn(
          `Traefik CRD ${crd} is not installed: the ${kind.controller} controller waits for it ` +
            "(checking again with backoff up to 30 s) and starts when it appears; the rest of the operator runs",
          { crd },
        );
      } else {
        log.info(`Traefik CRD ${crd} is installed: the ${kind.controller} controller starts`, {
          crd,
        });
      }
    },
  });
  const reconciler = new IngressRouteReconciler({
    kind,
    hosts: o.hosts,
    writer: new ObjectWriter({
      api: o.kube,
      resource: kind.resource,
      project: projectIngressRoute,
      store: informer.store,
    }),
    get: (key) => informer.store.get(key),
    events: o.events,
    log,
    ingressIP: o.ingressIP,
    claims,
    tracked: (key, count) => {
      if (counts.get(key) === count) return;
      if (count === 0) counts.delete(key);
      else counts.set(key, count);
      gauge();
    },
  });
  const controller: Controller = new Controller({
    name: kind.controller,
    reconcile: async (key) => {
      await reconciler.reconcile(key);
      return {};
    },
    workers: o.workers,
    log: o.log,
    metrics: o.metrics,
    resyncPeriodMs: o.resyncPeriodMs,
    keys: () => informer.store.keys(),
  });
  return { unit: { informers: [informer], controller }, store: informer.store };
}
