import { assertEquals, assertMatch, assertThrows } from "../../assert.ts";
import { parseJitterMs, regenerator } from "./regenerate.ts";

Deno.test("regenerator: two overlapping writes whose regenerations finish out of order leave the file without the later commit", async () => {
  const committed: string[] = [];
  const files: string[][] = [];
  const delays = [1, 0]; // the first regeneration waits the longest
  const regenerate = regenerator({
    list: () => [...committed],
    write: (entries) => files.push(entries),
    jitterMs: 20,
    random: () => delays.shift()! * 0.999,
    onError: (e) => {
      throw e;
    },
  });
  committed.push("a");
  const first = regenerate("AddHost");
  committed.push("b");
  const second = regenerate("AddHost");
  await Promise.all([first, second]);
  assertEquals(files, [["a", "b"], ["a"]]);
});

Deno.test("regenerator: without jitter each regeneration writes at once, in commit order", async () => {
  const committed: string[] = [];
  const files: string[][] = [];
  const regenerate = regenerator({
    list: () => [...committed],
    write: (entries) => files.push(entries),
    jitterMs: 0,
    onError: (e) => {
      throw e;
    },
  });
  committed.push("a");
  const first = regenerate("AddHost");
  committed.push("b");
  const second = regenerate("AddHost");
  await Promise.all([first, second]);
  assertEquals(files, [["a"], ["a", "b"]]);
});

Deno.test("regenerator: a failed write is reported, not thrown", async () => {
  const errors: string[] = [];
  const regenerate = regenerator({
    list: () => [],
    write: () => {
      throw new Error("disk full");
    },
    jitterMs: 0,
    onError: (e, method) => errors.push(`${method}: ${e.message}`),
  });
  await regenerate("AddHost");
  assertEquals(errors, ["AddHost: disk full"]);
});

Deno.test("parseJitterMs: whole milliseconds up to 10 s; anything else is refused with the flag's name", () => {
  assertEquals(parseJitterMs(undefined), 0);
  assertEquals(parseJitterMs("25"), 25);
  for (const bad of ["-1", "1.5", "abc", "10001", ""]) {
    assertMatch(assertThrows(() => parseJitterMs(bad)).message, /--hosts-file-jitter-ms/);
  }
});
