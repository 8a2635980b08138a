import { assertEquals, assertMatch, assertOk, assertThrows } from "../../assert.ts";
import {
  aliasesError,
  goQuote,
  type HostEntry,
  hostnameError,
  HostsStore,
  HostsStoreError,
  isValidIp,
  parseGoInt64,
  parseSnapshot,
  parseUlid,
  renderHostsFile,
  UlidGenerator,
} from "./store.ts";

const T0 = Date.UTC(2026, 0, 2, 3, 4, 5, 678);

/** A store with a hand-driven clock and repeatable entropy. */
function fixture() {
  let now = T0;
  let seed = 1;
  const store = new HostsStore({
    clock: () => now,
    randomBytes: (n) =>
      Uint8Array.from({ length: n }, () => (seed = (seed * 75 + 74) % 65537) & 0xff),
  });
  return { store, tick: (ms = 1000) => (now += ms) };
}

/** The failure `fn` throws, checked to be the store's. */
function failure(fn: () => unknown): HostsStoreError {
  const e = assertThrows(fn);
  assertOk(e instanceof HostsStoreError, `expected a HostsStoreError, got ${e}`);
  return e;
}

const VALID_UNKNOWN_ID = "01ARZ3NDEKTSV4RRFFQ69G5FAV";

Deno.test("a new entry has version 1, its own ULID and empty lists when none were given", () => {
  const { store } = fixture();
  const e = store.addHost({ ipAddress: "10.0.0.1", hostname: "a.lan" });
  assertEquals(e.version, 1);
  assertMatch(e.id, /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/);
  assertEquals([e.tags, e.aliases, e.comment], [[], [], undefined]);
  assertEquals([e.createdAtMs, e.updatedAtMs], [T0, T0]);
  assertEquals(store.eventCount, 1);
});

Deno.test("an empty comment is kept as present, unlike an absent one", () => {
  const { store } = fixture();
  assertEquals(
    store.addHost({ ipAddress: "10.0.0.1", hostname: "a.lan", comment: "" }).comment,
    "",
  );
});

Deno.test("one update appends one event per changed IP/hostname and per present comment/tags/aliases", () => {
  const { store, tick } = fixture();
  const e = store.addHost({ ipAddress: "10.0.0.1", hostname: "a.lan", comment: "c", tags: ["t"] });
  tick();
  const u = store.updateHost({
    id: e.id,
    expectedVersion: "1",
    ipAddress: "10.0.0.2",
    hostname: "b.lan",
    comment: "c", // unchanged, still an event
    tags: ["t"], // unchanged, still an event
    aliases: [],
  });
  assertEquals(u.version, 6);
  assertEquals(store.eventCount, 6);
  assertEquals([u.ipAddress, u.hostname, u.createdAtMs, u.updatedAtMs], [
    "10.0.0.2",
    "b.lan",
    T0,
    T0 + 1000,
  ]);
  assertEquals(store.getHost(e.id), u);
});

Deno.test("an IP or hostname equal to the current one appends nothing", () => {
  const { store } = fixture();
  const e = store.addHost({ ipAddress: "10.0.0.1", hostname: "a.lan" });
  const u = store.updateHost({
    id: e.id,
    expectedVersion: "1",
    ipAddress: "10.0.0.1",
    comment: "x",
  });
  assertEquals(u.version, 2);
});

Deno.test("an update that changes nothing returns the entry without any version check", () => {
  const { store, tick } = fixture();
  const e = store.addHost({ ipAddress: "10.0.0.1", hostname: "a.lan" });
  tick();
  for (const expectedVersion of [undefined, "0", "99"]) {
    const u = store.updateHost({
      id: e.id,
      expectedVersion,
      ipAddress: "10.0.0.1",
      hostname: "a.lan",
    });
    assertEquals(u, e);
  }
  assertEquals(store.updateHost({ id: e.id }), e);
  assertEquals(store.eventCount, 1);
});

