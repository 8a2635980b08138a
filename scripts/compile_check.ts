/**
 * `deno task compile:check`: proves that `deno task compile` would produce a
 * working single binary, on machines where `deno compile` cannot download
 * its `denort` runtime (ours cannot reach dl.deno.land).
 *
 * 1. The module graph of main.ts (`deno info --json`) is fully static:
 *    every module is ours, `node:` or `npm:` (nothing fetched at run time),
 *    no production module imports dynamically, spawns a worker or locates
 *    files next to its own source (none of which `deno compile` would
 *    embed), and every non-code file is a static import with a
 *    `text`/`bytes`/`json` attribute, so it travels inside the binary.
 * 2. `deno compile`, with exactly the flags of `deno task compile`, gets
 *    through type checking and graph building and then fails only while
 *    fetching the runtime (writing the binary comes after that step). When it succeeds (runtime cached, or DENORT_BIN
 *    set to a real denort) the binary is run with `--help`.
 *
 * Exit 0 when both hold; 1 with the reason otherwise.
 *
 * @module
 */
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const ENTRY = "main.ts";
// Test and tooling code never belongs in the binary.
const NOT_PRODUCTION = ["tests/", "bench/", "scripts/"];
const DATA_ATTRIBUTES = new Set(["text", "bytes", "json"]);
// Source patterns that make a file depend on something deno compile does not embed.
const RUNTIME_LOOKUPS: Array<[RegExp, string]> = [
  [/\bimport\s*\((?!\s*["'])/, "dynamic import() of a computed specifier"],
  [/\bnew\s+Worker\s*\(/, "a Worker (its module is not embedded without --include)"],
  [
    /\bimport\.meta\.(url|dirname|filename|resolve)\b/,
    "import.meta location (files next to the source are not embedded)",
  ],
  [/\b__dirname\b|\b__filename\b/, "__dirname/__filename"],
];

/** A dependency in `deno info --json` output. */
export interface InfoDependency {
  specifier: string;
  code?: { specifier: string };
  type?: { specifier: string };
  isDynamic?: boolean;
  assertionType?: string;
}
/** A module in `deno info --json` output. */
export interface InfoModule {
  specifier: string;
  kind: string;
  local?: string;
  mediaType?: string;
  dependencies?: InfoDependency[];
  error?: string;
}
/** `deno info --json` output (the parts used here). */
export interface Info {
  roots: string[];
  modules: InfoModule[];
  redirects: Record<string, string>;
  npmPackages: Record<string, unknown>;
}

const dec = new TextDecoder();

async function run(args: string[]): Promise<{ code: number; out: string }> {
  const res = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: res.code, out: dec.decode(res.stdout) + dec.decode(res.stderr) };
}

/** The `deno compile` arguments of the `compile` task in deno.json. */
async function compileTaskArgs(): Promise<string[]> {
  const config = JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json")));
  const task: unknown = config.tasks?.compile;
  if (typeof task !== "string" || !task.startsWith("deno compile ")) {
    throw new Error(`deno.json: tasks.compile should be a "deno compile ..." command, not ${task}`);
  }
  return task.split(/\s+/).slice(1);
}

/** What {@link checkGraph} needs besides the graph. */
export interface GraphContext {
  /** Repository root (absolute, with a trailing slash). */
  root: string;
  /** npm package names declared in deno.json imports. */
  imports: Set<string>;
  /** Source text of a local module. */
  readSource: (path: string) => string;
}

/** Problems that would keep `deno compile` from embedding everything, and a summary. */
export function checkGraph(
  info: Info,
  ctx: GraphContext,
): { problems: string[]; summary: string[] } {
  const { root, imports } = ctx;
  const problems: string[] = [];
  const entry = `file://${join(root, ENTRY)}`;
  if (info.roots.length !== 1 || info.roots[0] !== entry) {
    problems.push(`unexpected roots ${info.roots.join(", ")}`);
  }
  let local = 0;
  const data: string[] = [];
  const builtins = new Set<string>();
  for (const m of info.modules) {
    if (m.error) problems.push(`${m.specifier}: ${m.error}`);
    if (m.kind === "node") {
      builtins.add(m.specifier);
      continue;
    }
    if (m.kind === "npm") continue;
    if (!m.specifier.startsWith("file://")) {
      problems.push(
        `${m.specifier}: fetched from the network (only local, node: and npm: modules)`,
      );
      continue;
    }
    const rel = relative(root, fileURLToPath(m.specifier));
    if (NOT_PRODUCTION.some((p) => rel.startsWith(p))) {
      problems.push(`${rel}: test or tooling code in the production graph`);
    }
    if (m.kind !== "esm") {
      data.push(rel);
      continue;
    }
    local++;
    for (const d of m.dependencies ?? []) {
      // deno compile embeds a dynamic import whose specifier is a literal npm package of ours.
      if (d.isDynamic && !declaredNpm(d, imports)) {
        problems.push(`${rel}: dynamic import of ${d.specifier}`);
      }
      const target = d.code?.specifier ?? "";
      if (target.startsWith("file://") && !/\.(ts|js|mjs|mts|tsx|jsx)$/.test(target)) {
        if (!d.assertionType || !DATA_ATTRIBUTES.has(d.assertionType)) {
          problems.push(
            `${rel}: imports ${d.specifier} without a text/bytes/json attribute (would not be embedded)`,
          );
        }
      }
      if (target.startsWith("npm:")) {
        const name = target.slice(4).replace(/@[^@/]*$/, "");
        if (!imports.has(name)) {
          problems.push(`${rel}: npm package ${name} not in deno.json imports`);
        }
      }
    }
    const source = ctx.readSource(m.local ?? fileURLToPath(m.specifier));
    // Comments may mention these patterns; only code counts.
    const code = source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
    for (const [pattern, what] of RUNTIME_LOOKUPS) {
      if (pattern.test(code)) problems.push(`${rel}: ${what}`);
    }
  }
  return {
    problems,
    summary: [
      `${local} local modules, ${builtins.size} node: built-ins, ` +
      `${Object.keys(info.npmPackages).length} npm packages (${[...imports].join(", ")})`,
      `embedded as modules: ${data.join(", ")}`,
    ],
  };
}

/** True when `d` resolves to an npm package declared in deno.json imports. */
function declaredNpm(d: InfoDependency, imports: Set<string>): boolean {
  const target = d.code?.specifier ?? "";
  return target.startsWith("npm:") && imports.has(target.slice(4).replace(/@[^@/]*$/, ""));
}

async function main(): Promise<number> {
  const config = JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json")));
  const imports = new Set(
    Object.values(config.imports as Record<string, string>)
      .filter((v) => v.startsWith("npm:"))
      .map((v) => v.slice(4).replace(/@[^@/]*$/, "")),
  );

  const info = await run(["info", "--json", ENTRY]);
  if (info.code !== 0) {
    console.error(`compile:check: deno info --json ${ENTRY} failed:\n${info.out}`);
    return 1;
  }
  const graph = checkGraph(JSON.parse(info.out.slice(0, info.out.lastIndexOf("}") + 1)), {
    root: ROOT,
    imports,
    readSource: (path) => Deno.readTextFileSync(path),
  });
  for (const line of graph.summary) console.log(`graph: ${line}`);
  if (graph.problems.length) {
    console.error("compile:check: the module graph is not compile-ready:");
    for (const p of graph.problems) console.error(`  - ${p}`);
    return 1;
  }
  console.log("graph: static (no dynamic imports, workers or import.meta file lookups)");

  const dir = await Deno.makeTempDir({ prefix: "compile-check-" });
  try {
    const args = await compileTaskArgs();
    const at = args.indexOf("--output");
    const binary = join(dir, "router-hosts-operator");
    if (at < 0) throw new Error("tasks.compile has no --output");
    args[at + 1] = binary;
    console.log(`$ deno ${args.join(" ")}`);
    const compiled = await run(args);
    console.log(compiled.out.trimEnd().replace(/^/gm, "  | "));
    if (compiled.code === 0) {
      const help = await new Deno.Command(binary, { args: ["--help"], stdout: "piped" }).output();
      const text = dec.decode(help.stdout);
      if (!help.success || !text.includes("--server-address")) {
        console.error(`compile:check: the binary built, but --help exited ${help.code}:\n${text}`);
        return 1;
      }
      console.log(`compiled: ${binary} (${(await Deno.stat(binary)).size} bytes); --help works`);
      return 0;
    }
    // "Compile" is printed once type checking (cached or not) has passed and
    // the graph is built; what failed after it must be the download of the
    // runtime the binary is built on, and nothing else.
    const checked = /^Compile \S*main\.ts to /m.test(compiled.out);
    const runtime = /Setting up base binary/.test(compiled.out) &&
      /https:\/\/dl\.deno\.land\/\S*denort-[\w-]+\.zip/.test(compiled.out);
    if (checked && runtime) {
      const cause = compiled.out.split("\n").map((l) => l.trim()).find((l) =>
        /^\d+: .*dl\.deno\.land/.test(l)
      )?.replace(/^\d+: /, "");
      console.log(
        `compile-ready: the graph is static, type checking passed and deno compile stopped only ` +
          `at downloading its denort runtime (${cause ?? "see above"}); ` +
          "writing the binary (embedding modules and npm packages) comes after that step and " +
          "cannot run on this machine.",
      );
      return 0;
    }
    console.error(
      `compile:check: deno compile failed (exit ${compiled.code}) for a reason other than the runtime download`,
    );
    return 1;
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) {
  Deno.exit(await main());
}
