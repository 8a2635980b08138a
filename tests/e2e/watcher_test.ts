/**
 * The k8s/ runtime against a real kube-apiserver: KubeClient (client
 * certificate and bearer-token kubeconfigs, TLS through Deno's fetch) and
 * the Informer (list + watch) — including the failures that make
 * client-node's own watch stop silently on Deno: a frozen API server
 * (SIGSTOP) and an API server restart. Every request must end on its
 * deadline, and every watch must recover.
 */
import { KubeApiError, KubeClient } from "../../k8s/client.ts";
import { type ResourceType } from "../../k8s/resource.ts";
import { Informer, type ListWatchClient } from "../../k8s/watcher.ts";
import { Logger } from "../../observability/log.ts";
import { assertEquals, assertMatch, assertOk, assertRejects } from "../assert.ts";
import { dumpLogs, installCrds, startKube, uniqueName } from "../testbed/mod.ts";

const CONFIGMAPS: ResourceType = {
  group: "",
  version: "v1",
  plural: "configmaps",
  kind: "ConfigMap",
  namespaced: true,
};
const INGRESSROUTES: ResourceType = {
  group: "traefik.io",
  version: "v1alpha1",
  plural: "ingressroutes",
  kind: "IngressRoute",
  namespaced: true,
};

/** Short enough to be exceeded by a freeze within the test's time. */
const INACTIVITY_MS = 3_000;
const REQUEST_TIMEOUT_MS = 3_000;

type Data = { data: Record<string, string> | undefined };
type Change = [string, Data | undefined];

