/**
 * What the operator says about its configuration when it starts: one info
 * line with the settings that matter, then a warning for each setting that
 * will not do what its user may expect.
 *
 * @module
 */
import type { Config } from "./config.ts";
import type { TlsMaterial } from "./grpc/tls.ts";

/** One log line. */
export interface ReportLine {
  level: "info" | "warn";
  msg: string;
  fields?: Record<string, unknown>;
}

/** The start-up lines for `config`, the loaded TLS material and the API server's address. */
export function startupReport(
  config: Config,
  tls: TlsMaterial | undefined,
  kubernetes: string,
  now: number = Date.now(),
): ReportLine[] {
  const { policy } = config;
  const lines: ReportLine[] = [{
    level: "info",
    msg: "starting router-hosts-operator",
    fields: {
      serverAddress: config.serverAddress,
      tls: tls
        ? {
          mode: tls.cert
            ? (config.tls?.caPath ? "mutual TLS" : "client certificate, system roots")
            : "server-authenticated TLS",
          roots: tls.caSource,
          certFingerprint: tls.certFingerprint,
          notAfter: tls.certNotAfter,
        }
        : "disabled",
      kubernetes,
      leaderElection: config.leaderElect,
      workers: config.maxConcurrentReconciles,
      resyncPeriodMs: config.resyncPeriodMs,
      gateway: config.enableGateway,
      namespaces: config.namespaces.length > 0 ? config.namespaces : undefined,
      labelSelector: config.labelSelector || undefined,
      domainFilter: policy.domainFilter.length > 0 ? policy.domainFilter : undefined,
      excludeDomains: policy.excludeDomains.length > 0 ? policy.excludeDomains : undefined,
      policy: policy.mode,
      ownerId: policy.ownerId || undefined,
      dryRun: config.dryRun || undefined,
      gcIntervalMs: config.gcIntervalMs || undefined,
    },
  }];
  const warn = (msg: string, fields?: Record<string, unknown>) =>
    lines.push({ level: "warn", msg, fields });
  if (config.dryRun) {
    warn("--dry-run: every write to router-hosts and Kubernetes is logged at info instead of made");
  }
  if (config.gcIntervalMs > 0 && policy.mode !== "sync") {
    warn("--gc-interval is ignored under --policy=upsert-only: the orphan sweep deletes");
  }
  if (
    config.gcIntervalMs > 0 && policy.mode === "sync" && config.labelSelector && !policy.ownerId
  ) {
    warn(
      "--gc-interval with --label-selector and no --owner-id: the orphan sweep leaves source entries alone (it cannot tell an orphan from an object outside the selector); only HostMapping entries are swept",
    );
  }
  if (tls?.certNotAfter && tls.certNotAfter.getTime() < now) {
    warn("the client certificate has expired; router-hosts will refuse it", {
      flag: "--tls-cert",
      notAfter: tls.certNotAfter,
    });
  }
  if (config.insecure) warn("--insecure: talking to router-hosts without TLS");
  if (tls && config.target.scheme === "unix") {
    lines.push({
      level: "info",
      msg: "unix socket target: the server certificate's chain is verified, its name is not",
    });
  }
  if (!config.defaultIngressIP && !config.ingressService) {
    warn(
      config.enableGateway
        ? "--default-ingress-ip and --ingress-service are empty; IngressRoute and IngressRouteTCP hosts, and Gateway API routes whose parent Gateway has no address, will not be synced until one is set"
        : "--default-ingress-ip and --ingress-service are empty; IngressRoute and IngressRouteTCP hosts will not be synced until one is set",
    );
  }
  return lines;
}
