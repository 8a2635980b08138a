/**
 * The webhook's provider: external-dns's Records / ApplyChanges /
 * AdjustEndpoints against router-hosts, touching only the entries the
 * webhook wrote (comment `external-dns:<dnsName>`, tag `external-dns`, and
 * the owner rule of controllers/hosts/policy.ts).
 *
 * Every `POST /records` reads the server once and writes with the versions
 * of that read: an entry that moved in between fails its UpdateHost or
 * DeleteHost with a conflict, which becomes a failure external-dns retries
 * on its next sync against a fresh read. Failures never stop the other
 * changes; they are collected and named in the answer.
 *
 * @module
 */
import type { HostEntry, HostsPort } from "../grpc/hosts_port.ts";
import { RouterHostsError } from "../grpc/errors.ts";
import { domainAllowed, entryTags, ownerAllows, type Policy } from "../controllers/hosts/policy.ts";
import type { Logger } from "../observability/log.ts";
import {
  type Changes,
  commentFor,
  type Endpoint,
  entriesToEndpoints,
  isWebhookEntry,
  normalizeName,
  recordTypeOf,
  splitSupported,
  WEBHOOK_TAG,
} from "./endpoint.ts";

/** What a change did, for the metric `router_hosts_webhook_changes_total{action,outcome}`. */
export type ChangeAction = "create" | "update" | "delete";
/**
 * skipped = outside the domain filter, a record type a hosts file cannot
 * hold, or a delete under `--policy=upsert-only`.
 */
export type ChangeOutcome = "success" | "failure" | "skipped";

/** The result of applying `plan.Changes`. */
export interface ApplyResult {
  /** One line per failed name: "create a.home.arpa 10.0.0.1: <reason>". */
  failures: string[];
  /** router-hosts writes made. */
  writes: number;
}

/** Options of {@link WebhookProvider}. */
export interface WebhookProviderOptions {
  hosts: HostsPort;
  policy: Policy;
  log: Logger;
  /** Called once per endpoint target handled. */
  onChange?: (action: ChangeAction, outcome: ChangeOutcome) => void;
}

/** Writes at once to router-hosts per phase: enough to overlap round trips, few enough to be polite. */
const PARALLEL_WRITES = 8;

function sameIp(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

function reason(e: unknown): string {
  return e instanceof RouterHostsError || e instanceof Error ? e.message : String(e);
}

async function inParallel<T>(items: readonly T[], run: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await run(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL_WRITES, items.length) }, worker));
}

/** external-dns's provider interface over router-hosts. */
export class WebhookProvider {
  readonly #hosts: HostsPort;
  readonly #policy: Policy;
  readonly #log: Logger;
  readonly #onChange: (action: ChangeAction, outcome: ChangeOutcome) => void;

  constructor(options: WebhookProviderOptions) {
    this.#hosts = options.hosts;
    this.#policy = options.policy;
    this.#log = options.log;
    this.#onChange = options.onChange ?? (() => {});
  }