Deno.test("an update without expected_version is checked as version 0 and fails with ABORTED", () => {
  const { store } = fixture();
  const e = store.addHost({ ipAddress: "10.0.0.1", hostname: "a.lan" });
  const err = failure(() => store.updateHost({ id: e.id, comment: "x" }));
  assertEquals(err.code, "ABORTED");
  assertEquals(
    err.message,
    `append event to aggregate ${e.id}: version conflict on ${e.id}: expected 0, got 1`,
  );
  assertEquals([store.getHost(e.id).version, store.eventCount], [1, 1]);
});

Deno.test("a stale expected_version fails with ABORTED naming both versions", () => {
  const { store } = fixture();
  const e = store.addHost({ ipAddress: "10.0.0.1", hostname: "a.lan" });
  store.updateHost({ id: e.id, expectedVersion: "1", comment: "x", tags: [] });
  const err = failure(() => store.updateHost({ id: e.id, expectedVersion: "1", comment: "y" }));
  assertEquals(err.code, "ABORTED");
  assertMatch(err.message, /version conflict on \w+: expected 1, got 3$/);
});

Deno.test("expected_version is compared as an integer: '+01' matches 1 and '-1' skips the check", () => {
  const { store } = fixture();
  const e = store.addHost({ ipAddress: "10.0.0.1", hostname: "a.lan" });
  assertEquals(store.updateHost({ id: e.id, expectedVersion: "+01", comment: "x" }).version, 2);
  // The real storage layer's "unconditional" marker is reachable from the wire.
  assertEquals(store.updateHost({ id: e.id, expectedVersion: "-1", comment: "y" }).version, 3);
});

Deno.test("a non-integer expected_version is INVALID_ARGUMENT with Go's ParseInt text", () => {
  const { store } = fixture();
  const e = store.addHost({ ipAddress: "10.0.0.1", hostname: "a.lan" });
  const bad = failure(() => store.updateHost({ id: e.id, expectedVersion: "v1", comment: "x" }));
  assertEquals([bad.code, bad.message], [
    "INVALID_ARGUMENT",
    'invalid expected_version "v1": strconv.ParseInt: parsing "v1": invalid syntax',
  ]);
  const big = failure(() => store.deleteHost({ id: e.id, expectedVersion: "9223372036854775808" }));
  assertEquals(
    big.message,
    'invalid expected_version "9223372036854775808": strconv.ParseInt: parsing "9223372036854775808": value out of range',
  );
  const empty = failure(() => store.updateHost({ id: e.id, expectedVersion: "" }));
  assertEquals(empty.code, "INVALID_ARGUMENT");
});

Deno.test("invalid update fields are INVALID_ARGUMENT and append nothing", () => {
  const { store } = fixture();
  const e = store.addHost({ ipAddress: "10.0.0.1", hostname: "a.lan" });
  const cases: [Parameters<HostsStore["updateHost"]>[0], string][] = [
    [{ id: e.id, expectedVersion: "1", ipAddress: "10.0.0.300" }, "invalid IP address: 10.0.0.300"],
    [
      { id: e.id, expectedVersion: "1", hostname: "a..lan" },
      "hostname cannot contain consecutive dots",
    ],
    [
      { id: e.id, expectedVersion: "1", hostname: "b.lan", aliases: ["B.LAN"] },
      "validation failed: alias validation: alias 'B.LAN' matches canonical hostname",
    ],
  ];
  for (const [input, message] of cases) {
    const err = failure(() => store.updateHost(input));
    assertEquals([err.code, err.message], ["INVALID_ARGUMENT", message]);
  }
  assertEquals([store.getHost(e.id), store.eventCount], [e, 1]);
});

Deno.test("validation comes before the version check", () => {
  const { store } = fixture();
  const e = store.addHost({ ipAddress: "10.0.0.1", hostname: "a.lan" });
  assertEquals(
    failure(() => store.updateHost({ id: e.id, ipAddress: "nope" })).code,
    "INVALID_ARGUMENT",
  );
});

