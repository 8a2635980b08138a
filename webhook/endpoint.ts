/**
 * external-dns's webhook JSON (the Go types `endpoint.Endpoint`,
 * `plan.Changes`, `endpoint.DomainFilter` as encoding/json writes them) and
 * its mapping to router-hosts entries. Pure: parsing, validation, grouping.
 *
 * An endpoint `{dnsName, recordType: A|AAAA, targets}` is one entry per
 * target: hostname = dnsName, ip = target, comment `external-dns:<dnsName>`,
 * tags `external-dns` (+ `owner:<id>`). Going back, our entries with the same
 * hostname and address family form one endpoint; an entry's aliases are more
 * DNS names of the same target.
 *
 * @module
 */
import { isIP } from "node:net";
import type { HostEntry } from "../grpc/hosts_port.ts";
import { canonicalIp } from "../controllers/hosts/ip.ts";
import { hostnameProblem } from "../controllers/hosts/hostname.ts";

/** The only media type of the webhook API (version 1). */
export const MEDIA_TYPE = "application/external.dns.webhook+json;version=1";

/** Comment prefix of the entries the webhook writes. */
export const COMMENT_PREFIX = "external-dns:";

/** The tag of the entries the webhook writes. */
export const WEBHOOK_TAG = "external-dns";

/** The record types a hosts file can hold. */
export const SUPPORTED_TYPES: readonly string[] = ["A", "AAAA"];

/** `endpoint.ProviderSpecificProperty`. */
export interface ProviderSpecificProperty {
  name?: string;
  value?: string;
}

/** `endpoint.Endpoint` (every field is `omitempty` in Go). */
export interface Endpoint {
  dnsName?: string;
  targets?: string[];
  recordType?: string;
  setIdentifier?: string;
  recordTTL?: number;
  labels?: Record<string, string>;
  providerSpecific?: ProviderSpecificProperty[];
}

/** `plan.Changes`. */
export interface Changes {
  create?: Endpoint[];
  updateOld?: Endpoint[];
  updateNew?: Endpoint[];
  delete?: Endpoint[];
}

/** `endpoint.DomainFilter` as negotiated on `GET /`. */
export interface DomainFilterJson {
  include?: string[];
  exclude?: string[];
}

/** A request body that is not what external-dns sends; the server answers 400 with the message. */
export class BadBody extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BadBody";
  }
}

/** The domain filter as external-dns expects it: sorted lists, empty ones left out. */
export function domainFilterJson(include: readonly string[], exclude: readonly string[]) {
  const out: DomainFilterJson = {};
  if (include.length > 0) out.include = [...include].sort();
  if (exclude.length > 0) out.exclude = [...exclude].sort();
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function stringList(v: unknown, where: string): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.some((s) => typeof s !== "string")) {
    throw new BadBody(`${where}: want a list of strings`);
  }
  return v as string[];
}

/** Validates one `endpoint.Endpoint`; `where` names it in the error (e.g. "create[0]"). */
export function parseEndpoint(v: unknown, where: string): Endpoint {
  if (!isObject(v)) throw new BadBody(`${where}: want an endpoint object`);
  const out: Endpoint = {};
  for (const key of ["dnsName", "recordType", "setIdentifier"] as const) {
    const s = v[key];
    if (s === undefined || s === null) continue;
    if (typeof s !== "string") throw new BadBody(`${where}.${key}: want a string`);
    out[key] = s;
  }
  const targets = stringList(v.targets, `${where}.targets`);
  if (targets) out.targets = targets;
  if (v.recordTTL !== undefined && v.recordTTL !== null) {
    if (typeof v.recordTTL !== "number" || !Number.isInteger(v.recordTTL)) {
      throw new BadBody(`${where}.recordTTL: want a whole number`);
    }
    out.recordTTL = v.recordTTL;
  }
  if (v.labels !== undefined && v.labels !== null) {
    if (!isObject(v.labels) || Object.values(v.labels).some((s) => typeof s !== "string")) {
      throw new BadBody(`${where}.labels: want an object of strings`);
    }
    out.labels = v.labels as Record<string, string>;
  }
  if (v.providerSpecific !== undefined && v.providerSpecific !== null) {
    if (!Array.isArray(v.providerSpecific) || !v.providerSpecific.every(isObject)) {
      throw new BadBody(`${where}.providerSpecific: want a list of {name, value}`);
    }
    out.providerSpecific = v.providerSpecific as ProviderSpecificProperty[];
  }
  return out;
}

/** Validates the body of `POST /adjustendpoints`: a JSON list of endpoints (null = none). */
export function parseEndpoints(v: unknown): Endpoint[] {
  if (v === null) return [];
  if (!Array.isArray(v)) throw new BadBody("want a JSON list of endpoints");
  return v.map((e, i) => parseEndpoint(e, `[${i}]`));
}

/** Validates the body of `POST /records`: `plan.Changes`, UpdateOld and UpdateNew paired. */
export function parseChanges(v: unknown): Required<Changes> {
  if (!isObject(v)) throw new BadBody("want a JSON object {create, updateOld, updateNew, delete}");
  const list = (key: keyof Changes): Endpoint[] => {
    const items = v[key];
    if (items === undefined || items === null) return [];
    if (!Array.isArray(items)) throw new BadBody(`${key}: want a list of endpoints`);
    return items.map((e, i) => parseEndpoint(e, `${key}[${i}]`));
  };
  const changes = {
    create: list("create"),
    updateOld: list("updateOld"),
    updateNew: list("updateNew"),
    delete: list("delete"),
  };
  if (changes.updateOld.length !== changes.updateNew.length) {
    throw new BadBody(
      `updateOld has ${changes.updateOld.length} endpoints but updateNew has ${changes.updateNew.length}: they are pairs`,
    );
  }
  return changes;
}

