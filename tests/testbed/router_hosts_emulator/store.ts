/**
 * The state machine of the router-hosts protocol emulator: host entries,
 * versions, validation and error messages as router-hosts v0.13.0 produces
 * them, plus the hosts-file renderer. No I/O happens here (clock and entropy
 * are injected), so every rule is unit-testable; `main.ts` adds gRPC, TLS and
 * files around it.
 *
 * The rules were read from the real server's behaviour and re-expressed here;
 * where the real server has a quirk a client could observe, the quirk is
 * reproduced and named in a comment.
 *
 * @module
 */

/** The gRPC status names the store's failures map to. */
export type FailureCode = "INVALID_ARGUMENT" | "NOT_FOUND" | "ALREADY_EXISTS" | "ABORTED";

/** A request the real server would refuse; `code` is the gRPC status name, `message` its text. */
export class HostsStoreError extends Error {
  /** gRPC status name. */
  readonly code: FailureCode;

  /** A failure with the status the real server answers. */
  constructor(code: FailureCode, message: string) {
    super(message);
    this.name = "HostsStoreError";
    this.code = code;
  }
}

/** One live host entry, as the server reports it. */
export interface HostEntry {
  /** Canonical (upper-case) ULID. */
  readonly id: string;
  readonly ipAddress: string;
  readonly hostname: string;
  /** Absent when never set; an empty string is a set-but-empty comment. */
  readonly comment?: string;
  readonly tags: readonly string[];
  readonly aliases: readonly string[];
  /** Milliseconds since the epoch. */
  readonly createdAtMs: number;
  /** Milliseconds since the epoch. */
  readonly updatedAtMs: number;
  /** The number of events appended to this entry so far ("1" on create). */
  readonly version: number;
}

/** AddHost's input, field names as in the proto (camelCase). */
export interface AddHostInput {
  ipAddress: string;
  hostname: string;
  comment?: string;
  tags?: readonly string[];
  aliases?: readonly string[];
}

/**
 * UpdateHost's input. An absent field keeps the current value; `aliases` and
 * `tags` stand for the wrapper messages (present with no values clears).
 */
export interface UpdateHostInput {
  id: string;
  ipAddress?: string;
  hostname?: string;
  comment?: string;
  expectedVersion?: string;
  aliases?: readonly string[];
  tags?: readonly string[];
}

/** DeleteHost's input. */
export interface DeleteHostInput {
  id: string;
  expectedVersion?: string;
}

/** Marks the persisted JSON so a file from something else is refused, not misread. */
export const SNAPSHOT_FORMAT = "router-hosts-emulator/1";

/** One entry as persisted, deleted ones included (their ids stay NOT_FOUND forever). */
export interface StoredHost {
  id: string;
  ipAddress: string;
  hostname: string;
  comment: string | null;
  tags: string[];
  aliases: string[];
  createdAtMs: number;
  updatedAtMs: number;
  version: number;
  deleted: boolean;
}

/** Everything the store needs to continue after a restart. */
export interface StoreSnapshot {
  format: typeof SNAPSHOT_FORMAT;
  /** Events appended overall, across restarts. */
  eventCount: number;
  hosts: StoredHost[];
}

/** Injected sources of time and entropy, so tests are deterministic. */
export interface HostsStoreOptions {
  /** Milliseconds since the epoch; defaults to `Date.now`. */
  clock?: () => number;
  /** Fills a buffer with random bytes; defaults to `crypto.getRandomValues`. */
  randomBytes?: (length: number) => Uint8Array;
  /** State to continue from (see {@link parseSnapshot}). */
  snapshot?: StoreSnapshot;
}

/** The real server's cap on aliases per entry. */
export const MAX_ALIASES = 50;

// --- ULIDs -------------------------------------------------------------------

const ULID_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const ULID_LENGTH = 26;
const INVALID_SYMBOL = 0xff;

/** Byte → 5-bit value; lower case decodes like upper case; everything else is 0xFF. */
const ULID_DECODE: Uint8Array = (() => {
  const table = new Uint8Array(256).fill(INVALID_SYMBOL);
  for (let i = 0; i < ULID_ALPHABET.length; i++) {
    table[ULID_ALPHABET.charCodeAt(i)] = i;
    table[ULID_ALPHABET.toLowerCase().charCodeAt(i)] = i;
  }
  return table;
})();

