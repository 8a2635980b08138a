/**
 * The settle write: after a burst of overlapping writes, one no-op
 * UpdateHost so the server's hosts file holds every commit.
 *
 * router-hosts v0.13.0 regenerates its hosts file inside every successful
 * write RPC — list every entry, then replace the file — with nothing
 * ordering one regeneration against another. Two writes in flight at once
 * can replace the file in the wrong order, and the file then lacks a
 * committed entry until the next write. An UpdateHost that changes nothing
 * commits nothing (no new version) yet still regenerates, so one sent when
 * no write is in flight lists every commit and writes the file last
 * (docs/adr/0013-settle-write-after-overlapping-writes.md).
 *
 * {@link SettlingHosts} wraps the client every writer uses (the engine, the
 * orphan sweep, the webhook) and adds that call only when two writes that
 * may have regenerated the file overlapped; sequential writes never cost
 * an extra call.
 *
 * @module
 */
import type { HostEntry, HostsPort, HostUpdate, NewHost } from "./hosts_port.ts";
import { isOutcome } from "./errors.ts";

/**
 * One settle step, for `router_hosts_settle_writes_total{result}`. Per
 * UpdateHost sent: ok; not_found (the entry was gone, the next one is
 * tried); failed (the next write settles again). skipped: the server holds
 * no entry at all, so nothing can carry it (the next write regenerates).
 */
export type SettleResult = "ok" | "not_found" | "failed" | "skipped";

/** Options of {@link SettlingHosts}. */
export interface SettleOptions {
  /**
   * How long no write may be in flight before the settle write is sent
   * (default 100 ms), so a burst with short gaps settles once, at its end.
   */
  quietMs?: number;
  /**
   * Which entries read from the server are ours, so one of them can carry
   * the settle write after a burst of deletes. Entries this process
   * created or updated count as ours without it.
   */
  owns?: (entry: HostEntry) => boolean;
  /** Called after each settle step. */
  onSettle?: (result: SettleResult, detail: { id?: string; error?: Error }) => void;
}

/** Entry ids remembered for the settle write (most recent last). */
const MAX_CANDIDATES = 16;

/** NOT_FOUND candidates tried in one settle before giving up. */
const MAX_TRIES = 3;

/** One write in flight. */
interface Flight {
  /** A write that may have regenerated the server's file ended while this one was in flight. */
  overlapsRegeneration: boolean;
}

/**
 * A failure that proves the server did not commit: no regeneration ran.
 * Anything else (a deadline, a dropped connection) may have committed.
 */
function refused(e: unknown): boolean {
  return isOutcome(e, "already-exists") || isOutcome(e, "not-found") ||
    isOutcome(e, "conflict") || isOutcome(e, "invalid");
}

/** The client with the settle write added after overlapping writes. */
export class SettlingHosts implements HostsPort {
  readonly #api: HostsPort;
  readonly #quietMs: number;
  readonly #owns?: (entry: HostEntry) => boolean;
  readonly #onSettle?: SettleOptions["onSettle"];
  readonly #flights = new Set<Flight>();
  /** Live entries of ours: id → version last seen. */
  readonly #candidates = new Map<string, string>();
  #dirty = false;
  #timer?: ReturnType<typeof setTimeout>;
  #closed = false;

  constructor(api: HostsPort, options: SettleOptions = {}) {
    this.#api = api;
    this.#quietMs = options.quietMs ?? 100;
    this.#owns = options.owns;
    this.#onSettle = options.onSettle;
  }

  /** The server address. */
  get address(): string {
    return this.#api.address;
  }

  /** AddHost; the new entry becomes a settle candidate. */
  async addHost(host: NewHost): Promise<HostEntry> {
    return this.#remember(await this.#write(() => this.#api.addHost(host)));
  }

  /** UpdateHost; the entry becomes a settle candidate. */
  async updateHost(update: HostUpdate): Promise<HostEntry> {
    return this.#remember(await this.#write(() => this.#api.updateHost(update)));
  }

  /** DeleteHost; the entry stops being a candidate. */
  async deleteHost(id: string, expectedVersion?: string): Promise<void> {
    try {
      await this.#write(() => this.#api.deleteHost(id, expectedVersion));
      this.#candidates.delete(id);
    } catch (e) {
      if (isOutcome(e, "not-found")) this.#candidates.delete(id);
      throw e;
    }
  }

