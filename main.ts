/**
 * router-hosts-operator: wires configuration → clients → controllers →
 * manager. No logic lives here.
 *
 * @module
 */
import { Registry } from "prom-client";
import { type Config, ConfigError, HelpRequested, parseConfig, usage } from "./config.ts";
import { DryRunEvents, dryRunHosts } from "./controllers/hosts/dry_run.ts";
import {
  createHostMappingUnit,
  HOSTMAPPING_CONTROLLER,
} from "./controllers/hostmapping/controller.ts";
import { hostMappingComment } from "./controllers/hostmapping/view.ts";
import { createOrphanSweepUnit, type SweepKind } from "./controllers/hosts/orphan_sweep.ts";
import { ConflictBoard, isOperatorEntry, ownerAllows } from "./controllers/hosts/policy.ts";
import { createSourceUnits } from "./controllers/engine/wiring.ts";
import { GATEWAY_ROUTES } from "./controllers/sources/gateway.ts";
import { ingressSource } from "./controllers/sources/ingress.ts";
import { INGRESSROUTE, INGRESSROUTETCP } from "./controllers/sources/ingressroute.ts";
import { serviceSource } from "./controllers/sources/service.ts";
import { RouterHostsClient } from "./grpc/client.ts";
import type { HostsPort } from "./grpc/hosts_port.ts";
import { HostsWatch } from "./grpc/watch_hosts.ts";
import { EntryWakeups, notingWrites, watchUnit } from "./controllers/hosts/live.ts";
import { WatchMetrics } from "./observability/watch_metrics.ts";
import { watchTlsFiles } from "./grpc/rotation.ts";
import { SettlingHosts } from "./grpc/settle.ts";
import { socketPermissionProblem } from "./grpc/target.ts";
import { loadTlsMaterial, TlsConfigError, type TlsMaterial } from "./grpc/tls.ts";
import { KubeClient } from "./k8s/client.ts";
import { KubeEventRecorder } from "./k8s/events.ts";
import { LeaderElector } from "./k8s/leader.ts";
import { Manager } from "./k8s/manager.ts";
import { loopRunnable, type Runnable, serverRunnable } from "./k8s/runnable.ts";
import { Logger } from "./observability/log.ts";
import { Metrics } from "./observability/metrics.ts";
import { startHttp } from "./observability/server.ts";
import { isWebhookEntry } from "./webhook/endpoint.ts";
import { WebhookProvider } from "./webhook/provider.ts";
import { startWebhookServer, WebhookMetrics } from "./webhook/server.ts";
import { startupReport } from "./startup_report.ts";

/** The Lease the Go operator used; kept so mixed upgrades never run two leaders. */
export const LEASE_NAME = "router-hosts-operator.fzymgc.house";
const REPORTING_CONTROLLER = "router-hosts.fzymgc.house/operator";

function fail(message: string, code = 2): number {
  console.error(`router-hosts-operator: ${message}`);
  return code;
}

/**
 * The external-dns webhook on `--webhook-bind-address`, or nothing when it
 * is off. With --dry-run its writes are logged, not made, like the controllers'.
 * It serves on every replica, leader or not: external-dns talks to the one
 * next to it and is itself the single writer.
 */
function webhookRunnables(
  config: Config,
  hosts: HostsPort,
  registry: Registry,
  log: Logger,
): Runnable[] {
  const address = config.webhookBindAddress;
  if (!address) return [];
  const metrics = new WebhookMetrics(registry);
  const provider = new WebhookProvider({
    hosts,
    policy: config.policy,
    log,
    onChange: (action, outcome) => metrics.change(action, outcome),
  });
  // The webhook drains at the stop signal, beside the reconciles, not after
  // them: its writes must end within the pod's grace period too.
  return [serverRunnable("external-dns webhook", () => [
    startWebhookServer({
      address,
      provider,
      domainFilter: { include: config.policy.domainFilter, exclude: config.policy.excludeDomains },
      metrics,
      log,
      maxBodyBytes: config.webhookMaxBodyBytes,
    }),
  ], { drainAtStopSignal: true })];
}

/**
 * What every replica runs besides the controllers: /metrics and the probes,
 * the webhook, and certificate rotation (new TLS files are handed to `client`).
 */