function encodeUlid(value: bigint): string {
  let out = "";
  let rest = value;
  for (let i = 0; i < ULID_LENGTH; i++) {
    out = ULID_ALPHABET[Number(rest & 31n)] + out;
    rest >>= 5n;
  }
  return out;
}

/**
 * Parses an id the way the real server does (a lenient ULID parse): only the
 * length and the first symbol are checked. Lower case is accepted and maps to
 * the canonical id; symbols outside the alphabet are not rejected but decode
 * to some other id, which then is simply NOT_FOUND. The 26 symbols carry 130
 * bits of which the low 128 are the id; each output byte ORs the symbols that
 * overlap it, shifted into place and cut to 8 bits, which reproduces the real
 * decoder bit for bit even for invalid symbols (value 0xFF).
 */
export function parseUlid(text: string): { id: string } | { error: string } {
  const bytes = new TextEncoder().encode(text);
  if (bytes.length !== ULID_LENGTH) return { error: "ulid: bad data size when unmarshaling" };
  if (bytes[0] > "7".charCodeAt(0)) return { error: "ulid: overflow when unmarshaling" };
  let value = 0n;
  for (let byte = 0; byte < 16; byte++) {
    const first = 2 + 8 * byte;
    const last = first + 7;
    let acc = 0;
    for (let k = 0; k < ULID_LENGTH; k++) {
      const symbolFirst = 5 * k;
      const symbolLast = symbolFirst + 4;
      if (symbolLast < first || symbolFirst > last) continue;
      const symbol = ULID_DECODE[bytes[k]];
      const shift = last - symbolLast;
      acc |= shift >= 0 ? (symbol << shift) & 0xff : symbol >> -shift;
    }
    value = (value << 8n) | BigInt(acc);
  }
  return { id: encodeUlid(value) };
}

/** Monotonic ULIDs: within one millisecond the random part grows, so ids sort in creation order. */
export class UlidGenerator {
  #lastMs = -1;
  #lastRandom = 0n;
  readonly #randomBytes: (length: number) => Uint8Array;

  /** A generator drawing entropy from `randomBytes`. */
  constructor(randomBytes: (length: number) => Uint8Array) {
    this.#randomBytes = randomBytes;
  }

  /** The next id for time `nowMs`. */
  next(nowMs: number): string {
    let random: bigint;
    if (nowMs === this.#lastMs) {
      // Like the real server's monotonic entropy: step by a random 1..2^32-1.
      const step = this.#toBigInt(this.#randomBytes(4)) % 0xffffffffn + 1n;
      random = this.#lastRandom + step;
      if (random >= 1n << 80n) throw new Error("ulid: monotonic entropy overflow");
    } else {
      random = this.#toBigInt(this.#randomBytes(10));
    }
    this.#lastMs = nowMs;
    this.#lastRandom = random;
    return encodeUlid((BigInt(nowMs) << 80n) | random);
  }

  #toBigInt(bytes: Uint8Array): bigint {
    let value = 0n;
    for (const b of bytes) value = (value << 8n) | BigInt(b);
    return value;
  }
}

// --- Go-compatible text -------------------------------------------------------

/** Go's `%q` for a valid UTF-8 string (strconv.Quote), so quoted ids read like the server's. */
export function goQuote(text: string): string {
  let out = '"';
  for (const ch of text) {
    const cp = ch.codePointAt(0) ?? 0;
    if (ch === '"' || ch === "\\") out += "\\" + ch;
    else if (cp === 0x07) out += "\\a";
    else if (cp === 0x08) out += "\\b";
    else if (cp === 0x0c) out += "\\f";
    else if (cp === 0x0a) out += "\\n";
    else if (cp === 0x0d) out += "\\r";
    else if (cp === 0x09) out += "\\t";
    else if (cp === 0x0b) out += "\\v";
    else if (ch === " " || /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u.test(ch)) out += ch;
    else if (cp < 0x80) out += "\\x" + cp.toString(16).padStart(2, "0");
    else if (cp < 0x10000) out += "\\u" + cp.toString(16).padStart(4, "0");
    else out += "\\U" + cp.toString(16).padStart(8, "0");
  }
  return out + '"';
}

const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;

