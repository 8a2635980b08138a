/**
 * Parsers for single flag values (booleans, durations, addresses, object
 * references, domains, owner ids) and the error a bad one raises. config.ts
 * applies them to the command line.
 *
 * @module
 */
import { isIP } from "node:net";
import { parseTarget, type ServerTarget } from "./grpc/target.ts";
import { normalizeDomain, type Policy } from "./controllers/hosts/policy.ts";

/** A bad command line; `main` prints the message and exits 2. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** `--help` was asked for; `main` prints {@link usage} and exits 0. */
export class HelpRequested extends Error {}

export function parseBool(name: string, value: string): boolean {
  if (/^(1|t|true)$/i.test(value)) return true;
  if (/^(0|f|false)$/i.test(value)) return false;
  throw new ConfigError(`invalid value "${value}" for flag --${name}: want true or false`);
}

export function validBindAddress(name: string, value: string): string | undefined {
  if (value === "0") return undefined;
  const m = /^(\[[^\]]*\]|[^:]*):(\d{1,5})$/.exec(value);
  if (!m || Number(m[2]) > 65535) {
    throw new ConfigError(
      `invalid value "${value}" for flag --${name}: want [host]:port, or "0" to disable`,
    );
  }
  return value;
}

/**
 * True when a bind address (validated by {@link validBindAddress}) listens on
 * loopback only: `localhost`, 127.0.0.0/8, `::1` (or 127/8 mapped into IPv6).
 * An empty host means every interface.
 */
export function isLoopbackBind(address: string): boolean {
  const host = address.slice(0, address.lastIndexOf(":")).replace(/^\[(.*)\]$/, "$1")
    .toLowerCase();
  if (host === "localhost") return true;
  if (isIP(host) === 4) return host.startsWith("127.");
  if (isIP(host) !== 6) return false;
  const mapped = /^(?:0*:)*:?ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(host);
  if (mapped) return mapped[1].startsWith("127.");
  return /^(?:0{0,4}:){2,7}0{0,3}1$/.test(host);
}

/** A byte count: digits, optionally with a Ki, Mi or Gi suffix (`1Mi` = 1,048,576). */
export function byteSize(name: string, value: string): number {
  const m = /^(\d{1,12})(Ki|Mi|Gi)?$/.exec(value.trim());
  const n = m ? Number(m[1]) * ({ Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3 }[m[2] ?? ""] ?? 1) : 0;
  if (!m || n < 1 || n > Number.MAX_SAFE_INTEGER) {
    throw new ConfigError(
      `invalid value "${value}" for flag --${name}: want a positive byte count, e.g. 1048576 or 1Mi`,
    );
  }
  return n;
}

export function validServerAddress(value: string): ServerTarget {
  try {
    return parseTarget(value);
  } catch (e) {
    throw new ConfigError(
      `invalid value "${value}" for flag --server-address: ${(e as Error).message}`,
    );
  }
}

/** A DNS-1123 label: namespaces and Service names. */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** A DNS-1123 subdomain: IngressClass names. */
export const DNS_SUBDOMAIN =
  /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** `namespace/name`, or undefined when empty. */
export function parseObjectRef(
  flag: string,
  value: string,
): { namespace: string; name: string } | undefined {
  if (value === "") return undefined;
  const [namespace, name, ...rest] = value.split("/");
  if (rest.length > 0 || !DNS_LABEL.test(namespace) || !DNS_LABEL.test(name ?? "")) {
    throw new ConfigError(
      `invalid value "${value}" for flag --${flag}: want namespace/name of a Service, e.g. traefik/traefik`,
    );
  }
  return { namespace, name };
}

/** Every suffix of a repeatable domain flag, split at commas, normalised. */
export function domains(name: string, values: string[] | undefined): string[] {
  const out: string[] = [];
  for (const part of (values ?? []).flatMap((v) => v.split(","))) {
    if (part.trim() === "") continue;
    const d = normalizeDomain(part);
    if (!/^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$/.test(d)) {
      throw new ConfigError(`invalid value "${part}" for flag --${name}: not a domain name`);
    }
    if (!out.includes(d)) out.push(d);
  }
  return out;
}

export function policyMode(value: string): Policy["mode"] {
  if (value === "sync" || value === "upsert-only") return value;
  throw new ConfigError(`invalid value "${value}" for flag --policy: want sync or upsert-only`);
}

/** An owner id becomes part of a tag: keep it short and free of separators. */
export function ownerId(value: string): string {
  if (value !== "" && !/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(value)) {
    throw new ConfigError(
      `invalid value "${value}" for flag --owner-id: want 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit`,
    );
  }
  return value;
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A Go duration ("1h30m", "45s", "500ms") in milliseconds, or undefined when malformed. */
export function parseDuration(text: string): number | undefined {
  if (!/^(\d+(\.\d+)?(ms|s|m|h))+$/.test(text)) return undefined;
  let total = 0;
  for (const m of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) {
    total += Number(m[1]) * UNIT_MS[m[2]];
  }
  return total;
}

/** `--namespace`, repeatable or comma-separated: DNS-1123 labels, each once. */
export function namespaces(values: string[] | undefined): string[] {
  const out: string[] = [];
  for (const part of (values ?? []).flatMap((v) => v.split(","))) {
    const ns = part.trim();
    if (ns === "") continue;
    if (!DNS_LABEL.test(ns)) {
      throw new ConfigError(
        `invalid value "${part}" for flag --namespace: want a namespace name (lower-case letters, digits and "-", at most 63)`,
      );
    }
    if (!out.includes(ns)) out.push(ns);
  }
  return out;
}

/** A label name with its optional DNS-subdomain prefix, as Kubernetes accepts it. */
const LABEL_KEY =
  "(?:[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?";
const LABEL_VALUE = "(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?";
const REQUIREMENTS = [
  new RegExp(`^!\\s*${LABEL_KEY}$`),
  new RegExp(`^${LABEL_KEY}$`),
  new RegExp(`^${LABEL_KEY}\\s*(?:==|=|!=)\\s*${LABEL_VALUE}$`),
  new RegExp(
    `^${LABEL_KEY}\\s+(?:in|notin)\\s*\\(\\s*${LABEL_VALUE}(?:\\s*,\\s*${LABEL_VALUE})*\\s*\\)$`,
  ),
  new RegExp(`^${LABEL_KEY}\\s*[<>]\\s*-?\\d+$`),
];

/**
 * `--label-selector`: checked here, so a typo fails at start-up rather
 * than as a 400 on every list. The grammar is Kubernetes' (`a=b`, `a!=b`,
 * `a in (b,c)`, `a notin (b)`, `a`, `!a`, `a>1`), requirements separated
 * by commas outside parentheses.
 */
export function labelSelector(value: string): string {
  const text = value.trim();
  if (text === "") return "";
  const parts: string[] = [];
  let depth = 0, start = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === "(") depth++;
    else if (text[i] === ")") depth--;
    else if (text[i] === "," && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  for (const part of parts) {
    const requirement = part.trim();
    if (!REQUIREMENTS.some((re) => re.test(requirement))) {
      throw new ConfigError(
        `invalid value "${value}" for flag --label-selector: "${requirement}" is not a label requirement ` +
          `(want e.g. router=lan, router!=lan, router in (lan,wan), router, !router)`,
      );
    }
  }
  return text;
}
