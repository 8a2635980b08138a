/**
 * The e2e test bed: a real kube-apiserver (with etcd) and a router-hosts
 * server as local processes, their PKI, and a registry that never leaves a
 * child process behind.
 *
 * ```ts
 * import { dumpLogs, startKube, uniqueName } from "./mod.ts";
 *
 * Deno.test({ name: "...", sanitizeOps: false, sanitizeResources: false }, async (t) => {
 *   const kube = await startKube();
 *   try {
 *     const ns = await kube.createNamespace(uniqueName("hm"));
 *     // ...
 *   } catch (e) {
 *     dumpLogs();
 *     throw e;
 *   } finally {
 *     await kube.stop();
 *   }
 * });
 * ```
 *
 * Binaries come from `build.ts` (run by `deno task test`); see there for the
 * environment variables that point at prebuilt ones. CRDs come from `crds.ts`:
 * `installCrds(kube, "router-hosts", "traefik", "gateway-api")`.
 *
 * @module
 */
export {
  BIN_DIR,
  ensureGoTool,
  ensureRouterHosts,
  type GoToolName,
  type ResolvedBinary,
  ROOT,
  type RouterHostsChoice,
  TestbedSetupError,
  VERSIONS,
} from "./build.ts";
export { CRD_SET_NAMES, type CrdSetName, ensureCrdSet, installCrds } from "./crds.ts";
export {
  type CaOptions,
  type CertFiles,
  type ClientLeafOptions,
  makeCa,
  makeClientLeaf,
  makeServerLeaf,
  makeSigningKey,
  type ServerLeafOptions,
  type SigningKeyFiles,
} from "./pki.ts";
export {
  dumpLogs,
  freePort,
  killAll,
  liveProcessCount,
  logTail,
  type ManagedProcess,
  sleep,
  spawnManaged,
  type SpawnOptions,
  trackSteps,
  uniqueName,
  waitForTcp,
} from "./process.ts";
export {
  KubeApiError,
  type KubectlResult,
  type KubeOptions,
  type KubeRequestOptions,
  type KubeResponse,
  type KubeTestbed,
  type ServiceAccountCredentials,
  startKube,
} from "./kube.ts";
export {
  type HostsFileLine,
  parseHostsFile,
  type RouterHostsOptions,
  type RouterHostsTestbed,
  startRouterHosts,
} from "./router_hosts.ts";