/** Go's strconv.ParseInt(text, 10, 64): the value, or the exact error text. */
export function parseGoInt64(text: string): { value: bigint } | { error: string } {
  const prefix = `strconv.ParseInt: parsing ${goQuote(text)}: `;
  if (!/^[+-]?[0-9]+$/.test(text)) return { error: prefix + "invalid syntax" };
  const value = BigInt(text);
  if (value < INT64_MIN || value > INT64_MAX) return { error: prefix + "value out of range" };
  return { value };
}

// --- Validation ----------------------------------------------------------------

function isIPv4(text: string): boolean {
  const fields = text.split(".");
  if (fields.length !== 4) return false;
  // Go rejects leading zeros ("010") since 1.17; decimal digits only.
  return fields.every((f) => /^(0|[1-9][0-9]{0,2})$/.test(f) && Number(f) <= 255);
}

function isIPv6(text: string): boolean {
  // net.ParseIP refuses zones ("fe80::1%eth0").
  if (text.includes("%")) return false;
  const halves = text.split("::");
  if (halves.length > 2) return false;
  const sides = halves.map((h) => (h === "" ? [] : h.split(":")));
  const all = sides.flat();
  // An embedded IPv4 address may only be the very end of the text (so not
  // right before a trailing "::").
  const endsWithGroup = sides[sides.length - 1].length > 0;
  let fields = 0;
  for (const [index, group] of all.entries()) {
    if (group.includes(".")) {
      if (!endsWithGroup || index !== all.length - 1 || !isIPv4(group)) return false;
      fields += 2;
    } else if (/^[0-9a-fA-F]{1,4}$/.test(group)) {
      fields += 1;
    } else {
      return false;
    }
  }
  // "::" has to stand for at least one group of zeros.
  return halves.length === 2 ? fields <= 7 : fields === 8;
}

/**
 * Whether Go's net.ParseIP accepts `text`: dotted IPv4 without leading zeros,
 * or IPv6 (compressed, embedded IPv4 at the end) without a zone. The text is
 * stored as given, never normalised.
 */
export function isValidIp(text: string): boolean {
  // Go decides the family by the first '.', ':' or '%' it meets.
  const first = text.search(/[.:%]/);
  if (first < 0) return false;
  const marker = text[first];
  if (marker === ".") return isIPv4(text);
  if (marker === ":") return isIPv6(text);
  return false;
}

const LABEL = /^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$/;

/** The real server's hostname rules (RFC 1035 labels); `null` when valid, else its message. */
export function hostnameError(hostname: string): string | null {
  if (hostname === "") return "hostname cannot be empty";
  if (new TextEncoder().encode(hostname).length > 253) {
    return "hostname exceeds maximum length of 253 characters";
  }
  if (hostname.startsWith(".") || hostname.endsWith(".")) {
    return "hostname cannot start or end with dot";
  }
  if (hostname.startsWith("-") || hostname.endsWith("-")) {
    return "hostname cannot start or end with hyphen";
  }
  for (const label of hostname.split(".")) {
    if (label === "") return "hostname cannot contain consecutive dots";
    if (!LABEL.test(label)) return `invalid label '${label}' in hostname`;
  }
  return null;
}

/**
 * The real server's alias rules, in its order: at most 50; per alias, not an
 * IP address, a valid hostname, not the canonical hostname, no repeats (the
 * last two case-insensitive). Returns the message of the first violation.
 */
export function aliasesError(aliases: readonly string[], hostname: string): string | null {
  if (aliases.length > MAX_ALIASES) {
    return `too many aliases: ${aliases.length} exceeds maximum of ${MAX_ALIASES}`;
  }
  const seen = new Set<string>();
  for (const alias of aliases) {
    if (isValidIp(alias)) return `alias '${alias}' cannot be an IP address`;
    const invalid = hostnameError(alias);
    if (invalid !== null) return `invalid alias '${alias}': ${invalid}`;
    // Go's EqualFold and ToLower; toLowerCase is the same for the ASCII a valid name holds.
    const lower = alias.toLowerCase();
    if (lower === hostname.toLowerCase()) return `alias '${alias}' matches canonical hostname`;
    if (seen.has(lower)) return `duplicate alias '${alias}' in entry`;
    seen.add(lower);
  }
  return null;
}

