/**
 * Micro-benchmarks of the Traefik rule parser (`deno bench bench/rules_bench.ts`).
 */
import { parseRule } from "../controllers/sources/traefik_rules.ts";

const SIMPLE = "Host(`app.home.arpa`)";
const COMBINED =
  '(Host(`a.home.arpa`) || Host("b.home.arpa", `c.home.arpa`)) && PathPrefix(`/api`) && !Header(`X-Debug`, `1`)';
const TCP = "HostSNI(`db.home.arpa`) || HostSNI(`*`)";
const MANY = `Host(${Array.from({ length: 200 }, (_, i) => `\`h${i}.bulk.lan\``).join(", ")})`;
const MALFORMED = "Host(`a.lan`) && (PathPrefix(`/x`";

Deno.bench("parse: one Host", () => {
  parseRule(SIMPLE, "http");
});
Deno.bench("parse: Host with ||, &&, !, quotes and other matchers", () => {
  parseRule(COMBINED, "http");
});
Deno.bench("parse: HostSNI with a catch-all", () => {
  parseRule(TCP, "tcp");
});
Deno.bench("parse: one Host with 200 names", () => {
  parseRule(MANY, "http");
});
Deno.bench("parse: malformed (unbalanced parenthesis)", () => {
  parseRule(MALFORMED, "http");
});
