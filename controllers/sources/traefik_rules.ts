/**
 * Hostnames from a Traefik router rule (`spec.routes[].match` of an
 * IngressRoute or IngressRouteTCP).
 *
 * The rule language: matchers `Name(arg, ...)` whose arguments are strings in
 * backticks (raw) or double quotes (Go escapes), combined with `&&`, `||`,
 * `!` and parentheses. `Host` (and Traefik v2's `HostHeader`) name the hosts
 * of an HTTP router, `HostSNI` those of a TCP router; Traefik v2 allowed
 * several arguments in one matcher (`Host(`a`, `b`)`). Matcher names are
 * case-insensitive, as in Traefik. Every other matcher (`PathPrefix`,
 * `Header`, `ClientIP`, ...) is parsed and ignored, so a matcher we do not
 * know yet never makes a rule malformed.
 *
 * What is not a single publishable hostname is skipped with a reason: the
 * catch-all `*`, wildcards, regular expressions (`HostRegexp`,
 * `HostSNIRegexp`), IP addresses and names the router-hosts server would
 * refuse. Hosts under an odd number of `!` are excluded by the route, so
 * they produce no entry (and no complaint). A malformed rule never throws:
 * it yields errors and no hosts, because Traefik refuses such a router too.
 *
 * @module
 */
import { hostnameProblem } from "../hosts/hostname.ts";

/** Which matcher names hosts: `Host` for HTTP routers, `HostSNI` for TCP routers. */
export type RuleKind = "http" | "tcp";

/** A value a host matcher named that cannot become a host entry. */
export interface SkippedHost {
  value: string;
  reason: string;
}

/** What one rule yields. */
export interface ParsedRule {
  /** Hostnames to publish, case preserved, de-duplicated case-insensitively, in rule order. */
  hosts: string[];
  /** Values of host matchers that are not publishable hostnames. */
  skipped: SkippedHost[];
  /** Hostnames the rule excludes (`!Host(...)`): no entry. */
  negated: string[];
  /** Why the rule is malformed; when not empty, `hosts` is empty. */
  errors: string[];
}

const HOST_MATCHERS: Record<RuleKind, ReadonlySet<string>> = {
  http: new Set(["host", "hostheader"]),
  tcp: new Set(["hostsni"]),
};
const REGEXP_MATCHERS: Record<RuleKind, ReadonlySet<string>> = {
  http: new Set(["hostregexp"]),
  tcp: new Set(["hostsniregexp"]),
};

/** Deeper nesting than this is refused instead of overflowing the stack. */
const MAX_DEPTH = 200;

const IPV4_LIKE = /^\d{1,3}(\.\d{1,3}){3}$/;

/** Why `value` (an argument of a host matcher) is not publishable, or null. */
function hostValueProblem(value: string, matcher: string): string | null {
  if (value === "*") return `${matcher}(\`*\`) is a catch-all and names no host`;
  if (value.includes("*")) return "wildcard names cannot be published in a hosts file";
  if (IPV4_LIKE.test(value)) return "an IP address, not a hostname";
  const problem = hostnameProblem(value);
  return problem === null ? null : `not a valid hostname: ${problem}`;
}

type Token =
  | { type: "ident"; text: string; pos: number }
  | { type: "string"; text: string; pos: number }
  | { type: "(" | ")" | "," | "&&" | "||" | "!" | "end"; pos: number };

class RuleError extends Error {}

