/**
 * "Make this host entry exist as desired": the create / adopt / compare /
 * update / recreate logic shared by every controller, the matching
 * delete, and {@link forEachLimit}, which bounds how many of one object's
 * entries are worked on at once. It talks to router-hosts only through {@link HostsPort}.
 *
 * @module
 */
import type { HostEntry, HostsPort, HostUpdate } from "../../grpc/hosts_port.ts";
import { isOutcome, RouterHostsError } from "../../grpc/errors.ts";
import { canonicalIp, sameIp } from "./ip.ts";

/** The entry a Kubernetes object wants. */
export interface DesiredHost {
  ipAddress: string;
  hostname: string;
  comment: string;
  aliases: string[];
  tags: string[];
}

/** What {@link ensureHost} did. */
export type EnsureAction = "created" | "adopted" | "updated" | "unchanged" | "recreated";

/** The entry as it now is, and what it took. */
export interface EnsureResult {
  action: EnsureAction;
  entry: HostEntry;
}

/** An entry with our ip+hostname exists but belongs to someone else; we never take it. */
export class AdoptionRefusedError extends Error {
  readonly entry: HostEntry;
  constructor(entry: HostEntry) {
    super(
      `an entry for ${entry.hostname} -> ${entry.ipAddress} already exists on router-hosts (id ${entry.id}, comment ${
        JSON.stringify(entry.comment ?? "")
      }) and is not ours; delete it there or change this object`,
    );
    this.name = "AdoptionRefusedError";
    this.entry = entry;
  }
}

/**
 * The hostname is held by another entry at another IP — another object's,
 * another installation's or a person's. A hostname has one holder: we never
 * add a second entry beside it (whichever line the hosts file answers with
 * would win), and never take it.
 */
export class HostnameHeldError extends AdoptionRefusedError {
  constructor(entry: HostEntry) {
    super(entry);
    this.message =
      `${entry.hostname} is already held by entry ${entry.id} (-> ${entry.ipAddress}, ` +
      `comment ${JSON.stringify(entry.comment ?? "")}) on router-hosts; a hostname has one holder`;
    this.name = "HostnameHeldError";
  }
}

/** The entries of `hostname` (any case, any IP). */
export async function entriesNamed(api: HostsPort, hostname: string): Promise<HostEntry[]> {
  const want = hostname.toLowerCase();
  return (await api.searchHosts(hostname)).filter((e) => e.hostname.toLowerCase() === want);
}

/** The holder among entries of one name: the oldest (ULIDs sort by creation time). */
function holderOf(entries: readonly HostEntry[]): HostEntry {
  return entries.reduce((a, b) => (b.id < a.id ? b : a));
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const sa = new Set(a), sb = new Set(b);
  return sa.size === sb.size && [...sb].every((x) => sa.has(x));
}

/**
 * The smallest update that turns `entry` into `desired`, or undefined when
 * they already match (ip, hostname, comment; aliases and tags as sets).
 *
 * Only differing fields are sent: the server appends an event for every
 * comment/aliases/tags field present in an update, changed or not.
 */
export function diffHost(entry: HostEntry, desired: DesiredHost): HostUpdate | undefined {
  const update: HostUpdate = { id: entry.id, expectedVersion: entry.version };
  let changed = false;
  // `desired` is canonical (ensureHost): an entry spelled otherwise is rewritten once.
  if (entry.ipAddress !== desired.ipAddress) {
    update.ipAddress = desired.ipAddress;
    changed = true;
  }
  if (entry.hostname !== desired.hostname) {
    update.hostname = desired.hostname;
    changed = true;
  }
  if ((entry.comment ?? "") !== desired.comment) {
    update.comment = desired.comment;
    changed = true;
  }
  if (!sameSet(entry.aliases, desired.aliases)) {
    update.aliases = [...desired.aliases];
    changed = true;
  }
  if (!sameSet(entry.tags, desired.tags)) {
    update.tags = [...desired.tags];
    changed = true;
  }
  return changed ? update : undefined;
}

/** How many times a version conflict is re-read and retried within one call. */
const CONFLICT_RETRIES = 3;

/**
 * Brings `entry` to `desired` with compare-then-update under
 * expected_version; on a conflict re-reads and tries again.
 * Throws not-found errors through to the caller.
 */
async function converge(
  api: HostsPort,
  entry: HostEntry,
  desired: DesiredHost,
): Promise<{ entry: HostEntry; updated: boolean }> {
  for (let attempt = 0;; attempt++) {
    const update = diffHost(entry, desired);
    if (!update) return { entry, updated: false };
    try {
      return { entry: await api.updateHost(update), updated: true };
    } catch (e) {
      if (!isOutcome(e, "conflict") || attempt >= CONFLICT_RETRIES) throw e;
      entry = await api.getHost(entry.id);
    }
  }
}

/**
 * Creates the entry, or adopts ours of the same ip+hostname. Another
 * holder of the hostname wins: at the same IP it is {@link AdoptionRefusedError},
 * at another IP {@link HostnameHeldError}. Two writers racing for a free
 * name both add; each then looks again, and the newer entry is deleted by
 * its writer, so one holder remains.
 */
