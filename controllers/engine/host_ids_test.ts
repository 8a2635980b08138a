import { assertEquals, assertMatch, assertOk } from "../../tests/assert.ts";
import { parseHostIds, planSync, serializeHostIds } from "./host_ids.ts";

// ---------------------------------------------------------------- annotation

Deno.test("annotation parse: absent and empty mean nothing tracked", () => {
  assertEquals(parseHostIds(undefined), { tracked: [] });
  assertEquals(parseHostIds(""), { tracked: [] });
  assertEquals(parseHostIds("{}"), { tracked: [] });
});

Deno.test("annotation parse: the Go operator's format", () => {
  assertEquals(parseHostIds('{"a.lan":"01A","b.lan":"01B"}'), {
    tracked: [{ hostname: "a.lan", id: "01A" }, { hostname: "b.lan", id: "01B" }],
  });
});

for (
  const [name, raw, why] of [
    ["not JSON", "{a.lan: 01A", /not JSON/],
    ["truncated", '{"a.lan":"01A"', /not JSON/],
    ["an array", '["01A"]', /array/],
    ["null", "null", /not a JSON object/],
    ["a string", '"01A"', /not a JSON object/],
    ["a number id", '{"a.lan":1}', /not a non-empty string/],
    ["an empty id", '{"a.lan":""}', /not a non-empty string/],
    ["a nested object", '{"a.lan":{"id":"01A"}}', /not a non-empty string/],
  ] as const
) {
  Deno.test(`annotation parse: corrupt when ${name}`, () => {
    const p = parseHostIds(raw);
    assertOk("error" in p, JSON.stringify(p));
    assertMatch(p.error, why);
  });
}

Deno.test("annotation serialize: sorted compact JSON like Go; null (remove) when empty", () => {
  assertEquals(
    serializeHostIds([{ hostname: "b.lan", id: "01B" }, { hostname: "a.lan", id: "01A" }]),
    '{"a.lan":"01A","b.lan":"01B"}',
  );
  assertEquals(serializeHostIds([]), null);
  const twice = serializeHostIds([{ hostname: "a.lan", id: "01A" }, {
    hostname: "a.lan",
    id: "01C",
  }]);
  assertEquals(twice, '{"a.lan":"01A","a.lan (01C)":"01C"}');
  const round = parseHostIds(twice!);
  assertOk("tracked" in round);
  assertEquals(round.tracked, [{ hostname: "a.lan", id: "01A" }, { hostname: "a.lan", id: "01C" }]);
  // A hostname wanted once (a duplicate a recovery found): the further entry is stale.
  assertEquals(planSync(round.tracked, ["a.lan"]).stale, [{ hostname: "a.lan", id: "01C" }]);
  // Wanted twice (at two IPs): both kept, the plain key first.
  assertEquals(planSync(round.tracked, ["a.lan", "a.lan"]), {
    ensure: [{ hostname: "a.lan", knownId: "01A" }, { hostname: "a.lan", knownId: "01C" }],
    stale: [],
  });
  // A key whose "(…)" is not its id is a hostname as written.
  const other = parseHostIds('{"a.lan (x)":"01D"}');
  assertOk("tracked" in other);
  assertEquals(other.tracked, [{ hostname: "a.lan (x)", id: "01D" }]);
});

// -------------------------------------------------------------------- plan

Deno.test("plan: new hostnames are created, tracked ones kept with their id, removed ones stale", () => {
  const plan = planSync(
    [{ hostname: "a.lan", id: "A" }, { hostname: "old.lan", id: "O" }],
    ["a.lan", "new.lan"],
  );
  assertEquals(plan.ensure, [{ hostname: "a.lan", knownId: "A" }, { hostname: "new.lan" }]);
  assertEquals(plan.stale, [{ hostname: "old.lan", id: "O" }]);
});

Deno.test("plan: nothing desired → everything stale (also when no hostname is left)", () => {
  assertEquals(planSync([{ hostname: "a.lan", id: "A" }], []), {
    ensure: [],
    stale: [{ hostname: "a.lan", id: "A" }],
  });
});

Deno.test("plan: a change of case keeps the entry (updated in place), exact spelling first", () => {
  const plan = planSync(
    [{ hostname: "web.lan", id: "W1" }, { hostname: "Web.lan", id: "W2" }],
    ["Web.lan", "WEB.lan"],
  );
  assertEquals(plan.ensure, [{ hostname: "Web.lan", knownId: "W2" }, {
    hostname: "WEB.lan",
    knownId: "W1",
  }]);
  assertEquals(plan.stale, []);
});

Deno.test("plan: an id tracked under two names is one entry, never deleted while in use", () => {
  const plan = planSync(
    [{ hostname: "a.lan", id: "A" }, { hostname: "alias", id: "A" }, { hostname: "x", id: "X" }, {
      hostname: "y",
      id: "X",
    }],
    ["a.lan"],
  );
  assertEquals(plan.stale, [{ hostname: "x", id: "X" }]);
});