function validateIp(ip: string): void {
  if (!isValidIp(ip)) throw new HostsStoreError("INVALID_ARGUMENT", `invalid IP address: ${ip}`);
}

function validateHostname(hostname: string): void {
  const invalid = hostnameError(hostname);
  if (invalid !== null) throw new HostsStoreError("INVALID_ARGUMENT", invalid);
}

function validateAliases(aliases: readonly string[], hostname: string): void {
  const invalid = aliasesError(aliases, hostname);
  if (invalid !== null) {
    throw new HostsStoreError(
      "INVALID_ARGUMENT",
      `validation failed: alias validation: ${invalid}`,
    );
  }
}

// --- The store -------------------------------------------------------------------

interface Aggregate {
  id: string;
  ipAddress: string;
  hostname: string;
  comment: string | undefined;
  tags: string[];
  aliases: string[];
  createdAtMs: number;
  updatedAtMs: number;
  version: number;
  deleted: boolean;
}

function toEntry(a: Aggregate): HostEntry {
  const entry: {
    -readonly [K in keyof HostEntry]: HostEntry[K];
  } = {
    id: a.id,
    ipAddress: a.ipAddress,
    hostname: a.hostname,
    tags: [...a.tags],
    aliases: [...a.aliases],
    createdAtMs: a.createdAtMs,
    updatedAtMs: a.updatedAtMs,
    version: a.version,
  };
  if (a.comment !== undefined) entry.comment = a.comment;
  return entry;
}

function byId(a: { id: string }, b: { id: string }): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** The hosts database: every rule of Add/Get/Update/Delete/List/Search, no I/O. */
export class HostsStore {
  #hosts = new Map<string, Aggregate>();
  #eventCount = 0;
  readonly #clock: () => number;
  readonly #ids: UlidGenerator;

  /** A store, empty or continuing from `options.snapshot`. */
  constructor(options: HostsStoreOptions = {}) {
    this.#clock = options.clock ?? Date.now;
    const randomBytes = options.randomBytes ??
      ((n: number) => crypto.getRandomValues(new Uint8Array(n)));
    this.#ids = new UlidGenerator(randomBytes);
    if (options.snapshot) this.restore(options.snapshot);
  }

  /** Events appended overall (creates, each update event, deletes); for the emulator's own tests. */
  get eventCount(): number {
    return this.#eventCount;
  }

  /** Creates an entry; ALREADY_EXISTS when a live entry has the same IP and hostname. */
  addHost(input: AddHostInput): HostEntry {
    const tags = [...(input.tags ?? [])];
    const aliases = [...(input.aliases ?? [])];
    validateIp(input.ipAddress);
    validateHostname(input.hostname);
    validateAliases(aliases, input.hostname);
    // Exact, case-sensitive comparison, as the real server does.
    for (const a of this.#hosts.values()) {
      if (!a.deleted && a.ipAddress === input.ipAddress && a.hostname === input.hostname) {
        throw new HostsStoreError(
          "ALREADY_EXISTS",
          `duplicate entry: ${input.ipAddress} -> ${input.hostname}`,
        );
      }
    }
    const now = this.#clock();
    const aggregate: Aggregate = {
      id: this.#ids.next(now),
      ipAddress: input.ipAddress,
      hostname: input.hostname,
      comment: input.comment,
      tags,
      aliases,
      createdAtMs: now,
      updatedAtMs: now,
      version: 1,
      deleted: false,
    };
    this.#hosts.set(aggregate.id, aggregate);
    this.#eventCount += 1;
    return toEntry(aggregate);
  }