function processRunnables(
  config: Config,
  options: {
    client: RouterHostsClient;
    hosts: HostsPort;
    tls: TlsMaterial | undefined;
    registry: Registry;
    log: Logger;
  },
): Runnable[] {
  const { client, hosts, tls, registry, log } = options;
  const files = config.tls;
  return [
    serverRunnable("metrics and probes", (manager) =>
      startHttp({
        metricsAddress: config.metricsBindAddress,
        probeAddress: config.healthProbeBindAddress,
        registry,
        health: { live: () => true, ready: () => manager.ready() },
        log,
      })),
    ...webhookRunnables(config, hosts, registry, log),
    ...(files && tls
      ? [loopRunnable("TLS rotation", (signal) =>
        watchTlsFiles({
          files,
          current: tls,
          apply: (material) => client.replaceTls(material),
          log,
          signal,
        }))]
      : []),
  ];
}

function grpcClient(config: Config, tls: TlsMaterial | undefined, metrics: Metrics) {
  return new RouterHostsClient({
    address: config.serverAddress,
    tls,
    observer: (method, code, seconds) => {
      metrics.grpcRequests.inc({ method, code });
      metrics.grpcRequestDuration.observe({ method }, seconds);
    },
  });
}

/**
 * The client every writer uses, with the settle write after overlapping
 * writes (grpc/settle.ts). Ours, preferred for carrying it: entries this
 * operator or its webhook wrote, under our owner id.
 */
function settling(client: RouterHostsClient, config: Config, metrics: Metrics, log: Logger) {
  return new SettlingHosts(client, {
    owns: (e) => (isOperatorEntry(e) || isWebhookEntry(e)) && ownerAllows(config.policy, e),
    onSettle: (result, { id, error }) => {
      metrics.settleWrites.inc({ result });
      if (result === "failed") {
        log.warn("settle write after overlapping writes failed; retried after the next write", {
          hostId: id,
          error: error?.message,
        });
      } else if (result === "skipped") {
        log.info(
          "overlapping writes, but router-hosts holds no entry to carry the settle write; the next write regenerates its hosts file",
        );
      }
    },
  });
}

/** Runs `manager` to its exit code; a runnable that cannot start is exit status 1. */
async function runManager(manager: Manager): Promise<number> {
  try {
    return await manager.run();
  } catch (e) {
    return fail((e as Error).message, 1);
  }
}

/**
 * `--controllers=false`: only the external-dns webhook (a sidecar of
 * external-dns), with /metrics and the probes; no Kubernetes client at all.
 */
async function runWebhookOnly(
  config: Config,
  tls: TlsMaterial | undefined,
  log: Logger,
): Promise<number> {
  log.info("starting router-hosts-operator: external-dns webhook only (--controllers=false)", {
    serverAddress: config.serverAddress,
    webhook: config.webhookBindAddress,
  });
  if (config.leaderElect) {
    log.warn(
      "--leader-elect has no effect with --controllers=false: the webhook serves on every replica",
    );
  }
  const registry = new Registry();
  const metrics = new Metrics(registry);
  const client = grpcClient(config, tls, metrics);
  const settled = settling(client, config, metrics, log);
  const hosts = config.dryRun ? dryRunHosts(settled, log) : settled;
  const manager = new Manager({
    log,
    runnables: processRunnables(config, { client, hosts, tls, registry, log }),
  });
  const code = await runManager(manager);
  settled.close();
  client.close();
  return code;
}