Deno.test("UpdateHost does not check for duplicates", () => {
  const { store } = fixture();
  store.addHost({ ipAddress: "10.0.0.1", hostname: "a.lan" });
  const b = store.addHost({ ipAddress: "10.0.0.2", hostname: "a.lan" });
  const u = store.updateHost({ id: b.id, expectedVersion: "1", ipAddress: "10.0.0.1" });
  assertEquals([u.ipAddress, u.hostname], ["10.0.0.1", "a.lan"]);
  assertEquals(store.listHosts().length, 2);
});

Deno.test("adding a live IP+hostname pair again is ALREADY_EXISTS", () => {
  const { store } = fixture();
  store.addHost({ ipAddress: "10.0.0.1", hostname: "a.lan" });
  const err = failure(() =>
    store.addHost({ ipAddress: "10.0.0.1", hostname: "a.lan", comment: "other" })
  );
  assertEquals([err.code, err.message], ["ALREADY_EXISTS", "duplicate entry: 10.0.0.1 -> a.lan"]);
  assertEquals(store.eventCount, 1);
});

Deno.test("same hostname with another IP, other case, an alias naming another host, or a deleted pair are allowed", () => {
  const { store } = fixture();
  const a = store.addHost({ ipAddress: "10.0.0.1", hostname: "a.lan" });
  store.addHost({ ipAddress: "10.0.0.2", hostname: "a.lan" });
  store.addHost({ ipAddress: "10.0.0.1", hostname: "A.lan" }); // exact, case-sensitive comparison
  store.addHost({ ipAddress: "10.0.0.3", hostname: "c.lan", aliases: ["a.lan"] });
  store.deleteHost({ id: a.id });
  store.addHost({ ipAddress: "10.0.0.1", hostname: "a.lan" });
  assertEquals(store.listHosts().length, 4);
});

Deno.test("add validates IP, hostname and aliases in that order", () => {
  const { store } = fixture();
  const cases: [Parameters<HostsStore["addHost"]>[0], string][] = [
    [{ ipAddress: "", hostname: "" }, "invalid IP address: "],
    [{ ipAddress: "10.0.0.1", hostname: "" }, "hostname cannot be empty"],
    [{ ipAddress: "10.0.0.1", hostname: "bad_name.lan" }, "invalid label 'bad_name' in hostname"],
    [
      { ipAddress: "10.0.0.1", hostname: "a.lan", aliases: ["::1"] },
      "validation failed: alias validation: alias '::1' cannot be an IP address",
    ],
  ];
  for (const [input, message] of cases) {
    const err = failure(() => store.addHost(input));
    assertEquals([err.code, err.message], ["INVALID_ARGUMENT", message]);
  }
  assertEquals(store.eventCount, 0);
});

Deno.test("a malformed id is INVALID_ARGUMENT, an unknown or deleted one NOT_FOUND with the method's prefix", () => {
  const { store } = fixture();
  const short = failure(() => store.getHost("nope"));
  assertEquals([short.code, short.message], [
    "INVALID_ARGUMENT",
    'invalid ID "nope": ulid: bad data size when unmarshaling',
  ]);
  const overflow = failure(() => store.deleteHost({ id: "8" + VALID_UNKNOWN_ID.slice(1) }));
  assertEquals(
    overflow.message,
    `invalid ID "8${VALID_UNKNOWN_ID.slice(1)}": ulid: overflow when unmarshaling`,
  );
  assertEquals(failure(() => store.getHost("")).code, "INVALID_ARGUMENT");

  const unknown = (fn: () => unknown, prefix: string) => {
    const err = failure(fn);
    assertEquals([err.code, err.message], [
      "NOT_FOUND",
      `${prefix}: host "${VALID_UNKNOWN_ID}" not found`,
    ]);
  };
  unknown(() => store.getHost(VALID_UNKNOWN_ID), "get host");
  unknown(() => store.updateHost({ id: VALID_UNKNOWN_ID, comment: "x" }), "update host");
  unknown(() => store.deleteHost({ id: VALID_UNKNOWN_ID }), "delete host");

  const e = store.addHost({ ipAddress: "10.0.0.1", hostname: "a.lan" });
  store.deleteHost({ id: e.id });
  assertEquals(failure(() => store.getHost(e.id)).message, `get host: host "${e.id}" not found`);
  assertEquals(failure(() => store.deleteHost({ id: e.id })).code, "NOT_FOUND");
});

