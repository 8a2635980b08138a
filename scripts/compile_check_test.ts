import { assertEquals, assertMatch } from "../tests/assert.ts";
import { checkGraph, type Info, type InfoModule } from "./compile_check.ts";

const ROOT = "/repo/";
const file = (rel: string) => `file:///repo/${rel}`;

function graph(modules: InfoModule[]): Info {
  return { roots: [file("main.ts")], modules, redirects: {}, npmPackages: {} };
}

const main: InfoModule = {
  kind: "esm",
  specifier: file("main.ts"),
  local: "/repo/main.ts",
  dependencies: [
    { specifier: "./proto/mod.ts", code: { specifier: file("proto/mod.ts") } },
    { specifier: "prom-client", code: { specifier: "npm:prom-client@15.1.3" } },
  ],
};
const protoMod: InfoModule = {
  kind: "esm",
  specifier: file("proto/mod.ts"),
  local: "/repo/proto/mod.ts",
  dependencies: [{
    specifier: "./hosts.proto",
    code: { specifier: file("proto/hosts.proto") },
    assertionType: "text",
  }],
};
const proto: InfoModule = { kind: "external", specifier: file("proto/hosts.proto") };

function check(modules: InfoModule[], sources: Record<string, string> = {}) {
  return checkGraph(graph(modules), {
    root: ROOT,
    imports: new Set(["prom-client"]),
    readSource: (path) => sources[path] ?? "if (import.meta.main) run();\n",
  });
}

Deno.test("a static graph with the .proto as a text import passes", () => {
  const { problems, summary } = check([main, protoMod, proto]);
  assertEquals(problems, []);
  assertMatch(summary.join("\n"), /embedded as modules: proto\/hosts\.proto/);
});

Deno.test("a .proto imported without a text attribute is reported", () => {
  const plain = {
    ...protoMod,
    dependencies: [{ specifier: "./hosts.proto", code: { specifier: file("proto/hosts.proto") } }],
  };
  assertMatch(check([main, plain, proto]).problems.join("\n"), /without a text\/bytes\/json/);
});

Deno.test("dynamic imports, workers and import.meta.url lookups are reported", () => {
  const dyn = {
    ...main,
    dependencies: [...main.dependencies!, {
      specifier: "./plugin.ts",
      code: { specifier: file("plugin.ts") },
      isDynamic: true,
    }],
  };
  const problems = check([dyn, protoMod, proto], {
    "/repo/proto/mod.ts": [
      "// import('./in-a-comment.ts') is fine",
      "const p = await import(name);",
      "new Worker(new URL('./w.ts', import.meta.url));",
    ].join("\n"),
  }).problems.join("\n");
  assertMatch(problems, /main\.ts: dynamic import of \.\/plugin\.ts/);
  assertMatch(problems, /proto\/mod\.ts: dynamic import\(\) of a computed specifier/);
  assertMatch(problems, /proto\/mod\.ts: a Worker/);
  assertMatch(problems, /proto\/mod\.ts: import\.meta location/);
  assertEquals(problems.includes("in-a-comment"), false);
});

Deno.test("remote modules, test code and undeclared npm packages are reported", () => {
  const bad = {
    ...main,
    dependencies: [...main.dependencies!, {
      specifier: "npm:left-pad",
      code: { specifier: "npm:left-pad@1.3.0" },
    }],
  };
  const problems = check([bad, protoMod, proto, {
    kind: "esm",
    specifier: "https://deno.land/std/path/mod.ts",
  }, { kind: "esm", specifier: file("tests/testbed/mod.ts"), local: "/repo/tests/testbed/mod.ts" }])
    .problems.join("\n");
  assertMatch(problems, /https:\/\/deno\.land\/std\/path\/mod\.ts: fetched from the network/);
  assertMatch(problems, /tests\/testbed\/mod\.ts: test or tooling code/);
  assertMatch(problems, /npm package left-pad not in deno\.json imports/);
});
