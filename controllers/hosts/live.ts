/**
 * Live repair: what a change seen on router-hosts' WatchHosts stream
 * (grpc/watch_hosts.ts) wakes. An entry that changed or vanished wakes the
 * objects that track its id (host-ids annotation, HostMapping status.hostId,
 * found in the controllers' caches);
 * a hostname that was let go (entry deleted or renamed) wakes the conflict
 * waiters of that name, of any controller. They go through the existing
 * queues, so a woken object reconciles like on any other change: it reads
 * its entries and writes only when they drifted.
 *
 * Also here: the hosts port that tells the watch about our own writes, so
 * they do not wake us again, and the leader-only runnable that keeps the
 * stream open.
 *
 * @module
 */
import type { EntryChange, HostsWatch } from "../../grpc/watch_hosts.ts";
import type { ControllerLike, Unit } from "../../k8s/manager.ts";
import type { HostsPort } from "../../grpc/hosts_port.ts";
import type { ConflictBoard } from "./policy.ts";

/** Why the stream woke someone: a tracked entry edited or deleted, or a hostname released. */
export type RepairCause = "edited" | "deleted" | "released";

/** What a controller tells {@link EntryWakeups}: how to find and queue the keys tracking entries. */
export interface EntryTrackers {
  /** Queues a key. */
  wake(key: string): void;
  /** The keys whose objects track one of `ids` now, each with the id it tracks. */
  tracking(ids: ReadonlySet<string>): Iterable<[key: string, id: string]>;
}

/**
 * The keys of `store` whose object tracks one of `ids` (by `idsOf`). A scan,
 * not an index: it runs only for snapshots with changes someone else made,
 * and an index fed from cache events would miss the ids our own writes put
 * straight into the cache.
 */
export function* trackersIn<V>(
  store: { keys(): string[]; get(key: string): V | undefined },
  ids: ReadonlySet<string>,
  idsOf: (view: V) => readonly string[],
): Iterable<[string, string]> {
  for (const key of store.keys()) {
    const view = store.get(key);
    if (view === undefined) continue;
    for (const id of idsOf(view)) if (ids.has(id)) yield [key, id];
  }
}

/** Maps entry changes to the queue keys that care; see the module documentation. */
export class EntryWakeups {
  readonly #board: ConflictBoard;
  readonly #onWake?: (cause: RepairCause) => void;
  readonly #controllers = new Map<string, EntryTrackers>();

  constructor(board: ConflictBoard, onWake?: (cause: RepairCause) => void) {
    this.#board = board;
    this.#onWake = onWake;
  }

  /** How `controller` finds and queues the keys that track an entry. */
  register(controller: string, trackers: EntryTrackers): void {
    this.#controllers.set(controller, trackers);
  }

  /** Wakes whoever cares about `changes` (one snapshot's). */
  changed(changes: readonly EntryChange[]): void {
    // A new id is tracked by nobody yet: ids are never reused, and our own
    // new entries are not reported as changes.
    const known = new Map(changes.filter((c) => c.kind !== "appeared").map((c) => [c.id, c]));
    if (known.size > 0) {
      const ids = new Set(known.keys());
      const hit = new Set<string>();
      for (const trackers of this.#controllers.values()) {
        for (const [key, id] of trackers.tracking(ids)) {
          trackers.wake(key);
          hit.add(id);
        }
      }
      for (const id of hit) {
        this.#onWake?.(known.get(id)!.kind === "vanished" ? "deleted" : "edited");
      }
    }
    for (const c of changes) {
      const released = c.kind === "vanished" ? c.hostname : c.previousHostname;
      if (released !== undefined && this.#board.release(released) > 0) {
        this.#onWake?.("released");
      }
    }
  }
}

/** The hosts port that tells `watch` what our writes produced (reads pass through). */
export function notingWrites(
  api: HostsPort,
  watch: Pick<HostsWatch, "noteWrite" | "noteDelete">,
): HostsPort {
  return {
    address: api.address,
    getHost: (id) => api.getHost(id),
    searchHosts: (query) => api.searchHosts(query),
    findExact: (ip, hostname) => api.findExact(ip, hostname),
    listHosts: () => api.listHosts(),
    async addHost(host) {
      const entry = await api.addHost(host);
      watch.noteWrite(entry);
      return entry;
    },
    async updateHost(update) {
      const entry = await api.updateHost(update);
      watch.noteWrite(entry);
      return entry;
    },
    async deleteHost(id, expectedVersion) {
      await api.deleteHost(id, expectedVersion);
      watch.noteDelete(id);
    },
  };
}

/** The stream as a leader-only unit of the manager: open while leading, closed on stop. */
export function watchUnit(watch: Pick<HostsWatch, "run">): Unit {
  const stop = new AbortController();
  let running: Promise<void> | undefined;
  const runnable: ControllerLike = {
    start: () => running ??= watch.run(stop.signal),
    stop: async () => {
      stop.abort();
      await running;
      return true;
    },
  };
  return { informers: [], controller: runnable };
}