Deno.test("ids parse leniently like the real server: lower case finds the entry, odd symbols are NOT_FOUND", () => {
  const { store } = fixture();
  const e = store.addHost({ ipAddress: "10.0.0.1", hostname: "a.lan" });
  assertEquals(store.getHost(e.id.toLowerCase()).id, e.id);
  const odd = "0" + "U".repeat(25); // 'U' is not in the alphabet but is not rejected
  const err = failure(() => store.getHost(odd));
  assertEquals(err.code, "NOT_FOUND");
  assertMatch(err.message, /^get host: host "[0-7][0-9A-HJKMNP-TV-Z]{25}" not found$/);
});

Deno.test("parseUlid round-trips generated ids and decodes invalid symbols like the Go decoder", () => {
  const ids = new UlidGenerator((n) => new Uint8Array(n).fill(0xab));
  for (const ms of [0, 1, T0, 2 ** 48 - 1]) {
    const id = ids.next(ms);
    assertEquals(parseUlid(id), { id });
  }
  // Every symbol 0xFF: each byte collects all-ones bits, so the id is the maximum.
  assertEquals(parseUlid("!".repeat(26)), { id: "7" + "Z".repeat(25) });
});

Deno.test("ids made in the same millisecond still sort in creation order", () => {
  const ids = new UlidGenerator((n) => crypto.getRandomValues(new Uint8Array(n)));
  const made = Array.from({ length: 50 }, () => ids.next(T0));
  assertEquals([...made].sort(), made);
  assertEquals(new Set(made).size, 50);
});

Deno.test("delete without expected_version is unconditional; with one it must match", () => {
  const { store } = fixture();
  const a = store.addHost({ ipAddress: "10.0.0.1", hostname: "a.lan" });
  const b = store.addHost({ ipAddress: "10.0.0.2", hostname: "b.lan" });
  store.deleteHost({ id: a.id });
  const err = failure(() => store.deleteHost({ id: b.id, expectedVersion: "2" }));
  assertEquals([err.code, err.message], [
    "ABORTED",
    `append event to aggregate ${b.id}: version conflict on ${b.id}: expected 2, got 1`,
  ]);
  store.deleteHost({ id: b.id, expectedVersion: "1" });
  assertEquals(store.listHosts(), []);
});

Deno.test("delete appends one event: the deleted entry's version grows by one", () => {
  const { store } = fixture();
  const e = store.addHost({ ipAddress: "10.0.0.1", hostname: "a.lan" });
  store.updateHost({ id: e.id, expectedVersion: "1", comment: "x" });
  store.deleteHost({ id: e.id });
  assertEquals(store.eventCount, 3);
  assertEquals(store.snapshot().hosts[0].version, 3);
  assertEquals(store.snapshot().hosts[0].deleted, true);
});

Deno.test("list returns live entries in creation order", () => {
  const { store, tick } = fixture();
  const names = ["z.lan", "a.lan", "m.lan"];
  const ids = names.map((hostname, i) => {
    tick();
    return store.addHost({ ipAddress: `10.0.0.${9 - i}`, hostname }).id;
  });
  store.deleteHost({ id: ids[1] });
  assertEquals(store.listHosts().map((e) => e.hostname), ["z.lan", "m.lan"]);
});

Deno.test("search is a case-insensitive substring match over IP, hostname, comment and tags, not aliases", () => {
  const { store } = fixture();
  store.addHost({ ipAddress: "10.0.0.1", hostname: "Web.lan", aliases: ["portal.lan"] });
  store.addHost({ ipAddress: "192.168.1.10", hostname: "db.lan", comment: "Primary DB" });
  store.addHost({ ipAddress: "10.0.0.3", hostname: "cache.lan", tags: ["Team-Web"] });
  const hits = (q: string) => store.searchHosts(q).map((e) => e.hostname);
  assertEquals(hits("WEB"), ["Web.lan", "cache.lan"]);
  assertEquals(hits("primary"), ["db.lan"]);
  assertEquals(hits("168.1"), ["db.lan"]);
  assertEquals(hits("portal"), []);
  assertEquals(hits("lan"), ["Web.lan", "db.lan", "cache.lan"]);
  assertEquals(hits(""), ["Web.lan", "db.lan", "cache.lan"]);
});

