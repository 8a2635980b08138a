import { assertEquals, assertMatch, assertOk } from "../../tests/assert.ts";
import { parseRule, type RuleKind } from "./traefik_rules.ts";

interface Case {
  name: string;
  rule: string;
  kind?: RuleKind;
  hosts?: string[];
  /** Values skipped, each with a pattern its reason must match. */
  skipped?: Array<[string, RegExp]>;
  negated?: string[];
  /** The rule is malformed: one error matching this. */
  error?: RegExp;
}

const B = "`";
const q = (s: string) => `${B}${s}${B}`;

const cases: Case[] = [
  // Plain hosts.
  { name: "single Host", rule: `Host(${q("a.example.com")})`, hosts: ["a.example.com"] },
  { name: "double-quoted Host", rule: `Host("a.example.com")`, hosts: ["a.example.com"] },
  {
    name: "double-quoted with escapes",
    rule: `Host("a\\.b.example.com")`,
    hosts: ["a.b.example.com"],
  },
  { name: "single-label host", rule: `Host(${q("nas")})`, hosts: ["nas"] },
  {
    name: "reserved names are skipped with the reason",
    rule: `Host(${q("localhost")}, ${q("ip6-allnodes")}, ${q("a.lan")})`,
    hosts: ["a.lan"],
    skipped: [["localhost", /reserved name/], ["ip6-allnodes", /reserved name/]],
  },
  { name: "case preserved", rule: `Host(${q("Web.Example.COM")})`, hosts: ["Web.Example.COM"] },
  {
    name: "matcher name is case-insensitive",
    rule: `host(${q("a.lan")}) || HOST(${q("b.lan")})`,
    hosts: ["a.lan", "b.lan"],
  },
  {
    name: "v2 multiple arguments",
    rule: `Host(${q("a.lan")}, ${q("b.lan")},${q("c.lan")})`,
    hosts: ["a.lan", "b.lan", "c.lan"],
  },
  {
    name: "mixed quoting in one matcher",
    rule: `Host(${q("a.lan")}, "b.lan")`,
    hosts: ["a.lan", "b.lan"],
  },
  { name: "v2 HostHeader", rule: `HostHeader(${q("h.lan")})`, hosts: ["h.lan"] },
  // Combinations.
  {
    name: "Host && PathPrefix",
    rule: `Host(${q("a.lan")}) && PathPrefix(${q("/api")})`,
    hosts: ["a.lan"],
  },
  {
    name: "Host || Host",
    rule: `Host(${q("a.lan")}) || Host(${q("b.lan")})`,
    hosts: ["a.lan", "b.lan"],
  },
  {
    name: "parenthesised or inside and",
    rule: `(Host(${q("a.lan")}) || Host(${q("b.lan")})) && Path(${q("/x")})`,
    hosts: ["a.lan", "b.lan"],
  },
  {
    name: "nested parentheses",
    rule: `((Host(${q("a.lan")})) && ((Method(${q("GET")}))))`,
    hosts: ["a.lan"],
  },
  {
    name: "other matchers with several arguments",
    rule: `Header(${q("X-A")}, ${q("1")}) && Host(${q("a.lan")}) && ClientIP(${q("10.0.0.0/8")})`,
    hosts: ["a.lan"],
  },
  {
    name: "unknown matcher is ignored, not an error",
    rule: `SomeFutureMatcher(${q("x")}) && Host(${q("a.lan")})`,
    hosts: ["a.lan"],
  },
  {
    name: "whitespace, tabs and newlines",
    rule: `  Host (\t${q("a.lan")} ,\n ${q("b.lan")} )\n&&\tPathPrefix( ${q("/")} )  `,
    hosts: ["a.lan", "b.lan"],
  },
  {
    name: "blanks inside the quotes are trimmed",
    rule: `Host(${q("  a.lan ")})`,
    hosts: ["a.lan"],
  },
  {
    name: "duplicates collapse case-insensitively, first spelling kept",
    rule: `Host(${q("A.lan")}) || Host(${q("a.lan")}) || Host(${q("b.lan")}, ${q("A.LAN")})`,
    hosts: ["A.lan", "b.lan"],
  },
  { name: "no host matcher at all", rule: `PathPrefix(${q("/")})`, hosts: [] },
  // Negation.
  { name: "negated host gives no entry", rule: `!Host(${q("a.lan")})`, negated: ["a.lan"] },
  {
    name: "negated group",
    rule: `PathPrefix(${q("/")}) && !(Host(${q("a.lan")}) || Host(${q("b.lan")}))`,
    negated: ["a.lan", "b.lan"],
  },
  { name: "double negation is positive", rule: `!!Host(${q("a.lan")})`, hosts: ["a.lan"] },
  {
    name: "positive wins over negated",
    rule: `Host(${q("a.lan")}) || !Host(${q("a.lan")}, ${q("b.lan")})`,
    hosts: ["a.lan"],
    negated: ["b.lan"],
  },
  {
    name: "negated invalid value is neither host nor complaint",
    rule: `Host(${q("a.lan")}) && !HostRegexp(${q(".*")}) && !Host(${q("*.x")})`,
    hosts: ["a.lan"],
  },
  // TCP.
  { name: "HostSNI on tcp", rule: `HostSNI(${q("db.lan")})`, kind: "tcp", hosts: ["db.lan"] },
  {
    name: "HostSNI catch-all skipped",
    rule: `HostSNI(${q("*")})`,
    kind: "tcp",
    skipped: [["*", /catch-all/]],
  },
  {
    name: "HostSNI with ALPN and several names",
    rule: `HostSNI(${q("a.lan")}, ${q("b.lan")}) && ALPN(${q("h2")})`,
    kind: "tcp",
    hosts: ["a.lan", "b.lan"],
  },
  {
    name: "HostSNIRegexp skipped",
    rule: `HostSNIRegexp(${q("^.+\\.lan$")})`,
    kind: "tcp",
    skipped: [["^.+\\.lan$", /regular expression/]],
  },
  {
    name: "Host is not a TCP host matcher",
    rule: `Host(${q("a.lan")}) || HostSNI(${q("b.lan")})`,
    kind: "tcp",
    hosts: ["b.lan"],
  },
  {
    name: "HostSNI is not an HTTP host matcher",
    rule: `HostSNI(${q("b.lan")}) || Host(${q("a.lan")})`,
    hosts: ["a.lan"],
  },
  // Skipped values.
  {
    name: "HostRegexp skipped",
    rule: `HostRegexp(${q("{sub:[a-z]+}.example.com")})`,
    skipped: [["{sub:[a-z]+}.example.com", /regular expression/]],
  },
  {
    name: "wildcard skipped, sibling kept",
    rule: `Host(${q("*.example.com")}, ${q("www.example.com")})`,
    hosts: ["www.example.com"],
    skipped: [["*.example.com", /wildcard/]],
  },
  { name: "Host catch-all skipped", rule: `Host(${q("*")})`, skipped: [["*", /catch-all/]] },
  {
    name: "underscore is refused by the server's label rule",
    rule: `Host(${q("my_host.lan")})`,
    skipped: [["my_host.lan", /invalid label 'my_host'/]],
  },
  {
    name: "label starting with a hyphen",
    rule: `Host(${q("a.-b.lan")})`,
    skipped: [["a.-b.lan", /invalid label '-b'/]],
  },
  {
    name: "trailing dot",
    rule: `Host(${q("a.lan.")})`,
    skipped: [["a.lan.", /start or end with dot/]],
  },
  {
    name: "consecutive dots",
    rule: `Host(${q("a..lan")})`,
    skipped: [["a..lan", /consecutive dots/]],
  },
  {
    name: "64-character label",
    rule: `Host(${q(`${"x".repeat(64)}.lan`)})`,
    skipped: [[`${"x".repeat(64)}.lan`, /invalid label/]],
  },
  {
    name: "63-character label is fine",
    rule: `Host(${q(`${"x".repeat(63)}.lan`)})`,
    hosts: [`${"x".repeat(63)}.lan`],
  },
  {
    name: "longer than 253 characters",
    rule: `Host(${q(`${"a".repeat(60)}.`.repeat(5) + "lan")})`,
    skipped: [[`${"a".repeat(60)}.`.repeat(5) + "lan", /253/]],
  },
  {
    name: "non-ASCII name",
    rule: `Host(${q("bücher.lan")})`,
    skipped: [["bücher.lan", /invalid label/]],
  },
  {
    name: "port is not part of a hostname",
    rule: `Host(${q("a.lan:8080")})`,
    skipped: [["a.lan:8080", /invalid label/]],
  },
  {
    name: "IPv4 address skipped",
    rule: `Host(${q("10.0.0.1")})`,
    skipped: [["10.0.0.1", /IP address/]],
  },
  { name: "empty string argument", rule: `Host(${q("")})`, skipped: [["", /cannot be empty/]] },
  // Malformed rules.
  { name: "empty rule", rule: "", error: /empty rule/ },
  { name: "blank rule", rule: "   \n ", error: /empty rule/ },
  { name: "empty Host()", rule: "Host()", error: /needs at least one argument/ },
  { name: "unterminated backtick", rule: "Host(`a.lan)", error: /unterminated string/ },
  { name: "unterminated double quote", rule: 'Host("a.lan)', error: /unterminated string/ },
  { name: "missing closing paren of matcher", rule: `Host(${q("a.lan")}`, error: /not closed/ },
  {
    name: "missing closing paren of group",
    rule: `(Host(${q("a.lan")}) && Path(${q("/")})`,
    error: /unbalanced parentheses/,
  },
  { name: "extra closing paren", rule: `Host(${q("a.lan")}))`, error: /unbalanced.*"\)"/ },
  { name: "unquoted argument", rule: "Host(a.lan)", error: /must be a quoted string/ },
  { name: "single quotes", rule: "Host('a.lan')", error: /unexpected character/ },
  { name: "single ampersand", rule: `Host(${q("a")}) & Path(${q("/")})`, error: /"&&"/ },
  { name: "dangling operator", rule: `Host(${q("a.lan")}) &&`, error: /expected a matcher/ },
  {
    name: "two matchers without operator",
    rule: `Host(${q("a")}) Path(${q("/")})`,
    error: /expected && or \|\|/,
  },
  { name: "trailing comma", rule: `Host(${q("a.lan")},)`, error: /must be a quoted string/ },
  {
    name: "missing comma",
    rule: `Host(${q("a.lan")} ${q("b.lan")})`,
    error: /expected "," or "\)"/,
  },
  { name: "matcher without parentheses", rule: "Host", error: /expected "\(" after Host/ },
  { name: "garbage", rule: "#!@$%", error: /unexpected character/ },
  { name: "a bare string", rule: q("a.lan"), error: /expected a matcher/ },
  { name: "pathological nesting", rule: "(".repeat(10_000) + q("a"), error: /nested deeper/ },
  {
    name: "a malformed rule yields no hosts even when some parsed",
    rule: `Host(${q("a.lan")}) || Host(${q("b.lan")}`,
    error: /not closed/,
  },
];