/** Characters of a bare word: matcher names, and unquoted arguments we refuse with a clear message. */
const WORD = /[A-Za-z0-9_.\-:/*]/;
const MATCHER_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function tokenize(rule: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < rule.length) {
    const c = rule[i];
    if (c === " " || c === "\t" || c === "\n" || c === "\r") {
      i++;
    } else if (c === "(" || c === ")" || c === ",") {
      tokens.push({ type: c, pos: i++ });
    } else if (c === "!") {
      tokens.push({ type: "!", pos: i++ });
    } else if (c === "&" || c === "|") {
      if (rule[i + 1] !== c) {
        throw new RuleError(`unexpected "${c}" at position ${i + 1}; expected "${c}${c}"`);
      }
      tokens.push({ type: c === "&" ? "&&" : "||", pos: i });
      i += 2;
    } else if (c === "`") {
      const end = rule.indexOf("`", i + 1);
      if (end < 0) throw new RuleError(`unterminated string starting at position ${i + 1}`);
      tokens.push({ type: "string", text: rule.slice(i + 1, end), pos: i });
      i = end + 1;
    } else if (c === '"') {
      const start = i;
      let text = "";
      i++;
      for (;;) {
        if (i >= rule.length) {
          throw new RuleError(`unterminated string starting at position ${start + 1}`);
        }
        const d = rule[i];
        if (d === '"') break;
        if (d === "\\" && i + 1 < rule.length) {
          const e = rule[i + 1];
          text += e === "n" ? "\n" : e === "t" ? "\t" : e === "r" ? "\r" : e;
          i += 2;
        } else {
          text += d;
          i++;
        }
      }
      tokens.push({ type: "string", text, pos: start });
      i++;
    } else if (WORD.test(c)) {
      const start = i;
      while (i < rule.length && WORD.test(rule[i])) i++;
      tokens.push({ type: "ident", text: rule.slice(start, i), pos: start });
    } else {
      throw new RuleError(`unexpected character ${JSON.stringify(c)} at position ${i + 1}`);
    }
  }
  tokens.push({ type: "end", pos: rule.length });
  return tokens;
}

function describe(t: Token): string {
  if (t.type === "end") return "end of rule";
  if (t.type === "ident") return `"${t.text}"`;
  if (t.type === "string") return `string ${JSON.stringify(t.text)}`;
  return `"${t.type}"`;
}

/** A host-matcher argument found while parsing, with the polarity it appeared under. */
interface Found {
  matcher: string;
  kind: "host" | "regexp";
  value: string;
  negated: boolean;
}

/**
 * Recursive descent over
 *   or    := and ("||" and)*
 *   and   := unary ("&&" unary)*
 *   unary := "!" unary | "(" or ")" | ident "(" string ("," string)* ")"
 */
class Parser {
  readonly #tokens: Token[];
  readonly #kind: RuleKind;
  #at = 0;
  readonly found: Found[] = [];

  constructor(tokens: Token[], kind: RuleKind) {
    this.#tokens = tokens;
    this.#kind = kind;
  }

  get #peek(): Token {
    return this.#tokens[this.#at];
  }

  parse(): void {
    if (this.#peek.type === "end") throw new RuleError("empty rule");
    this.#or(false, 0);
    const t = this.#peek;
    if (t.type === ")") {
      throw new RuleError(`unbalanced parentheses: unexpected ")" at position ${t.pos + 1}`);
    }
    if (t.type !== "end") {
      throw new RuleError(`unexpected ${describe(t)} at position ${t.pos + 1}; expected && or ||`);
    }
  }

  #or(negated: boolean, depth: number): void {
    this.#and(negated, depth);
    while (this.#peek.type === "||") {
      this.#at++;
      this.#and(negated, depth);
    }
  }

  #and(negated: boolean, depth: number): void {
    this.#unary(negated, depth);
    while (this.#peek.type === "&&") {
      this.#at++;
      this.#unary(negated, depth);
    }
  }

  #unary(negated: boolean, depth: number): void {
    if (depth > MAX_DEPTH) throw new RuleError(`rule nested deeper than ${MAX_DEPTH} levels`);
    const t = this.#tokens[this.#at++];
    if (t.type === "!") return this.#unary(!negated, depth + 1);
    if (t.type === "(") {
      this.#or(negated, depth + 1);
      const close = this.#tokens[this.#at++];
      if (close.type !== ")") {
        throw new RuleError(
          `unbalanced parentheses: "(" at position ${t.pos + 1} is not closed (found ${
            describe(close)
          } at position ${close.pos + 1})`,
        );
      }
      return;
    }
    if (t.type === "ident" && MATCHER_NAME.test(t.text)) {
      return this.#matcher(t.text, t.pos, negated);
    }
    if (t.type === ")") {
      throw new RuleError(`unbalanced parentheses: unexpected ")" at position ${t.pos + 1}`);
    }
    throw new RuleError(`expected a matcher at position ${t.pos + 1}, found ${describe(t)}`);
  }

  #matcher(name: string, pos: number, negated: boolean): void {
    const open = this.#tokens[this.#at++];
    if (open.type !== "(") {
      throw new RuleError(
        `expected "(" after ${name} at position ${open.pos + 1}, found ${describe(open)}`,
      );
    }
    const args: string[] = [];
    for (;;) {
      const arg = this.#tokens[this.#at++];
      if (arg.type === ")" && args.length === 0) {
        throw new RuleError(`${name}() at position ${pos + 1} needs at least one argument`);
      }
      if (arg.type === "end") {
        throw new RuleError(
          `unbalanced parentheses: ${name}( at position ${pos + 1} is not closed`,
        );
      }
      if (arg.type !== "string") {
        throw new RuleError(
          `argument of ${name} at position ${arg.pos + 1} must be a quoted string, found ${
            describe(arg)
          }`,
        );
      }
      args.push(arg.text);
      const next = this.#tokens[this.#at++];
      if (next.type === ")") break;
      if (next.type === "end") {
        throw new RuleError(
          `unbalanced parentheses: ${name}( at position ${pos + 1} is not closed`,
        );
      }
      if (next.type !== ",") {
        throw new RuleError(
          `expected "," or ")" in ${name}(...) at position ${next.pos + 1}, found ${
            describe(next)
          }`,
        );
      }
    }
    const lower = name.toLowerCase();
    const kind = HOST_MATCHERS[this.#kind].has(lower)
      ? "host"
      : REGEXP_MATCHERS[this.#kind].has(lower)
      ? "regexp"
      : undefined;
    if (!kind) return;
    for (const value of args) this.found.push({ matcher: name, kind, value, negated });
  }
}