/** Runs the operator; resolves to the process exit code. */
export async function main(
  args: string[],
  env: Record<string, string | undefined>,
): Promise<number> {
  let config;
  try {
    config = parseConfig(args, {
      KUBECONFIG: env.KUBECONFIG,
      POD_NAMESPACE: env.POD_NAMESPACE,
      SSL_CERT_FILE: env.SSL_CERT_FILE,
      SSL_CERT_DIR: env.SSL_CERT_DIR,
    });
  } catch (e) {
    if (e instanceof HelpRequested) {
      console.log(usage());
      return 0;
    }
    if (e instanceof ConfigError) return fail(e.message);
    throw e;
  }
  const log = new Logger({ level: config.logLevel });
  const socketProblem = await socketPermissionProblem(config.target);
  if (socketProblem) return fail(`--server-address ${config.serverAddress}: ${socketProblem}`);

  let tls;
  if (config.tls) {
    try {
      tls = await loadTlsMaterial(config.tls);
    } catch (e) {
      if (e instanceof TlsConfigError) return fail(e.message);
      throw e;
    }
  }
  if (!config.controllers) return runWebhookOnly(config, tls, log);

  let kube: KubeClient;
  try {
    kube = await KubeClient.fromKubeconfig({
      kubeconfigPath: config.kubeconfig,
      env: {
        KUBERNETES_SERVICE_HOST: env.KUBERNETES_SERVICE_HOST,
        KUBERNETES_SERVICE_PORT: env.KUBERNETES_SERVICE_PORT,
        HOME: env.HOME,
      },
      log,
      watchInactivityMs: config.watchInactivityMs,
      userAgent: "router-hosts-operator",
    });
  } catch (e) {
    return fail(`kubeconfig: ${(e as Error).message}`);
  }

  const leaseNamespace = config.leaderElectionNamespace ?? kube.namespace;
  if (config.leaderElect && !leaseNamespace) {
    return fail("--leader-elect needs --leader-election-namespace when not running in a pod");
  }

  for (const line of startupReport(config, tls, kube.host)) log[line.level](line.msg, line.fields);
  const sweeping = config.gcIntervalMs > 0 && config.policy.mode === "sync";

  const registry = new Registry();
  const metrics = new Metrics(registry);
  const client = grpcClient(config, tls, metrics);
  const settled = settling(client, config, metrics, log);
  const conflicts = new ConflictBoard();
  // Live repair (README "Live repair"): the leader's one WatchHosts stream
  // wakes the objects whose entries changed on the server.
  const watchMetrics = new WatchMetrics(registry);
  const entries = new EntryWakeups(conflicts, (cause) => watchMetrics.repairs.inc({ cause }));
  const watch = new HostsWatch({
    source: client,
    onChanges: (changes) => entries.changed(changes),
    log: log.with({ component: "watch" }),
    observer: watchMetrics.observer(),
  });
  const served = config.dryRun ? dryRunHosts(settled, log) : settled;
  // The controllers' writes are noted so they do not wake them again; the
  // webhook's are not: its deletes must wake our objects waiting for a name.
  const hosts = config.dryRun ? served : notingWrites(settled, watch);
  const identity = `${Deno.hostname()}_${crypto.randomUUID()}`;
  const events = config.dryRun ? new DryRunEvents(log) : new KubeEventRecorder({
    api: kube,
    log,
    controller: REPORTING_CONTROLLER,
    instance: identity,
  });
  const sweepKinds: SweepKind[] = [];
  const shared = {
    kube,
    hosts,
    events,
    log,
    metrics,
    workers: config.maxConcurrentReconciles,
    resyncPeriodMs: config.resyncPeriodMs,
    policy: config.policy,
    conflicts,
    entries,
    dryRun: config.dryRun,
  };
  const units = [
    createHostMappingUnit({
      ...shared,
      namespaces: config.namespaces,
      onCache: (cache) =>
        sweepKinds.push({
          controller: HOSTMAPPING_CONTROLLER,
          comment: hostMappingComment,
          adoptTags: [],
          cache,
          scope: { namespaces: config.namespaces },
        }),
    }),
    ...createSourceUnits([
      INGRESSROUTE,
      INGRESSROUTETCP,
      ...(config.enableGateway ? GATEWAY_ROUTES : []),
      ...(config.enableService
        ? [serviceSource({ externalDns: config.externalDnsAnnotations })]
        : []),
      ...(config.enableIngress ? [ingressSource(config.ingressClasses)] : []),
    ], {
      ...shared,
      defaultIngressIP: config.defaultIngressIP,
      ingressService: config.ingressService,
      scope: { namespaces: config.namespaces, labelSelector: config.labelSelector },
      onCache: (source, cache) =>
        sweepKinds.push({
          controller: source.controller,
          comment: source.comment,
          adoptTags: source.adoptTags,
          cache,
          scope: { namespaces: config.namespaces, labelSelector: config.labelSelector },
        }),
    }),
  ];
  units.push(watchUnit(watch));
  if (sweeping) {
    units.push(createOrphanSweepUnit({
      hosts,
      kinds: sweepKinds,
      policy: config.policy,
      intervalMs: config.gcIntervalMs,
      log: log.with({ controller: "orphan-sweep" }),
      metrics,
      deleted: (controller) => metrics.orphansDeleted.inc({ controller }),
      conflicts,
      dryRun: config.dryRun,
    }));
  }

  let elector: LeaderElector | undefined;
  if (config.leaderElect) {
    metrics.leaderElectionMasterStatus.set({ name: LEASE_NAME }, 0);
    elector = new LeaderElector({
      api: kube,
      namespace: leaseNamespace!,
      name: LEASE_NAME,
      identity,
      log,
      onStatus: (leading) =>
        metrics.leaderElectionMasterStatus.set({ name: LEASE_NAME }, leading ? 1 : 0),
    });
  }
  const manager = new Manager({
    log,
    units,
    elector,
    runnables: processRunnables(config, { client, hosts: served, tls, registry, log }),
  });
  const code = await runManager(manager);
  settled.close();
  client.close();
  kube.close();
  return code;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args, Deno.env.toObject()));
}