  /** GetHost (a read). */
  async getHost(id: string): Promise<HostEntry> {
    return this.#seen(await this.#api.getHost(id));
  }

  /** Exact ip+hostname search (a read). */
  async findExact(ipAddress: string, hostname: string): Promise<HostEntry[]> {
    return this.#seenAll(await this.#api.findExact(ipAddress, hostname));
  }

  /** SearchHosts (a read). */
  async searchHosts(query: string): Promise<HostEntry[]> {
    return this.#seenAll(await this.#api.searchHosts(query));
  }

  /** ListHosts (a read). */
  async listHosts(): Promise<HostEntry[]> {
    return this.#seenAll(await this.#api.listHosts());
  }

  /** Stops any pending settle write (shutdown). */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #remember(entry: HostEntry): HostEntry {
    this.#candidates.delete(entry.id);
    this.#candidates.set(entry.id, entry.version);
    if (this.#candidates.size > MAX_CANDIDATES) {
      this.#candidates.delete(this.#candidates.keys().next().value!);
    }
    return entry;
  }

  #seen(entry: HostEntry): HostEntry {
    if (this.#owns?.(entry)) this.#remember(entry);
    return entry;
  }

  #seenAll(entries: HostEntry[]): HostEntry[] {
    if (!this.#owns) return entries;
    // The last few of ours are enough; a list of 10,000 entries must not churn the map.
    let kept = 0;
    for (let i = entries.length - 1; i >= 0 && kept < MAX_CANDIDATES; i--) {
      if (this.#owns(entries[i])) {
        this.#remember(entries[i]);
        kept++;
      }
    }
    return entries;
  }

  async #write<T>(call: () => Promise<T>): Promise<T> {
    const flight: Flight = { overlapsRegeneration: false };
    this.#flights.add(flight);
    clearTimeout(this.#timer);
    this.#timer = undefined;
    let regenerated = false;
    try {
      const result = await call();
      regenerated = true;
      return result;
    } catch (e) {
      regenerated = !refused(e);
      throw e;
    } finally {
      this.#flights.delete(flight);
      // Every write still in flight overlaps this one. A pair of writes that
      // both may have regenerated is seen by whichever of the two ends last.
      if (regenerated) {
        if (flight.overlapsRegeneration) this.#dirty = true;
        for (const other of this.#flights) other.overlapsRegeneration = true;
      }
      if (this.#flights.size === 0 && this.#dirty && !this.#closed) {
        this.#timer = setTimeout(() => void this.#settle(), this.#quietMs);
      }
    }
  }

  async #settle(): Promise<void> {
    this.#timer = undefined;
    if (this.#flights.size > 0 || !this.#dirty || this.#closed) return;
    this.#dirty = false;
    const tried = [...this.#candidates].reverse().slice(0, MAX_TRIES);
    for (const [id, version] of tried) {
      const result = await this.#touch(id, version);
      if (result !== "not_found") return;
    }
    // No entry of ours is known to be live (a burst of deletes): read the
    // table once and use one of ours, else any entry — the no-op changes
    // nothing on it, and the server holds nothing else that could carry it.
    let entries: HostEntry[];
    try {
      entries = await this.#api.listHosts();
    } catch (e) {
      this.#dirty = true;
      this.#onSettle?.("failed", { error: e as Error });
      return;
    }
    const pick = entries.findLast((e) => this.#owns?.(e) === true) ?? entries.at(-1);
    if (pick) await this.#touch(pick.id, pick.version);
    else this.#onSettle?.("skipped", {});
  }

  /** One no-op UpdateHost; reports and returns what it did. */
  async #touch(id: string, version: string): Promise<SettleResult> {
    try {
      // No field but the id: the server appends no event (no new version)
      // and still regenerates its outputs after the call.
      await this.#write(() => this.#api.updateHost({ id, expectedVersion: version }));
      this.#onSettle?.("ok", { id });
      return "ok";
    } catch (e) {
      if (isOutcome(e, "not-found")) {
        this.#candidates.delete(id);
        this.#onSettle?.("not_found", { id });
        return "not_found";
      }
      // Settle again after the next write, whether or not it overlaps.
      this.#dirty = true;
      this.#onSettle?.("failed", { id, error: e as Error });
      return "failed";
    }
  }
}
