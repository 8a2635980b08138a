/**
 * The metric families of the WatchHosts stream (grpc/watch_hosts.ts) and of
 * the live repairs it triggers (controllers/hosts/live.ts), registered on the
 * registry passed in. Separate from metrics.ts because only the leader's
 * watch feeds them.
 *
 * @module
 */
import { Counter, Gauge, type Registry } from "prom-client";

/** The causes of router_hosts_watch_repairs_total, all present from the start. */
const CAUSES = ["edited", "deleted", "released"] as const;

/** The watch's metric families. */
export class WatchMetrics {
  readonly connected: Gauge;
  readonly fallback: Gauge;
  readonly snapshots: Counter;
  readonly snapshotEntries: Gauge;
  readonly repairs: Counter<"cause">;

  constructor(registry: Registry) {
    const registers = [registry];
    this.connected = new Gauge({
      name: "router_hosts_watch_connected",
      help: "1 while the WatchHosts stream to router-hosts is open",
      registers,
    });
    this.fallback = new Gauge({
      name: "router_hosts_watch_fallback",
      help:
        "1 while changes on router-hosts are found by the periodic resync only (WatchHosts unimplemented or failing)",
      registers,
    });
    this.snapshots = new Counter({
      name: "router_hosts_watch_snapshots_total",
      help: "WatchHosts snapshots received and diffed",
      registers,
    });
    this.snapshotEntries = new Gauge({
      name: "router_hosts_watch_snapshot_entries",
      help: "Entries in the last WatchHosts snapshot",
      registers,
    });
    this.repairs = new Counter({
      name: "router_hosts_watch_repairs_total",
      help:
        "Out-of-band changes the stream woke objects for, by cause: a tracked entry edited or " +
        "deleted, or a hostname released to a conflict waiter (the reconcile writes only if it finds drift)",
      labelNames: ["cause"],
      registers,
    });
    for (const cause of CAUSES) this.repairs.inc({ cause }, 0);
  }

  /** The hooks {@link HostsWatch} reports through. */
  observer(): {
    connected(on: boolean): void;
    snapshot(entries: number): void;
    fallback(on: boolean): void;
  } {
    return {
      connected: (on) => this.connected.set(on ? 1 : 0),
      snapshot: (entries) => {
        this.snapshots.inc();
        this.snapshotEntries.set(entries);
      },
      fallback: (on) => this.fallback.set(on ? 1 : 0),
    };
  }
}