Deno.test("IP addresses are accepted exactly as Go's net.ParseIP accepts them", () => {
  const valid = [
    "0.0.0.0",
    "10.0.0.1",
    "255.255.255.255",
    "::",
    "::1",
    "1::",
    "fe80::1",
    "2001:DB8::1",
    "1:2:3:4:5:6:7:8",
    "1:2:3:4:5:6:7::",
    "::ffff:10.0.0.1",
    "1:2:3:4:5:6:1.2.3.4",
    "::1.2.3.4",
  ];
  const invalid = [
    "",
    "10.0.0",
    "10.0.0.1.",
    "010.0.0.1",
    "10.0.0.256",
    " 10.0.0.1",
    "10.0.0.1/24",
    "1.2.3.4:80",
    "fe80::1%eth0",
    ":::",
    "1:::2",
    "1::2::3",
    ":1::",
    "1:2:3:4:5:6:7:8:9",
    "1:2:3:4:5:6:7",
    "1:2:3:4:5:6:7:8::",
    "12345::",
    "1.2.3.4::",
    "::1.2.3.4:5",
    "1:2:3:4:5:6:7:1.2.3.4",
    "::ffff:010.0.0.1",
    "localhost",
  ];
  for (const ip of valid) assertOk(isValidIp(ip), `${ip} should be valid`);
  for (const ip of invalid) assertOk(!isValidIp(ip), `${ip} should be invalid`);
});

Deno.test("hostnames follow the real server's rules and messages", () => {
  assertEquals(hostnameError("a.b-c.lan"), null);
  assertEquals(hostnameError("x".repeat(63) + ".lan"), null);
  assertEquals(hostnameError("-a.lan"), "hostname cannot start or end with hyphen");
  assertEquals(hostnameError("a.lan."), "hostname cannot start or end with dot");
  assertEquals(hostnameError("a-.lan"), "invalid label 'a-' in hostname");
  assertEquals(
    hostnameError("x".repeat(64) + ".lan"),
    `invalid label '${"x".repeat(64)}' in hostname`,
  );
  assertEquals(
    hostnameError("a.".repeat(127) + "a"),
    "hostname exceeds maximum length of 253 characters",
  );
  assertEquals(hostnameError("é.lan"), "invalid label 'é' in hostname");
});

Deno.test("aliases follow the real server's rules and report the first violation", () => {
  assertEquals(aliasesError(["www.lan", "api.lan"], "a.lan"), null);
  assertEquals(
    aliasesError(Array.from({ length: 51 }, (_, i) => `h${i}.lan`), "a.lan"),
    "too many aliases: 51 exceeds maximum of 50",
  );
  assertEquals(aliasesError(["10.0.0.1"], "a.lan"), "alias '10.0.0.1' cannot be an IP address");
  assertEquals(
    aliasesError(["a_b"], "a.lan"),
    "invalid alias 'a_b': invalid label 'a_b' in hostname",
  );
  assertEquals(aliasesError(["A.LAN"], "a.lan"), "alias 'A.LAN' matches canonical hostname");
  assertEquals(aliasesError(["w.lan", "W.lan"], "a.lan"), "duplicate alias 'W.lan' in entry");
});

Deno.test("Go-compatible quoting and integer parsing", () => {
  assertEquals(goQuote('a"b\\c\n\t\x01é'), '"a\\"b\\\\c\\n\\t\\x01é"');
  assertEquals(parseGoInt64("-42"), { value: -42n });
  assertEquals(parseGoInt64("1_000"), {
    error: 'strconv.ParseInt: parsing "1_000": invalid syntax',
  });
});

