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
 * changes; they are collected and named in the answer. What can never be
 * written (checkEndpoint in endpoint.ts) is skipped, not failed: external-dns
 * would retry it forever. One `POST /records` runs at a time, at most
 * {@link PARALLEL_WRITES} writes at once, and none is started once the
 * request's signal aborted (client gone, deadline, shutdown).
 *
 * @module
 */
import type { HostEntry, HostsPort } from "../grpc/hosts_port.ts";
import { RouterHostsError } from "../grpc/errors.ts";
import { domainAllowed, entryTags, ownerAllows, type Policy } from "../controllers/hosts/policy.ts";
import type { Logger } from "../observability/log.ts";
import { canonicalIp } from "../controllers/hosts/ip.ts";
import {
  type Changes,
  checkEndpoint,
  commentFor,
  type DropReason,
  type Endpoint,
  entriesToEndpoints,
  isWebhookEntry,
  normalizeName,
  recordTypeOf,
  WEBHOOK_TAG,
  type Writable,
} from "./endpoint.ts";

/** What a change did, for the metric `router_hosts_webhook_changes_total{action,outcome}`. */
export type ChangeAction = "create" | "update" | "delete";
/**
 * skipped = can never be written (a record type a hosts file cannot hold, a
 * name router-hosts refuses, outside the domain filter, a target that is not
 * an address), or a delete under `--policy=upsert-only`; cancelled = not
 * started because the request was abandoned.
 */
export type ChangeOutcome = "success" | "failure" | "skipped" | "cancelled";

/** How many problems a result names (the log line stays short). */
export const SAMPLE = 5;

/** The result of applying `plan.Changes`. */
export interface ApplyResult {
  /** One line per failed change, worth retrying: "create a.home.arpa 10.0.0.1: <reason>". */
  failures: string[];
  /** router-hosts writes made. */
  writes: number;
  /** Endpoints and targets skipped because they can never be written. */
  skipped: number;
  /** The first {@link SAMPLE} reasons for skipping. */
  skipSample: string[];
  /** Writes not started: the request was abandoned (client gone, deadline, shutdown). */
  cancelled: number;
}

/** The result of `/adjustendpoints`. */
export interface AdjustResult {
  /** The endpoints kept: index in the request, name and canonical targets. */
  kept: { index: number; name: string; targets: string[] }[];
  /** Endpoints dropped, by reason. */
  dropped: Partial<Record<DropReason | "bad_target", number>>;
  /** The first {@link SAMPLE} reasons. */
  sample: string[];
}

/** Options of {@link WebhookProvider}. */
export interface WebhookProviderOptions {
  hosts: HostsPort;
  policy: Policy;
  log: Logger;
  /** Called once per endpoint target handled. */
  onChange?: (action: ChangeAction, outcome: ChangeOutcome) => void;
}

/** Endpoints checked between two turns of the event loop in `adjust`. */
const YIELD_EVERY = 2_000;

/** Writes at once to router-hosts, across requests: enough to overlap round trips, few enough to be polite. */
export const PARALLEL_WRITES = 8;

function reason(e: unknown): string {
  return e instanceof RouterHostsError || e instanceof Error ? e.message : String(e);
}

/** The canonical text of an entry's address (the server may hold another spelling). */
function ipOf(h: HostEntry): string {
  return canonicalIp(h.ipAddress) ?? h.ipAddress;
}

async function inParallel<T>(items: readonly T[], run: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await run(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL_WRITES, items.length) }, worker));
}

function sameTags(a: readonly string[], b: readonly string[]): boolean {
  const set = new Set(a);
  return set.size === new Set(b).size && b.every((t) => set.has(t));
}

/** external-dns's provider interface over router-hosts. */
export class WebhookProvider {
  readonly #hosts: HostsPort;
  readonly #policy: Policy;
  readonly #log: Logger;
  readonly #onChange: (action: ChangeAction, outcome: ChangeOutcome) => void;
  /** The `POST /records` before this one; applies run one after the other. */
  #applying: Promise<unknown> = Promise.resolve();

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