/** Hostnames of one rule; see the module documentation. Never throws. */
export function parseRule(rule: string, kind: RuleKind): ParsedRule {
  const result: ParsedRule = { hosts: [], skipped: [], negated: [], errors: [] };
  let found: Found[];
  try {
    const parser = new Parser(tokenize(rule), kind);
    parser.parse();
    found = parser.found;
  } catch (e) {
    if (!(e instanceof RuleError)) throw e;
    result.errors.push(e.message);
    return result;
  }
  const positive = new Set<string>();
  for (const f of found) {
    if (f.negated) continue;
    // Traefik compares the request's host with the rule's exactly; stray
    // blanks inside the quotes are a typo we forgive, as the Go operator did.
    const value = f.kind === "host" ? f.value.trim() : f.value;
    const problem = f.kind === "regexp"
      ? `${f.matcher} is a regular expression and names no single host`
      : hostValueProblem(value, f.matcher);
    if (problem !== null) {
      if (!result.skipped.some((s) => s.value === value)) {
        result.skipped.push({ value, reason: problem });
      }
    } else if (!positive.has(value.toLowerCase())) {
      positive.add(value.toLowerCase());
      result.hosts.push(value);
    }
  }
  const negated = new Set<string>();
  for (const f of found) {
    const value = f.value.trim();
    const lower = value.toLowerCase();
    if (!f.negated || f.kind !== "host" || positive.has(lower) || negated.has(lower)) continue;
    if (hostValueProblem(value, f.matcher) !== null) continue;
    negated.add(lower);
    result.negated.push(value);
  }
  return result;
}