for (const c of cases) {
  Deno.test(`parseRule: ${c.name}`, () => {
    const r = parseRule(c.rule, c.kind ?? "http");
    if (c.error) {
      assertEquals(r.errors.length, 1, `errors: ${JSON.stringify(r.errors)}`);
      assertMatch(r.errors[0], c.error);
      assertEquals(r.hosts, []);
      return;
    }
    assertEquals(r.errors, []);
    assertEquals(r.hosts, c.hosts ?? []);
    assertEquals(r.negated, c.negated ?? []);
    assertEquals(r.skipped.map((s) => s.value), (c.skipped ?? []).map(([v]) => v));
    for (const [i, [, reason]] of (c.skipped ?? []).entries()) {
      assertMatch(r.skipped[i].reason, reason);
    }
  });
}

Deno.test("parseRule has at least 40 table cases", () => {
  assertOk(cases.length >= 40, `${cases.length} cases`);
});

Deno.test("parseRule never throws on arbitrary input", () => {
  const alphabet = [
    "Host",
    "HostSNI",
    "(",
    ")",
    ",",
    "&&",
    "||",
    "!",
    "`a.lan`",
    '"b"',
    " ",
    "`",
    '"',
    "&",
    "|",
    "x",
  ];
  let seed = 42;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let n = 0; n < 2000; n++) {
    const parts = Array.from(
      { length: Math.floor(rand() * 12) },
      () => alphabet[Math.floor(rand() * alphabet.length)],
    );
    const rule = parts.join("");
    for (const kind of ["http", "tcp"] as const) {
      const r = parseRule(rule, kind);
      assertOk(Array.isArray(r.hosts) && Array.isArray(r.errors), rule);
      if (r.errors.length > 0) assertEquals(r.hosts, [], rule);
    }
  }
});
