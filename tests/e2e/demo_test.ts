/**
 * `deno task demo` as a new user runs it: scripts/demo.ts in its own process
 * on the real test bed (kube-apiserver, etcd, router-hosts, the real CRDs),
 * observed only through what it prints. Every file of examples/ applies, every
 * source converges to its entry, the printed "Try it" Gateway move is
 * followed, and SIGTERM (what Ctrl-C does) leaves no process and no temp dir.
 */
import { join } from "node:path";
import { assertEquals, assertMatch, assertOk } from "../assert.ts";
import { dumpLogs, parseHostsFile, ROOT } from "../testbed/mod.ts";
import { eventually } from "../testbed/operator.ts";

/** The first run on a loaded machine builds nothing (build.ts ran) but starts four processes. */
const READY_TIMEOUT_MS = 180_000;

Deno.test({
  name: "the demo applies examples/, converges every source, follows a change, cleans up",
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(ROOT, "scripts", "demo.ts")],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let out = "";
  const decoder = new TextDecoder();
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) out += decoder.decode(chunk, { stream: true });
  };
  const reading = Promise.all([collect(child.stdout), collect(child.stderr)]);
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  try {
    await eventually(
      "the demo to print its Try it section",
      () => out.includes("Press Ctrl-C") || exited,
      READY_TIMEOUT_MS,
      200,
    );
    assertOk(!exited, `the demo exited early:\n${out}`);
    for (
      const applied of [
        "gateway.gateway.networking.k8s.io/home created",
        "httproute.gateway.networking.k8s.io/home-assistant created",
        "hostmapping.router-hosts.fzymgc.house/nas created",
        "ingress.networking.k8s.io/wiki created",
        "ingressroute.traefik.io/media created",
        "ingressroutetcp.traefik.io/postgres created",
        "service/mqtt created",
      ]
    ) assertOk(out.includes(applied), `${applied} missing from:\n${out}`);
    assertMatch(out, /Converged: 8 entries/);
    for (
      const row of [
        /192\.168\.1\.4 +ha\.home\.arpa +- +k8s-gateway:default\/home-assistant +kubernetes,gateway,httproute/,
        /192\.168\.1\.3 +wiki\.home\.arpa +- +k8s-ingress-v1:default\/wiki +kubernetes,ingress-v1/,
        /192\.168\.1\.10 +mqtt\.home\.arpa +mosquitto\.home\.arpa +k8s-service:default\/mqtt +kubernetes,service/,
        /192\.168\.1\.2 +db\.home\.arpa +- +k8s-ingress:default\/postgres +kubernetes,traefik,ingress/,
        /192\.168\.1\.20 +nas\.home\.arpa +files\.home\.arpa +k8s:default\/nas +storage/,
      ]
    ) assertMatch(out, row);

    // The Try it lines, run as printed.
    const kubeconfig = out.match(/^export KUBECONFIG=(\S+)$/m)?.[1];
    const hostsFile = out.match(/^cat (\S+)$/m)?.[1];
    const patch = out.match(/^kubectl patch gateway home .* -p '(.+)'$/m)?.[1];
    assertOk(kubeconfig && hostsFile && patch, `Try it lines missing:\n${out}`);
    const kubectl = await new Deno.Command("kubectl", {
      args: [
        `--kubeconfig=${kubeconfig}`,
        "patch",
        "gateway",
        "home",
        "--subresource=status",
        "--type=merge",
        "-p",
        patch,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assertEquals(kubectl.code, 0, decoder.decode(kubectl.stderr));
    await eventually("ha.home.arpa at the Gateway's new address in the hosts file", async () => {
      const lines = parseHostsFile(await Deno.readTextFile(hostsFile));
      return lines.find((l) => l.hostname === "ha.home.arpa")?.ip === "192.168.1.5";
    });

    const dirs = [
      ...new Set(out.match(/\/tmp\/(testbed-kube|testbed-router-hosts|operator)-[0-9a-f]+/g)),
    ];
    assertEquals(dirs.length, 3, `temp dirs named in:\n${out}`);
    child.kill("SIGTERM");
    await status;
    await reading;
    assertMatch(out, /Stopped; removing the test bed's files\./);
    for (const dir of dirs) {
      const left = await Deno.stat(dir).then(() => true, () => false);
      assertOk(!left, `${dir} left behind`);
    }
    assertEquals(await processesUsing(dirs), [], "processes left behind");
  } catch (e) {
    dumpLogs();
    console.error(out);
    throw e;
  } finally {
    if (!exited) child.kill("SIGTERM");
    await status;
  }
});

/** Command lines of live processes that mention one of `dirs`. */
async function processesUsing(dirs: string[]): Promise<string[]> {
  const ps = await new Deno.Command("ps", { args: ["-eo", "args"], stdout: "piped" }).output();
  return new TextDecoder().decode(ps.stdout).split("\n")
    .filter((line) => dirs.some((d) => line.includes(d)));
}
