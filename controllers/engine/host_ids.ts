/**
 * The `router-hosts.fzymgc.house/host-ids` annotation that every source but
 * HostMapping keeps on its objects — a JSON object hostname → entry id, the
 * Go operator's key and format — and the plan that matches those tracked
 * entries to the hostnames an object wants now.
 *
 * @module
 */

/** hostname → entry id, JSON (the Go operator's key and format). */
export const HOST_IDS_ANNOTATION = "router-hosts.fzymgc.house/host-ids";

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
  for (const [key, id] of Object.entries(value)) {
    if (typeof id !== "string" || id === "") {
      return { error: `the id of ${JSON.stringify(key)} is not a non-empty string` };
    }
    // "hostname (id)": a further entry of that hostname (see serializeHostIds).
    const suffix = ` (${id})`;
    const hostname = key.endsWith(suffix) ? key.slice(0, -suffix.length) : key;
    tracked.push({ hostname, id });
  }
  return { tracked };
}

/**
 * The annotation value for `tracked`: compact JSON with sorted keys, as Go's
 * encoding/json writes it; null (remove the annotation) when empty. A further
 * entry of an already used hostname (a hostname at several IPs, e.g. a
 * Gateway route on two Gateways; or a duplicate found by a recovery, which
 * nothing wants and is deleted next) is kept under `hostname (id)`, and
 * read back as that hostname. The first entry keeps the plain key, so
 * {@link planSync} matches it to the hostname's first IP again.
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
