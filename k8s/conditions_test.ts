import { assertEquals } from "../tests/assert.ts";
import {
  type Condition,
  findCondition,
  formatTime,
  removeCondition,
  setCondition,
} from "./conditions.ts";

const T0 = new Date("2026-01-01T00:00:00.123Z");
const T1 = new Date("2026-01-01T00:05:00.999Z");

Deno.test("a new condition gets lastTransitionTime now, in whole seconds", () => {
  const list = setCondition(undefined, {
    type: "Synced",
    status: "False",
    reason: "Pending",
    message: "waiting",
    observedGeneration: 1,
  }, T0);
  assertEquals(list, [{
    type: "Synced",
    status: "False",
    reason: "Pending",
    message: "waiting",
    observedGeneration: 1,
    lastTransitionTime: "2026-01-01T00:00:00Z",
  }]);
});

Deno.test("lastTransitionTime changes only when status changes", () => {
  const start = setCondition(
    [],
    { type: "Synced", status: "False", reason: "A", message: "a" },
    T0,
  );
  const sameStatus = setCondition(start, {
    type: "Synced",
    status: "False",
    reason: "B",
    message: "b",
    observedGeneration: 2,
  }, T1);
  assertEquals(sameStatus[0].lastTransitionTime, "2026-01-01T00:00:00Z");
  assertEquals([sameStatus[0].reason, sameStatus[0].observedGeneration], ["B", 2]);
  const flipped = setCondition(sameStatus, {
    type: "Synced",
    status: "True",
    reason: "Synced",
    message: "",
  }, T1);
  assertEquals(flipped[0].lastTransitionTime, "2026-01-01T00:05:00Z");
});

Deno.test("setCondition keeps other conditions and does not modify its input", () => {
  const input: Condition[] = [
    { type: "Ready", status: "True", reason: "R", message: "", lastTransitionTime: "x" },
    { type: "Synced", status: "True", reason: "S", message: "", lastTransitionTime: "y" },
  ];
  const copy = structuredClone(input);
  const out = setCondition(
    input,
    { type: "Synced", status: "False", reason: "E", message: "e" },
    T0,
  );
  assertEquals(input, copy);
  assertEquals(out.map((c) => c.type), ["Ready", "Synced"]);
  assertEquals(findCondition(out, "Synced")?.reason, "E");
  assertEquals(removeCondition(out, "Ready").map((c) => c.type), ["Synced"]);
});

Deno.test("formatTime drops fractional seconds like metav1.Time", () => {
  assertEquals(formatTime(T1), "2026-01-01T00:05:00Z");
});