async function createOrAdopt(
  api: HostsPort,
  desired: DesiredHost,
  owns: (entry: HostEntry) => boolean,
): Promise<EnsureResult> {
  const named = await entriesNamed(api, desired.hostname);
  const mine = named.find((e) => owns(e) && sameIp(e.ipAddress, desired.ipAddress));
  if (mine) return { action: "adopted", entry: (await converge(api, mine, desired)).entry };
  refuseHeld(named.filter((e) => !owns(e)), desired);
  let entry: HostEntry;
  try {
    entry = await api.addHost({
      ipAddress: desired.ipAddress,
      hostname: desired.hostname,
      comment: desired.comment,
      aliases: desired.aliases,
      tags: desired.tags,
    });
  } catch (e) {
    if (!isOutcome(e, "already-exists")) throw e;
    const existing = (await entriesNamed(api, desired.hostname))
      .filter((x) => sameIp(x.ipAddress, desired.ipAddress));
    const mine = existing.find(owns);
    if (!mine) {
      if (existing.length > 0) throw new AdoptionRefusedError(existing[0]);
      // Gone between AddHost and SearchHosts: report the original error and let the retry create it.
      throw e;
    }
    const { entry } = await converge(api, mine, desired);
    return { action: "adopted", entry };
  }
  const created = entry;
  const older = (await entriesNamed(api, desired.hostname))
    .filter((e) => !owns(e) && e.id < created.id);
  if (older.length > 0) {
    await deleteHost(api, created.id);
    refuseHeld(older, desired);
  }
  return { action: "created", entry };
}

/** Throws for the holder among `others` (entries of the name that are not ours), if any. */
function refuseHeld(others: readonly HostEntry[], desired: DesiredHost): void {
  if (others.length === 0) return;
  const same = others.find((e) => sameIp(e.ipAddress, desired.ipAddress));
  if (same) throw new AdoptionRefusedError(same);
  throw new HostnameHeldError(holderOf(others));
}

/** Options of {@link ensureHost}. */
export interface EnsureOptions {
  /**
   * Trust `knownId` only when `owns` accepts the entry it names; otherwise
   * leave that entry alone and create or adopt as if no id were known. For
   * ids kept where people can copy them (an annotation travels with a copied
   * manifest), so a copy never takes over the original's entries.
   */
  knownMustBeOwned?: boolean;
}

/**
 * Makes the entry exist as `desired`.
 *
 * With `knownId` (from status or annotation): read it; equal → no write;
 * different → update; gone → create again ("recreated"). Without: adopt
 * ours of the same ip+hostname, or create when nobody holds the hostname
 * (see {@link createOrAdopt}). The IP is written in its canonical form.
 */
export async function ensureHost(
  api: HostsPort,
  wanted: DesiredHost,
  knownId: string | undefined,
  owns: (entry: HostEntry) => boolean,
  options: EnsureOptions = {},
): Promise<EnsureResult> {
  const desired = { ...wanted, ipAddress: canonicalIp(wanted.ipAddress) ?? wanted.ipAddress };
  if (knownId) {
    let foreign = false;
    try {
      const current = await api.getHost(knownId);
      foreign = options.knownMustBeOwned === true && !owns(current);
      if (!foreign) {
        const { entry, updated } = await converge(api, current, desired);
        return { action: updated ? "updated" : "unchanged", entry };
      }
    } catch (e) {
      // An id that is not a valid ULID cannot exist on the server either.
      if (!isOutcome(e, "not-found") && !isOutcome(e, "invalid")) throw e;
      if (isOutcome(e, "invalid") && !/invalid ID/i.test((e as RouterHostsError).serverMessage)) {
        throw e;
      }
    }
    const result = await createOrAdopt(api, desired, owns);
    return foreign ? result : { action: "recreated", entry: result.entry };
  }
  return await createOrAdopt(api, desired, owns);
}

/**
 * Deletes an entry by id; an entry already gone (or an impossible id) counts
 * as deleted. With `owns`, the entry is read first and deleted (at the
 * version read) only when `owns` accepts it; otherwise it is left alone and
 * the result is false.
 */
export async function deleteHost(
  api: HostsPort,
  id: string,
  owns?: (entry: HostEntry) => boolean,
): Promise<boolean> {
  try {
    if (owns) {
      const entry = await api.getHost(id);
      if (!owns(entry)) return false;
      await api.deleteHost(id, entry.version);
    } else {
      await api.deleteHost(id);
    }
  } catch (e) {
    if (isOutcome(e, "not-found")) return true;
    if (isOutcome(e, "invalid") && /invalid ID/i.test(e.serverMessage)) return true;
    throw e;
  }
  return true;
}

/**
 * Deletes entries we own that match ip+hostname but whose id we never
 * recorded (a crash between AddHost and the status write), so nothing is
 * orphaned.
 */
export async function deleteUntracked(
  api: HostsPort,
  ipAddress: string,
  hostname: string,
  owns: (entry: HostEntry) => boolean,
): Promise<number> {
  const found = (await entriesNamed(api, hostname))
    .filter((e) => sameIp(e.ipAddress, ipAddress) && owns(e));
  for (const entry of found) await deleteHost(api, entry.id);
  return found.length;
}

/** Runs `fn` over `items`, at most `limit` at a time, none started after `signal` aborts. */
export async function forEachLimit<T>(
  items: readonly T[],
  limit: number,
  signal: AbortSignal | undefined,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length && !signal?.aborted) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