  /** One live entry by id. */
  getHost(id: string): HostEntry {
    return toEntry(this.#live(id, "get host"));
  }

  /**
   * Applies an update the way the real server does: IP and hostname append
   * an event only when they differ; comment, tags and aliases append one
   * whenever present. Nothing to append → the entry comes back unchanged
   * with no version check. Otherwise the version must match expected_version,
   * which counts as "0" when absent (so it fails for every existing entry).
   * No duplicate check.
   */
  updateHost(input: UpdateHostInput): HostEntry {
    const id = this.#parseId(input.id);
    const expected = this.#parseExpectedVersion(input.expectedVersion) ?? 0n;
    const current = this.#live(id, "update host");
    const next: Aggregate = { ...current, tags: [...current.tags], aliases: [...current.aliases] };
    let events = 0;
    if (input.ipAddress !== undefined && input.ipAddress !== current.ipAddress) {
      validateIp(input.ipAddress);
      next.ipAddress = input.ipAddress;
      events++;
    }
    if (input.hostname !== undefined && input.hostname !== current.hostname) {
      validateHostname(input.hostname);
      next.hostname = input.hostname;
      events++;
    }
    if (input.comment !== undefined) {
      next.comment = input.comment;
      events++;
    }
    if (input.tags !== undefined) {
      next.tags = [...input.tags];
      events++;
    }
    if (input.aliases !== undefined) {
      // Checked against the hostname this same update may have just set.
      validateAliases(input.aliases, next.hostname);
      next.aliases = [...input.aliases];
      events++;
    }
    if (events === 0) return toEntry(current);
    this.#checkVersion(id, expected, current.version);
    next.version = current.version + events;
    next.updatedAtMs = this.#clock();
    this.#hosts.set(id, next);
    this.#eventCount += events;
    return toEntry(next);
  }

  /** Deletes an entry; without expected_version the delete is unconditional. */
  deleteHost(input: DeleteHostInput): void {
    const id = this.#parseId(input.id);
    const expected = this.#parseExpectedVersion(input.expectedVersion);
    const current = this.#live(id, "delete host");
    if (expected !== undefined) this.#checkVersion(id, expected, current.version);
    this.#hosts.set(id, {
      ...current,
      deleted: true,
      version: current.version + 1,
      updatedAtMs: this.#clock(),
    });
    this.#eventCount += 1;
  }

  /** All live entries in id (creation) order; the real ListHosts ignores its filter, limit and offset. */
  listHosts(): HostEntry[] {
    return [...this.#hosts.values()].filter((a) => !a.deleted).sort(byId).map(toEntry);
  }

  /**
   * Case-insensitive substring match over IP, hostname, comment and tags
   * (never aliases), in id order; an empty query returns everything.
   */
  searchHosts(query: string): HostEntry[] {
    if (query === "") return this.listHosts();
    const q = query.toLowerCase();
    return this.listHosts().filter((e) =>
      e.ipAddress.toLowerCase().includes(q) ||
      e.hostname.toLowerCase().includes(q) ||
      (e.comment !== undefined && e.comment.toLowerCase().includes(q)) ||
      e.tags.some((t) => t.toLowerCase().includes(q))
    );
  }

  /** A deep copy of the state, for persistence or for rolling back a failed write. */
  snapshot(): StoreSnapshot {
    return {
      format: SNAPSHOT_FORMAT,
      eventCount: this.#eventCount,
      hosts: [...this.#hosts.values()].sort(byId).map((a) => ({
        id: a.id,
        ipAddress: a.ipAddress,
        hostname: a.hostname,
        comment: a.comment ?? null,
        tags: [...a.tags],
        aliases: [...a.aliases],
        createdAtMs: a.createdAtMs,
        updatedAtMs: a.updatedAtMs,
        version: a.version,
        deleted: a.deleted,
      })),
    };
  }

  /** Replaces the whole state with `snapshot`. */
  restore(snapshot: StoreSnapshot): void {
    this.#hosts = new Map(
      snapshot.hosts.map((h) => [h.id, {
        id: h.id,
        ipAddress: h.ipAddress,
        hostname: h.hostname,
        comment: h.comment ?? undefined,
        tags: [...h.tags],
        aliases: [...h.aliases],
        createdAtMs: h.createdAtMs,
        updatedAtMs: h.updatedAtMs,
        version: h.version,
        deleted: h.deleted,
      }]),
    );
    this.#eventCount = snapshot.eventCount;
  }

  #parseId(text: string): string {
    const parsed = parseUlid(text);
    if ("error" in parsed) {
      throw new HostsStoreError("INVALID_ARGUMENT", `invalid ID ${goQuote(text)}: ${parsed.error}`);
    }
    return parsed.id;
  }

  #live(text: string, operation: string): Aggregate {
    const id = this.#parseId(text);
    const aggregate = this.#hosts.get(id);
    if (aggregate === undefined || aggregate.deleted) {
      throw new HostsStoreError("NOT_FOUND", `${operation}: host ${goQuote(id)} not found`);
    }
    return aggregate;
  }

  #parseExpectedVersion(text: string | undefined): bigint | undefined {
    if (text === undefined) return undefined;
    const parsed = parseGoInt64(text);
    if ("error" in parsed) {
      throw new HostsStoreError(
        "INVALID_ARGUMENT",
        `invalid expected_version ${goQuote(text)}: ${parsed.error}`,
      );
    }
    return parsed.value;
  }

  #checkVersion(id: string, expected: bigint, actual: number): void {
    // The real storage layer treats -1 as "skip the check", and it is
    // reachable from the wire: expected_version "-1" writes unconditionally.
    if (expected === -1n || expected === BigInt(actual)) return;
    throw new HostsStoreError(
      "ABORTED",
      `append event to aggregate ${id}: version conflict on ${id}: expected ${expected}, got ${actual}`,
    );
  }
}