/** The record type of an address: A for IPv4, AAAA for IPv6, undefined for neither. */
export function recordTypeOf(ip: string): "A" | "AAAA" | undefined {
  const family = isIP(ip);
  return family === 4 ? "A" : family === 6 ? "AAAA" : undefined;
}

/**
 * A DNS name as a hosts file holds it: lower case, no trailing dot. Nothing
 * else is changed: whitespace stays, and {@link checkEndpoint} refuses it.
 */
export function normalizeName(name: string): string {
  return name.toLowerCase().replace(/\.$/, "");
}

/** Why an endpoint can never be written: the keys of the per-request log's counts. */
export type DropReason =
  | "record_type"
  | "invalid_name"
  | "outside_domain_filter"
  | "no_address_target";

/** An endpoint a hosts file can hold: its name and canonical targets. */
export interface Writable {
  name: string;
  type: "A" | "AAAA";
  /** Canonical addresses of the record's family, no duplicates, in the order sent. */
  targets: string[];
  /** Targets left out: not an address of the record's family. */
  badTargets: string[];
}

/** What {@link checkEndpoint} found: writable, or dropped with a reason and its detail. */
export type Checked =
  | { ok: Writable }
  | { reason: DropReason; detail: string };

/**
 * Whether an endpoint can ever be written, and how: the one check of
 * `/adjustendpoints` and `POST /records`. The name must pass router-hosts'
 * own rules (controllers/hosts/hostname.ts) and `allowed` (the domain
 * filter); targets are canonical addresses of the record's family (others
 * are left out; none left drops the endpoint).
 */
export function checkEndpoint(e: Endpoint, allowed: (name: string) => boolean): Checked {
  const type = e.recordType ?? "";
  const dnsName = e.dnsName ?? "";
  const shown = () => JSON.stringify(dnsName.length > 80 ? `${dnsName.slice(0, 80)}…` : dnsName);
  if (type !== "A" && type !== "AAAA") {
    return {
      reason: "record_type",
      detail: `${shown()} ${JSON.stringify(type)}: a hosts file holds only A and AAAA`,
    };
  }
  const name = normalizeName(dnsName);
  const problem = hostnameProblem(name);
  if (problem) return { reason: "invalid_name", detail: `${shown()}: ${problem}` };
  if (!allowed(name)) {
    return { reason: "outside_domain_filter", detail: `${shown()}: outside the domain filter` };
  }
  const seen = new Set<string>();
  const badTargets: string[] = [];
  for (const t of e.targets ?? []) {
    const ip = canonicalIp(t);
    if (ip === undefined || recordTypeOf(ip) !== type) badTargets.push(t);
    else seen.add(ip);
  }
  const targets = [...seen];
  if (targets.length === 0) {
    const family = type === "A" ? "IPv4" : "IPv6";
    const first = badTargets[0] === undefined
      ? "no targets"
      : JSON.stringify(badTargets[0].slice(0, 60));
    return {
      reason: "no_address_target",
      detail: `${shown()} ${type}: no target is an ${family} address (${first})`,
    };
  }
  return { ok: { name, type, targets, badTargets } };
}

/** True when the webhook wrote this entry (its comment and its tag; the owner rule is separate). */
export function isWebhookEntry(entry: Pick<HostEntry, "comment" | "tags">): boolean {
  return (entry.comment ?? "").startsWith(COMMENT_PREFIX) && entry.tags.includes(WEBHOOK_TAG);
}

/** The comment of an entry for `dnsName`. */
export function commentFor(dnsName: string): string {
  return `${COMMENT_PREFIX}${normalizeName(dnsName)}`;
}

/**
 * Our entries as endpoints, one per (name, record type), targets canonical
 * (as `/adjustendpoints` answers them, so an entry written in another
 * spelling is no difference to plan) and sorted, in a stable order; aliases
 * count as more names of the entry's address.
 */
export function entriesToEndpoints(entries: readonly HostEntry[]): Endpoint[] {
  const groups = new Map<string, { dnsName: string; recordType: string; targets: Set<string> }>();
  for (const e of entries) {
    const recordType = recordTypeOf(e.ipAddress);
    if (!recordType) continue;
    for (const name of [e.hostname, ...e.aliases]) {
      const dnsName = normalizeName(name);
      const key = `${dnsName} ${recordType}`;
      let g = groups.get(key);
      if (!g) groups.set(key, g = { dnsName, recordType, targets: new Set() });
      g.targets.add(canonicalIp(e.ipAddress) ?? e.ipAddress);
    }
  }
  return [...groups.entries()]
    .sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0)
    .map(([, g]) => ({
      dnsName: g.dnsName,
      targets: [...g.targets].sort(),
      recordType: g.recordType,
    }));
}

/** Splits endpoints into those a hosts file can hold (A/AAAA) and the rest. */
export function splitSupported(endpoints: readonly Endpoint[]): {
  kept: Endpoint[];
  dropped: Endpoint[];
} {
  const kept: Endpoint[] = [];
  const dropped: Endpoint[] = [];
  for (const e of endpoints) {
    (SUPPORTED_TYPES.includes(e.recordType ?? "") ? kept : dropped).push(e);
  }
  return { kept, dropped };
}