  /**
   * `POST /adjustendpoints`: keeps what a hosts file can hold and the
   * server would accept (checkEndpoint), with canonical names and targets,
   * so external-dns never plans a write that cannot succeed. Linear.
   */
  async adjust(endpoints: readonly Endpoint[]): Promise<AdjustResult> {
    const result: AdjustResult = { kept: [], dropped: {}, sample: [] };
    const count = (why: DropReason | "bad_target", detail: string) => {
      result.dropped[why] = (result.dropped[why] ?? 0) + 1;
      if (result.sample.length < SAMPLE) result.sample.push(detail);
    };
    const allowed = (name: string) => domainAllowed(this.#policy, name);
    for (let index = 0; index < endpoints.length; index++) {
      // A large request must not hold the event loop (probes, other requests).
      if (index > 0 && index % YIELD_EVERY === 0) await new Promise((r) => setTimeout(r, 0));
      const checked = checkEndpoint(endpoints[index], allowed);
      if ("reason" in checked) {
        count(checked.reason, checked.detail);
        continue;
      }
      for (const t of checked.ok.badTargets) {
        count("bad_target", `${checked.ok.name} ${checked.ok.type}: ${JSON.stringify(t)} left out`);
      }
      result.kept.push({ index, name: checked.ok.name, targets: checked.ok.targets });
    }
    return result;
  }

  /** `POST /records`: deletes, then updates, then creates, against one fresh read. */
  apply(changes: Required<Changes>, signal?: AbortSignal): Promise<ApplyResult> {
    const run = this.#applying.then(() => this.#apply(changes, signal));
    this.#applying = run.catch(() => {});
    return run;
  }

  async #apply(changes: Required<Changes>, signal?: AbortSignal): Promise<ApplyResult> {
    const result: ApplyResult = {
      failures: [],
      writes: 0,
      skipped: 0,
      skipSample: [],
      cancelled: 0,
    };
    const skip = (action: ChangeAction, detail: string) => {
      this.#onChange(action, "skipped");
      result.skipped++;
      if (result.skipSample.length < SAMPLE) result.skipSample.push(detail);
    };
    const allowed = (action: ChangeAction) => (name: string) =>
      action === "delete" || domainAllowed(this.#policy, name);
    const writable = (action: ChangeAction, endpoints: Endpoint[]): Writable[] =>
      endpoints.flatMap((e) => {
        const checked = checkEndpoint(e, allowed(action));
        if ("reason" in checked) {
          skip(action, `${action} ${checked.detail}`);
          return [];
        }
        for (const t of checked.ok.badTargets) {
          skip(
            action,
            `${action} ${checked.ok.name} ${checked.ok.type} ${JSON.stringify(t)}: not an address`,
          );
        }
        return [checked.ok];
      });
    const deletes = writable("delete", changes.delete);
    const updates = writable("update", changes.updateNew);
    const creates = writable("create", changes.create);
    if (signal?.aborted) {
      result.cancelled = deletes.length + updates.length + creates.length;
      return result;
    }

    const all = await this.#hosts.listHosts();
    const tags = entryTags(this.#policy, [WEBHOOK_TAG]);
    // Indexes of the read: ours by "name type" and by alias, others' by name.
    const ours = new Map<string, HostEntry[]>();
    const aliased = new Map<string, HostEntry[]>();
    const foreign = new Map<string, HostEntry[]>();
    const push = (m: Map<string, HostEntry[]>, key: string, h: HostEntry) => {
      const list = m.get(key);
      if (list) list.push(h);
      else m.set(key, [h]);
    };
    for (const h of all) {
      const type = recordTypeOf(ipOf(h));
      if (!this.owns(h)) {
        push(foreign, normalizeName(h.hostname), h);
        continue;
      }
      push(ours, `${normalizeName(h.hostname)} ${type}`, h);
      for (const a of h.aliases) push(aliased, `${normalizeName(a)} ${type}`, h);
    }

    const write = async (action: ChangeAction, what: string, call: () => Promise<unknown>) => {
      if (action === "delete" && this.#policy.mode === "upsert-only") {
        skip(action, `${what}: not done under --policy=upsert-only`);
        return;
      }
      if (signal?.aborted) {
        this.#onChange(action, "cancelled");
        result.cancelled++;
        return;
      }
      try {
        await call();
        result.writes++;
        this.#onChange(action, "success");
        this.#log.debug(`external-dns webhook: ${what}`);
      } catch (e) {
        this.#onChange(action, "failure");
        result.failures.push(`${what}: ${reason(e)}`);
        this.#log.debug(`external-dns webhook: ${what} failed`, { error: reason(e) });
      }
    };

    // A name is an entry's hostname (the entry goes) or one of its aliases
    // (the alias goes, the entry stays).
    const deleting = deletes.flatMap((d) => {
      const key = `${d.name} ${d.type}`;
      const targets = new Set(d.targets);
      const hit = (h: HostEntry) => targets.has(ipOf(h));
      return [
        ...(ours.get(key) ?? []).filter(hit).map((h) => ({ h, alias: undefined })),
        ...(aliased.get(key) ?? []).filter(hit).map((h) => ({ h, alias: d.name })),
      ];
    });
    await inParallel(deleting, ({ h, alias }) =>
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

    await inParallel(
      updates,
      (u) => this.#update(u.name, ours.get(`${u.name} ${u.type}`) ?? [], u.targets, write, tags),
    );

    const creating = creates.flatMap((c) => {
      const have = new Set((ours.get(`${c.name} ${c.type}`) ?? []).map(ipOf));
      return c.targets.filter((t) => !have.has(t)).map((ip) => ({ name: c.name, ip }));
    });
    await inParallel(creating, ({ name, ip }) => {
      // One hostname, one holder (ADR 16): whoever holds the name, at any
      // IP, keeps it; a second entry beside theirs would shadow it.
      const taken = (foreign.get(name) ?? [])[0];
      if (taken) {
        this.#onChange("create", "failure");
        result.failures.push(
          `create ${name} ${ip}: an entry the webhook did not write holds it (id ${taken.id}, ${taken.ipAddress}, comment "${
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
   * move to a missing target in place (UpdateHost with the version read and
   * only the fields that change: the address, and the tags when they
   * differ), what is left over is deleted or added.
   */
  async #update(
    name: string,
    current: HostEntry[],
    targets: string[],
    write: (action: ChangeAction, what: string, call: () => Promise<unknown>) => Promise<void>,
    tags: string[],
  ): Promise<void> {
    const have = new Set(current.map(ipOf));
    const wanted = new Set(targets);
    const missing = targets.filter((t) => !have.has(t));
    const movable = current.filter((h) => !wanted.has(ipOf(h)));
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
            this.#hosts.updateHost({
              id: h.id,
              expectedVersion: h.version,
              ipAddress: ip,
              ...(sameTags(h.tags, tags) ? {} : { tags }),
            }),
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