// --- Persistence format ----------------------------------------------------------------

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === "string");
}

function isStoredHost(value: unknown): value is StoredHost {
  if (typeof value !== "object" || value === null) return false;
  const h = value as Record<string, unknown>;
  return typeof h.id === "string" && !("error" in parseUlid(h.id)) &&
    typeof h.ipAddress === "string" && typeof h.hostname === "string" &&
    (h.comment === null || typeof h.comment === "string") &&
    isStringArray(h.tags) && isStringArray(h.aliases) &&
    Number.isSafeInteger(h.createdAtMs) && Number.isSafeInteger(h.updatedAtMs) &&
    Number.isSafeInteger(h.version) && (h.version as number) >= 1 &&
    typeof h.deleted === "boolean";
}

/** Checks that `value` (parsed JSON) is a snapshot this emulator wrote; throws with the reason otherwise. */
export function parseSnapshot(value: unknown): StoreSnapshot {
  if (typeof value !== "object" || value === null) throw new Error("not a JSON object");
  const s = value as Record<string, unknown>;
  if (s.format !== SNAPSHOT_FORMAT) {
    throw new Error(`format is ${JSON.stringify(s.format)}, expected "${SNAPSHOT_FORMAT}"`);
  }
  if (!Number.isSafeInteger(s.eventCount) || (s.eventCount as number) < 0) {
    throw new Error("eventCount is not a non-negative integer");
  }
  if (!Array.isArray(s.hosts)) throw new Error("hosts is not an array");
  const index = s.hosts.findIndex((h) => !isStoredHost(h));
  if (index >= 0) throw new Error(`hosts[${index}] is malformed`);
  return value as StoreSnapshot;
}

// --- Hosts file ------------------------------------------------------------------------

function formatUtc(ms: number): string {
  const iso = new Date(ms).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`;
}

function byteOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Line breaks in comment or tag text become spaces, so they cannot start a new hosts line. */
function oneLine(text: string): string {
  return text.replace(/[\r\n]/g, " ");
}

/**
 * The hosts file as the real server writes it: three comment lines
 * (generator, time, count) and a blank line, then one line per entry sorted
 * by IP text then hostname: `IP<TAB>hostname[ alias...]` with the aliases
 * sorted, then `<TAB># comment [tag1, tag2]` when there is a non-empty
 * comment and/or tags (`# comment`, `# [tags]` when only one is there).
 */
export function renderHostsFile(entries: readonly HostEntry[], nowMs: number): string {
  const lines = [
    "# Generated by router-hosts",
    `# Last updated: ${formatUtc(nowMs)}`,
    `# Entry count: ${entries.length}`,
    "",
  ];
  const sorted = [...entries].sort((a, b) =>
    byteOrder(a.ipAddress, b.ipAddress) || byteOrder(a.hostname, b.hostname)
  );
  for (const e of sorted) {
    let line = `${e.ipAddress}\t${e.hostname}`;
    for (const alias of [...e.aliases].sort(byteOrder)) line += ` ${alias}`;
    const parts: string[] = [];
    if (e.comment !== undefined && e.comment !== "") parts.push(oneLine(e.comment));
    if (e.tags.length > 0) parts.push(`[${e.tags.map(oneLine).join(", ")}]`);
    if (parts.length > 0) line += `\t# ${parts.join(" ")}`;
    lines.push(line);
  }
  return lines.join("\n") + "\n";
}
