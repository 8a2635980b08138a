/**
 * Lease-based leader election with client-go's semantics
 * (coordination.k8s.io/v1 Lease; lease 15 s, renew deadline 10 s, retry 2 s).
 *
 * A standby judges expiry by the *local* time at which it last saw the
 * Lease record change, never by comparing the holder's renewTime with its
 * own clock, so clock skew between nodes cannot cause two leaders.
 *
 * @module
 */
import type { Logger } from "../observability/log.ts";
import { isConflict, isNotFound, type RequestOptions } from "./client.ts";
import { type Clock, realClock, sleep } from "./clock.ts";
import { microTime } from "./events.ts";

/** The request the elector makes (KubeClient implements it). */
export interface LeaseApi {
  request<T>(opts: RequestOptions): Promise<T>;
}

/** The Lease's spec as the API stores it. */
export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

interface Lease {
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: LeaseSpec;
}

/** Options of {@link LeaderElector}. */
export interface LeaderElectionOptions {
  api: LeaseApi;
  namespace: string;
  name: string;
  /** Unique per process: hostname + "_" + uuid. */
  identity: string;
  log: Logger;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  clock?: Clock;
  /** Wall-clock time for the Lease's timestamps (tests pin it). */
  wallNow?: () => Date;
  /** Told true when leading starts and false when it ends (leader_election_master_status). */
  onStatus?: (leading: boolean) => void;
}

const JITTER = 1.2;