async function until(cond: () => boolean, what: string, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A logger keeping its lines for assertions (and printing warnings for diagnosis). */
function capturingLogger() {
  const lines: Record<string, unknown>[] = [];
  const log = new Logger({
    level: "debug",
    sink: (line) => {
      const parsed = JSON.parse(line);
      lines.push(parsed);
      if (parsed.level === "warn" || parsed.level === "error") console.error(line);
    },
  });
  return { log, lines };
}

function configMap(name: string, data: Record<string, string>, labels?: Record<string, string>) {
  return { apiVersion: "v1", kind: "ConfigMap", metadata: { name, labels }, data };
}

Deno.test({
  name: "k8s runtime on a real kube-apiserver: client, informer, freeze, restart, missing CRD",
  // The test bed's processes and the informers live across steps.
  sanitizeOps: false,
  sanitizeResources: false,
}, async (t) => {
  const kube = await startKube();
  const { log, lines } = capturingLogger();
  const client = await KubeClient.fromKubeconfig({
    kubeconfigPath: kube.kubeconfigPath,
    log,
    requestTimeoutMs: REQUEST_TIMEOUT_MS,
    watchInactivityMs: INACTIVITY_MS,
  });
  const stopAll = new AbortController();
  const running: Promise<void>[] = [];
  try {
    const ns = await kube.createNamespace(uniqueName("watch"));
    const cmPath = `/api/v1/namespaces/${ns}/configmaps`;

    await t.step("client-certificate kubeconfig: requests over TLS, readable errors", async () => {
      const version = await client.get<{ gitVersion: string }>("/version");
      assertMatch(version.gitVersion, /^v\d+\./);
      const e = await assertRejects(() => client.get(`${cmPath}/does-not-exist`));
      assertOk(e instanceof KubeApiError);
      assertEquals([e.status, e.reason], [404, "NotFound"]);
      assertMatch(e.message, /GET .*does-not-exist: 404 NotFound: configmaps "does-not-exist"/);
    });

    await t.step("bearer-token kubeconfig: authenticated as the service account", async () => {
      const sa = await kube.makeServiceAccountKubeconfig(ns, "reader");
      const saClient = await KubeClient.fromKubeconfig({ kubeconfigPath: sa.kubeconfigPath, log });
      try {
        // 403 (not 401) proves the token was sent and accepted; RBAC grants nothing.
        const e = await assertRejects(() => saClient.list(cmPath));
        assertEquals((e as KubeApiError).status, 403);
        assertMatch(e.message, new RegExp(sa.username));
      } finally {
        saClient.close();
      }
    });

    const changes: Change[] = [];
    let lists = 0;
    const counting: ListWatchClient = {
      list: (path, query, opts) => {
        lists++;
        return client.list(path, query, opts);
      },
      watch: (path, query, signal) => client.watch(path, query, signal),
    };
    const informer = new Informer<Data>({
      client: counting,
      resource: CONFIGMAPS,
      namespace: ns,
      project: (obj) => ({ data: obj.data as Record<string, string> | undefined }),
      log,
      onChange: (key, obj) => changes.push([key, obj]),
      pageSize: 3,
      backoff: { maxMs: 2_000 },
    });
    const received = (key: string, data: Record<string, string> | undefined) =>
      changes.some(([k, v]) => k === key && JSON.stringify(v?.data) === JSON.stringify(data));

    await t.step("paginated initial list fills the store", async () => {
      for (let i = 0; i < 7; i++) await client.create(cmPath, configMap(`pre-${i}`, { i: `${i}` }));
      running.push(informer.run(stopAll.signal));
      assertOk(await informer.waitForSync(AbortSignal.timeout(30_000)));
      // kube-root-ca.crt is not created without kube-controller-manager.
      assertEquals(informer.store.size, 7);
      assertEquals(lists, 3, "7 objects in pages of 3");
    });

    await t.step("sees creates, updates and deletes; ignores unprojected changes", async () => {
      changes.length = 0;
      await client.create(cmPath, configMap("a", { v: "1" }));
      await until(() => received(`${ns}/a`, { v: "1" }), "the create");
      await client.mergePatch(`${cmPath}/a`, { metadata: { labels: { touched: "yes" } } });
      await client.mergePatch(`${cmPath}/a`, { data: { v: "2" } });
      await until(() => received(`${ns}/a`, { v: "2" }), "the update");
      assertEquals(
        changes.filter(([k]) => k === `${ns}/a`).length,
        2,
        "the label change is not reported",
      );
      await client.delete(`${cmPath}/a`);
      await until(() => changes.some(([k, v]) => k === `${ns}/a` && v === undefined), "the delete");
    });

    await t.step("a request to a frozen API server fails on its deadline", async () => {
      await kube.freeze();
      try {
        const started = Date.now();
        const e = await assertRejects(() => client.get("/version", { timeoutMs: 1_500 }));
        const took = Date.now() - started;
        assertEquals((e as KubeApiError).status, 0);
        assertMatch(e.message, /no complete response within 1500 ms/);
        assertOk(took < 5_000, `took ${took} ms`);
      } finally {
        kube.thaw();
      }
    });

    await t.step("after a freeze longer than the watchdog, the watch recovers", async () => {
      const before = lines.length;
      const logged = () => lines.slice(before).map((l) => `${l.msg}: ${l.error ?? ""}`).join("\n");
      await kube.freeze();
      try {
        // Frozen until the client has given up on the dead stream, however long that takes here.
        await until(
          () => /watch inactivity watchdog|no response headers within/.test(logged()),
          "the watchdog to end the frozen watch",
          INACTIVITY_MS * 10,
        );
      } finally {
        kube.thaw();
      }
      await client.create(cmPath, configMap("after-freeze", { v: "1" }));
      await until(() => received(`${ns}/after-freeze`, { v: "1" }), "a change made after thaw");
    });

    await t.step("after an API server restart, the watch resumes", async () => {
      await kube.restartApiserver();
      await client.create(cmPath, configMap("after-restart", { v: "1" }));
      await until(() => received(`${ns}/after-restart`, { v: "1" }), "a change after restart");
      await client.delete(`${cmPath}/pre-0`);
      await until(() => changes.some(([k, v]) => k === `${ns}/pre-0` && v === undefined), "delete");
      assertEquals(informer.store.size, 8);
    });

    await t.step("a missing CRD is waited for and picked up once installed", async () => {
      const missing: boolean[] = [];
      const routes = new Informer<{ name: string }>({
        client,
        resource: INGRESSROUTES,
        project: (obj) => ({ name: String(obj.metadata?.name) }),
        log,
        onChange: () => {},
        onMissing: (m) => missing.push(m),
        backoff: { maxMs: 2_000 },
      });
      running.push(routes.run(stopAll.signal));
      await until(() => routes.missing, "the informer to report the resource missing");
      assertOk(!routes.hasSynced());
      await installCrds(kube, "traefik");
      assertOk(await routes.waitForSync(AbortSignal.timeout(30_000)), "synced after install");
      assertEquals(missing, [true, false]);
    });
  } catch (e) {
    dumpLogs();
    throw e;
  } finally {
    stopAll.abort();
    await Promise.all(running);
    client.close();
    await kube.stop();
  }
});