Deno.test("a snapshot restores entries, ids, versions, deletions and the event count", () => {
  const { store } = fixture();
  const a = store.addHost({ ipAddress: "10.0.0.1", hostname: "a.lan", comment: "c", tags: ["t"] });
  const b = store.addHost({ ipAddress: "10.0.0.2", hostname: "b.lan" });
  store.updateHost({ id: a.id, expectedVersion: "1", aliases: ["w.lan"] });
  store.deleteHost({ id: b.id });
  const json = JSON.parse(JSON.stringify(store.snapshot()));
  const again = new HostsStore({ snapshot: parseSnapshot(json) });
  assertEquals(again.listHosts(), store.listHosts());
  assertEquals(again.eventCount, 4);
  assertEquals(failure(() => again.getHost(b.id)).code, "NOT_FOUND");
  assertEquals(again.updateHost({ id: a.id, expectedVersion: "2", comment: "d" }).version, 3);
});

Deno.test("restore rolls the store back to an earlier snapshot", () => {
  const { store } = fixture();
  const before = store.snapshot();
  store.addHost({ ipAddress: "10.0.0.1", hostname: "a.lan" });
  store.restore(before);
  assertEquals([store.listHosts(), store.eventCount], [[], 0]);
});

Deno.test("parseSnapshot refuses files it did not write", () => {
  for (
    const bad of [
      null,
      [],
      { format: "other", eventCount: 0, hosts: [] },
      { format: "router-hosts-emulator/1", eventCount: -1, hosts: [] },
      { format: "router-hosts-emulator/1", eventCount: 0, hosts: [{ id: "x" }] },
    ]
  ) {
    assertThrows(() => parseSnapshot(bad));
  }
});

function entry(fields: Partial<HostEntry> & Pick<HostEntry, "ipAddress" | "hostname">): HostEntry {
  return {
    id: VALID_UNKNOWN_ID,
    tags: [],
    aliases: [],
    createdAtMs: T0,
    updatedAtMs: T0,
    version: 1,
    ...fields,
  };
}

Deno.test("the hosts file has the header, then entries sorted by IP text and hostname", () => {
  const text = renderHostsFile([
    entry({ ipAddress: "10.0.0.9", hostname: "b.lan" }),
    entry({ ipAddress: "10.0.0.10", hostname: "z.lan" }),
    entry({ ipAddress: "10.0.0.9", hostname: "a.lan", aliases: ["y.lan", "x.lan"] }),
  ], T0);
  assertEquals(
    text,
    [
      "# Generated by router-hosts",
      "# Last updated: 2026-01-02 03:04:05 UTC",
      "# Entry count: 3",
      "",
      "10.0.0.10\tz.lan",
      "10.0.0.9\ta.lan x.lan y.lan",
      "10.0.0.9\tb.lan",
      "",
    ].join("\n"),
  );
});

Deno.test("the hosts file renders comment and tags, either alone, and never an empty comment", () => {
  const lines = renderHostsFile([
    entry({
      ipAddress: "10.0.0.1",
      hostname: "a.lan",
      comment: "web server",
      tags: ["k8s", "prod"],
    }),
    entry({ ipAddress: "10.0.0.2", hostname: "b.lan", comment: "only comment" }),
    entry({ ipAddress: "10.0.0.3", hostname: "c.lan", tags: ["only-tags"] }),
    entry({ ipAddress: "10.0.0.4", hostname: "d.lan", comment: "" }),
    entry({ ipAddress: "10.0.0.5", hostname: "e.lan", comment: "two\nlines", tags: ["t\r1"] }),
  ], T0).split("\n").slice(4, -1);
  assertEquals(lines, [
    "10.0.0.1\ta.lan\t# web server [k8s, prod]",
    "10.0.0.2\tb.lan\t# only comment",
    "10.0.0.3\tc.lan\t# [only-tags]",
    "10.0.0.4\td.lan",
    "10.0.0.5\te.lan\t# two lines [t 1]",
  ]);
});

Deno.test("an empty hosts file is just the header", () => {
  assertEquals(
    renderHostsFile([], T0),
    "# Generated by router-hosts\n# Last updated: 2026-01-02 03:04:05 UTC\n# Entry count: 0\n\n",
  );
});