/** Acquires, renews and releases one Lease. */
export class LeaderElector {
  readonly #o: Required<Omit<LeaderElectionOptions, "onStatus">> & {
    onStatus?: (leading: boolean) => void;
  };
  #observed?: LeaseSpec;
  #observedAt = 0;
  #leading = false;
  /** The acquire/renew round in flight: release() waits for it (see there). */
  #round?: Promise<boolean>;

  constructor(options: LeaderElectionOptions) {
    this.#o = {
      leaseDurationMs: 15_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2_000,
      clock: realClock,
      wallNow: () => new Date(),
      ...options,
    };
    const { leaseDurationMs, renewDeadlineMs, retryPeriodMs } = this.#o;
    if (!(leaseDurationMs > renewDeadlineMs && renewDeadlineMs > JITTER * retryPeriodMs)) {
      throw new Error("leader election needs lease > renew deadline > 1.2 × retry period");
    }
  }

  /** True while this process holds the Lease. */
  get leading(): boolean {
    return this.#leading;
  }

  get #path(): string {
    return `/apis/coordination.k8s.io/v1/namespaces/${this.#o.namespace}/leases/${this.#o.name}`;
  }

  /** Tries until the Lease is ours (true) or `signal` aborts (false). */
  async acquire(signal: AbortSignal): Promise<boolean> {
    const { log, clock, retryPeriodMs } = this.#o;
    log.info("waiting to acquire the leader lease", {
      lease: `${this.#o.namespace}/${this.#o.name}`,
      identity: this.#o.identity,
    });
    while (!signal.aborted) {
      if (await this.#tryRound()) {
        this.#setLeading(true);
        log.info("acquired the leader lease", { identity: this.#o.identity });
        return true;
      }
      await sleep(clock, retryPeriodMs * (1 + Math.random() * (JITTER - 1)), signal);
    }
    return false;
  }

  /**
   * Renews every retry period until `signal` aborts (resolves) or a renewal
   * does not succeed within the renew deadline (rejects: leadership lost).
   */
  async holdUntil(signal: AbortSignal): Promise<void> {
    const { clock, retryPeriodMs, renewDeadlineMs } = this.#o;
    while (!signal.aborted) {
      await sleep(clock, retryPeriodMs, signal);
      if (signal.aborted) return;
      const deadline = clock.now() + renewDeadlineMs;
      let renewed = false;
      while (!renewed && clock.now() < deadline && !signal.aborted) {
        renewed = await this.#tryRound();
        if (!renewed) await sleep(clock, Math.min(retryPeriodMs, deadline - clock.now()), signal);
      }
      if (signal.aborted) return;
      if (!renewed) {
        this.#setLeading(false);
        throw new Error(
          `lost the leader lease ${this.#o.namespace}/${this.#o.name}: not renewed within ${renewDeadlineMs} ms`,
        );
      }
    }
  }

  /** Gives the Lease up so a standby takes over at once (clean shutdown). */
  async release(): Promise<void> {
    if (!this.#leading) return;
    this.#setLeading(false);
    // A renewal that started before the shutdown must land first: between our
    // read and our write it would make the write conflict (the Lease then
    // stays ours until it expires), and a renewal that read the Lease after
    // our write would take it straight back.
    await this.#round;
    try {
      const lease = await this.#o.api.request<Lease>({ method: "GET", path: this.#path });
      if (lease.spec.holderIdentity !== this.#o.identity) return;
      const now = microTime(this.#o.wallNow());
      await this.#o.api.request<Lease>({
        method: "PUT",
        path: this.#path,
        body: {
          ...lease,
          spec: {
            holderIdentity: "",
            leaseDurationSeconds: 1,
            acquireTime: now,
            renewTime: now,
            leaseTransitions: lease.spec.leaseTransitions ?? 0,
          },
        },
        timeoutMs: 5_000,
      });
      this.#o.log.info("released the leader lease");
    } catch (e) {
      this.#o.log.warn("could not release the leader lease", { error: e });
    }
  }

  #setLeading(leading: boolean): void {
    this.#leading = leading;
    this.#o.onStatus?.(leading);
  }

  #tryRound(): Promise<boolean> {
    this.#round = this.#tryAcquireOrRenew();
    return this.#round;
  }

  /** One client-go round: true when the Lease is ours after it; never rejects. */
  async #tryAcquireOrRenew(): Promise<boolean> {
    const { api, identity, log, clock, leaseDurationMs } = this.#o;
    const now = microTime(this.#o.wallNow());
    const ours: LeaseSpec = {
      holderIdentity: identity,
      leaseDurationSeconds: Math.round(leaseDurationMs / 1000),
      acquireTime: now,
      renewTime: now,
      leaseTransitions: 0,
    };
    let lease: Lease;
    try {
      lease = await api.request<Lease>({
        method: "GET",
        path: this.#path,
        timeoutMs: this.#o.renewDeadlineMs,
      });
    } catch (e) {
      if (!isNotFound(e)) {
        log.warn("could not read the leader lease", { error: e });
        return false;
      }
      try {
        await api.request<Lease>({
          method: "POST",
          path: `/apis/coordination.k8s.io/v1/namespaces/${this.#o.namespace}/leases`,
          body: {
            apiVersion: "coordination.k8s.io/v1",
            kind: "Lease",
            metadata: { name: this.#o.name, namespace: this.#o.namespace },
            spec: ours,
          },
          timeoutMs: this.#o.renewDeadlineMs,
        });
        this.#observe(ours);
        return true;
      } catch (ce) {
        log.debug("could not create the leader lease", { error: ce });
        return false;
      }
    }

    const record = lease.spec ?? {};
    if (!this.#observed || !sameRecord(this.#observed, record)) this.#observe(record);
    const holder = record.holderIdentity ?? "";
    const theirLeaseMs = (record.leaseDurationSeconds ?? 0) * 1000;
    if (holder !== "" && holder !== identity && this.#observedAt + theirLeaseMs > clock.now()) {
      return false;
    }
    const spec: LeaseSpec = holder === identity && this.#leading
      ? {
        ...ours,
        acquireTime: record.acquireTime ?? now,
        leaseTransitions: record.leaseTransitions ?? 0,
      }
      : { ...ours, leaseTransitions: (record.leaseTransitions ?? 0) + 1 };
    try {
      await api.request<Lease>({
        method: "PUT",
        path: this.#path,
        body: { ...lease, spec },
        timeoutMs: this.#o.renewDeadlineMs,
      });
    } catch (e) {
      if (!isConflict(e)) log.warn("could not update the leader lease", { error: e });
      return false;
    }
    this.#observe(spec);
    return true;
  }

  #observe(record: LeaseSpec): void {
    this.#observed = { ...record };
    this.#observedAt = this.#o.clock.now();
  }
}

function sameRecord(a: LeaseSpec, b: LeaseSpec): boolean {
  return a.holderIdentity === b.holderIdentity && a.renewTime === b.renewTime &&
    a.acquireTime === b.acquireTime && a.leaseTransitions === b.leaseTransitions &&
    a.leaseDurationSeconds === b.leaseDurationSeconds;
}
