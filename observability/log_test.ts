import { assertEquals, assertMatch, assertOk } from "../tests/assert.ts";
import { Logger, MAX_LOG_ITEMS, MAX_LOG_TEXT } from "./log.ts";

Deno.test("logger writes one JSON object per line with bound fields and error messages", () => {
  const lines: string[] = [];
  const log = new Logger({ level: "info", sink: (l) => lines.push(l) }).with({ controller: "hm" });
  log.debug("hidden");
  log.info("synced", { key: "ns/a", hostId: "01H", skipped: undefined });
  log.error("failed", { error: new Error("boom") });
  assertEquals(lines.length, 2);
  const first = JSON.parse(lines[0]);
  assertEquals([first.level, first.msg, first.controller, first.key, first.hostId], [
    "info",
    "synced",
    "hm",
    "ns/a",
    "01H",
  ]);
  assertEquals("skipped" in first, false);
  assertEquals(JSON.parse(lines[1]).error, "boom");
});

Deno.test("a line stays bounded: long texts and long lists are cut, saying how much", () => {
  const lines: string[] = [];
  const log = new Logger({ sink: (l) => lines.push(l) });
  log.warn("x".repeat(100_000), {
    rule: "é".repeat(100_000),
    hostnames: Array.from({ length: 5000 }, (_, i) => `h${i}.lan`),
    error: new Error("y".repeat(50_000)),
  });
  assertOk(lines[0].length < 4 * MAX_LOG_TEXT + 2000, `${lines[0].length} characters`);
  const line = JSON.parse(lines[0]);
  assertMatch(line.msg, /^x{8192}… \(91808 more characters\)$/);
  assertMatch(line.rule, /^é{8192}… \(91808 more characters\)$/);
  assertEquals(line.hostnames.length, MAX_LOG_ITEMS + 1);
  assertEquals(line.hostnames.at(-1), "… and 4900 more");
  assertMatch(line.error, /^y{8192}… \(41808 more characters\)$/);
});
