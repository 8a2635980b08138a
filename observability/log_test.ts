import { assertEquals } from "../tests/assert.ts";
import { Logger } from "./log.ts";

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