  /** True when the webhook may touch `entry`: it wrote it, and the owner rule allows. */
  owns(entry: HostEntry): boolean {
    return isWebhookEntry(entry) && ownerAllows(this.#policy, entry);
  }

  /** `GET /records`: our entries under the domain filter, as endpoints. */
  async records(): Promise<Endpoint[]> {
    const all = await this.#hosts.listHosts();
    return entriesToEndpoints(
      all.filter((e) => this.owns(e) && domainAllowed(this.#policy, e.hostname)),
    );
  }

  /** `POST /adjustendpoints`: keeps A and AAAA, logs what it drops. Returns the kept indexes. */
  adjust(endpoints: readonly Endpoint[]): number[] {
    const { dropped } = splitSupported(endpoints);
    for (const e of dropped) {
      this.#log.info("external-dns webhook: dropping a record type a hosts file cannot hold", {
        dnsName: e.dnsName,
        recordType: e.recordType,
      });
    }
    return endpoints.flatMap((e, i) => dropped.includes(e) ? [] : [i]);
  }

  /** `POST /records`: deletes, then updates, then creates, against one fresh read. */
  async apply(changes: Required<Changes>): Promise<ApplyResult> {
    const all = await this.#hosts.listHosts();
    const ours = all.filter((e) => this.owns(e));
    const foreign = all.filter((e) => !this.owns(e));
    const result: ApplyResult = { failures: [], writes: 0 };
    const tags = entryTags(this.#policy, [WEBHOOK_TAG]);
    const oursFor = (name: string, type: string) =>
      ours.filter((e) => normalizeName(e.hostname) === name && recordTypeOf(e.ipAddress) === type);

    const write = async (action: ChangeAction, what: string, call: () => Promise<unknown>) => {
      if (action === "delete" && this.#policy.mode === "upsert-only") {
        this.#onChange(action, "skipped");
        this.#log.info(`external-dns webhook: not done under --policy=upsert-only: ${what}`);
        return;
      }
      try {
        await call();
        result.writes++;
        this.#onChange(action, "success");
        this.#log.info(`external-dns webhook: ${what}`);
      } catch (e) {
        this.#onChange(action, "failure");
        result.failures.push(`${what}: ${reason(e)}`);
        this.#log.warn(`external-dns webhook: ${what} failed`, { error: reason(e) });
      }
    };
    const usable = (
      action: ChangeAction,
      e: Endpoint,
    ): { name: string; type: string } | undefined => {
      const name = normalizeName(e.dnsName ?? "");
      const type = e.recordType ?? "";
      if (name === "" || !splitSupported([e]).kept.length) {
        this.#onChange(action, "skipped");
        return undefined;
      }
      if (action !== "delete" && !domainAllowed(this.#policy, name)) {
        this.#log.warn("external-dns webhook: name outside the domain filter not written", {
          dnsName: name,
        });
        this.#onChange(action, "skipped");
        return undefined;
      }
      return { name, type };
    };
    const targetsOf = (action: ChangeAction, e: Endpoint, type: string) => {
      const wrong = (e.targets ?? []).filter((t) => recordTypeOf(t) !== type);
      for (const t of wrong) {
        result.failures.push(
          `${e.dnsName} ${type} ${t}: not an ${type === "A" ? "IPv4" : "IPv6"} address`,
        );
        this.#onChange(action, "failure");
      }
      return [...new Set((e.targets ?? []).filter((t) => recordTypeOf(t) === type))];
    };

    // A name is an entry's hostname (the entry goes) or one of its aliases
    // (the alias goes, the entry stays).
    const deletes = changes.delete.flatMap((e) => {
      const u = usable("delete", e);
      if (!u) return [];
      const targets = targetsOf("delete", e, u.type);
      const hit = (h: HostEntry) =>
        recordTypeOf(h.ipAddress) === u.type && targets.some((t) => sameIp(t, h.ipAddress));
      return [
        ...oursFor(u.name, u.type).filter(hit).map((h) => ({ h, alias: undefined })),
        ...ours.filter((h) => hit(h) && h.aliases.some((a) => normalizeName(a) === u.name))
          .map((h) => ({ h, alias: u.name })),
      ];
    });
    await inParallel(deletes, ({ h, alias }) =>
      alias === undefined
        ? write(
          "delete",
          `delete ${h.hostname} ${h.ipAddress}`,
          () => this.#hosts.deleteHost(h.id, h.version),
        )
        : write(
          "delete",
          `remove alias ${alias} of ${h.hostname} ${h.ipAddress}`,
          () =>
            this.#hosts.updateHost({
              id: h.id,
              expectedVersion: h.version,
              aliases: h.aliases.filter((a) => normalizeName(a) !== alias),
            }),
        ));

    const updates = changes.updateNew.flatMap((e) => {
      const u = usable("update", e);
      return u ? [{ ...u, targets: targetsOf("update", e, u.type) }] : [];
    });
    await inParallel(
      updates,
      (u) => this.#update(u.name, oursFor(u.name, u.type), u.targets, write, tags),
    );

    const creates = changes.create.flatMap((e) => {
      const u = usable("create", e);
      if (!u) return [];
      const have = oursFor(u.name, u.type);
      return targetsOf("create", e, u.type)
        .filter((t) => !have.some((h) => sameIp(h.ipAddress, t)))
        .map((ip) => ({ name: u.name, ip }));
    });
    await inParallel(creates, ({ name, ip }) => {
      const taken = foreign.find((h) =>
        normalizeName(h.hostname) === name && sameIp(h.ipAddress, ip)
      );
      if (taken) {
        this.#onChange("create", "failure");
        result.failures.push(
          `create ${name} ${ip}: an entry the webhook did not write holds it (id ${taken.id}, comment "${
            taken.comment ?? ""
          }")`,
        );
        return Promise.resolve();
      }
      return write(
        "create",
        `create ${name} ${ip}`,
        () =>
          this.#hosts.addHost({ ipAddress: ip, hostname: name, comment: commentFor(name), tags }),
      );
    });
    return result;
  }

  /**
   * One name's new targets: entries already at a target stay, the others
   * move to a missing target in place (UpdateHost with the version read),
   * what is left over is deleted or added.
   */
  async #update(
    name: string,
    current: HostEntry[],
    targets: string[],
    write: (action: ChangeAction, what: string, call: () => Promise<unknown>) => Promise<void>,
    tags: string[],
  ): Promise<void> {
    const missing = targets.filter((t) => !current.some((h) => sameIp(h.ipAddress, t)));
    const movable = current.filter((h) => !targets.some((t) => sameIp(t, h.ipAddress)));
    for (const [i, h] of movable.entries()) {
      const ip = missing[i];
      if (ip === undefined) {
        await write(
          "delete",
          `delete ${name} ${h.ipAddress}`,
          () => this.#hosts.deleteHost(h.id, h.version),
        );
      } else {
        await write(
          "update",
          `update ${name} ${h.ipAddress} → ${ip}`,
          () =>
            this.#hosts.updateHost({ id: h.id, expectedVersion: h.version, ipAddress: ip, tags }),
        );
      }
    }
    for (const ip of missing.slice(movable.length)) {
      await write(
        "create",
        `create ${name} ${ip}`,
        () =>
          this.#hosts.addHost({ ipAddress: ip, hostname: name, comment: commentFor(name), tags }),
      );
    }
  }
}
