/**
 * Command-line flags, parsed and validated once at the edge. Nothing else in
 * the program reads flags or the environment.
 *
 * Go `flag` package conventions, so the Go operator's manifests keep working:
 * `-name` or `--name`, `--name=value` or `--name value`, booleans as
 * `--name` or `--name=true|false`.
 *
 * @module
 */
import { isIP } from "node:net";
import type { ServerTarget } from "./grpc/target.ts";
import type { TlsFiles } from "./grpc/tls.ts";
import type { Policy } from "./controllers/hosts/policy.ts";
import { FLAGS } from "./config_flags.ts";
import {
  byteSize,
  ConfigError,
  DNS_SUBDOMAIN,
  domains,
  HelpRequested,
  isLoopbackBind,
  labelSelector,
  namespaces,
  ownerId,
  parseBool,
  parseDuration,
  parseObjectRef,
  policyMode,
  validBindAddress,
  validServerAddress,
} from "./config_values.ts";

export { ConfigError, HelpRequested, parseDuration } from "./config_values.ts";
export { FLAGS, usage } from "./config_flags.ts";
import { type Level, LEVELS } from "./observability/log.ts";

/** The operator's validated configuration. */
export interface Config {
  /** --server-address as given (for logs and messages). */
  serverAddress: string;
  /** --server-address parsed. */
  target: ServerTarget;
  /**
   * undefined with --insecure. --tls-ca alone: server-authenticated TLS;
   * --tls-cert + --tls-key: a client certificate, the server verified
   * against the system roots; all three: mutual TLS.
   */
  tls?: TlsFiles;
  insecure: boolean;
  defaultIngressIP: string;
  /** Reconcile the Gateway API routes (HTTPRoute, GRPCRoute, TLSRoute). */
  enableGateway: boolean;
  leaderElect: boolean;
  leaderElectionNamespace?: string;
  /** undefined when disabled ("0"). */
  metricsBindAddress?: string;
  healthProbeBindAddress?: string;
  kubeconfig?: string;
  logLevel: Level;
  maxConcurrentReconciles: number;
  /** Every object is re-checked against the server this often. */
  resyncPeriodMs: number;
  /** `--namespace`: the only namespaces watched; empty: all. */
  namespaces: string[];
  /** `--label-selector`: source objects must match it; "" = every object. */
  labelSelector: string;
  /** Opted-in Services become entries (`--enable-service`). */
  enableService: boolean;
  /** networking.k8s.io/v1 Ingresses become entries (`--enable-ingress`). */
  enableIngress: boolean;
  /** `--ingress-class` values; empty: every Ingress, whatever its class. */
  ingressClasses: string[];
  /** `--ingress-service`: the Service whose LoadBalancer address is the ingress IP. */
  ingressService?: { namespace: string; name: string };
  /** Services annotated for external-dns are synced too (`--external-dns-annotations`). */
  externalDnsAnnotations: boolean;
  /** A watch silent this long is ended and re-established (hidden flag; tests shorten it). */
  watchInactivityMs: number;
  /** Domain filter, policy and owner id (controllers/hosts/policy.ts). */
  policy: Policy;
  /** Read and plan everything, log each write, make none. */
  dryRun: boolean;
  /** Orphan sweep interval; 0 = off. */
  gcIntervalMs: number;
  /** The external-dns webhook provider's listen address; undefined = off. */
  webhookBindAddress?: string;
  /** The largest webhook request body, in bytes (`--webhook-max-body-bytes`). */
  webhookMaxBodyBytes: number;
  /** Run the controllers (false: only the webhook, no Kubernetes access). */
  controllers: boolean;
}

/** Reads flags into a name → raw values map (the last wins, but for lists), Go style. */
function scan(args: readonly string[]): Map<string, string[]> {
  const byName = new Map(FLAGS.map((f) => [f.name, f]));
  const values = new Map<string, string[]>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") {
      if (i + 1 < args.length) throw new ConfigError(`unexpected argument "${args[i + 1]}"`);
      break;
    }
    const m = /^--?([^=]+)(?:=(.*))?$/s.exec(arg);
    if (!m || arg === "-") {
      throw new ConfigError(`unexpected argument "${arg}" (flags start with --)`);
    }
    const [, name, inline] = m;
    if (name === "help" || name === "h") throw new HelpRequested();
    const spec = byName.get(name);
    if (!spec) throw new ConfigError(`unknown flag --${name} (see --help)`);
    let value = inline;
    if (value === undefined) {
      if (spec.kind === "bool") value = "true";
      else if (i + 1 < args.length) value = args[++i];
      else throw new ConfigError(`flag --${name} needs a value`);
    }
    values.set(name, spec.kind === "list" ? [...values.get(name) ?? [], value] : [value]);
  }
  return values;
}

/** Environment values the configuration may fall back to. */
export interface ConfigEnv {
  KUBECONFIG?: string;
  /** The pod's namespace (downward API), for the Lease. */
  POD_NAMESPACE?: string;
  /** A PEM bundle replacing the system roots (as Go reads it), when --tls-ca is not given. */
  SSL_CERT_FILE?: string;
  /** Colon-separated directories of PEM roots (as Go reads them), when --tls-ca is not given. */
  SSL_CERT_DIR?: string;
}

/** Parses and validates the command line. Throws {@link ConfigError} or {@link HelpRequested}. */
export function parseConfig(args: readonly string[], env: ConfigEnv = {}): Config {
  const raw = scan(args);
  const get = (name: string) =>
    raw.get(name)?.at(-1) ?? FLAGS.find((f) => f.name === name)!.default;

  const insecure = parseBool("insecure", get("insecure"));
  const caPath = get("tls-ca"), certPath = get("tls-cert"), keyPath = get("tls-key");
  const given = [["--tls-ca", caPath], ["--tls-cert", certPath], ["--tls-key", keyPath]].filter((
    [, v],
  ) => v !== "");
  let tls: Config["tls"];
  if (insecure) {
    if (given.length > 0) {
      throw new ConfigError(
        `--insecure cannot be combined with ${given.map(([n]) => n).join(", ")}`,
      );
    }
  } else if (given.length === 0) {
    throw new ConfigError(
      "TLS needs --tls-ca (server-authenticated TLS), --tls-cert and --tls-key (client certificate, " +
        "server verified against the system roots), or all three (mutual TLS); or --insecure for a " +
        "plaintext development server",
    );
  } else if ((certPath === "") !== (keyPath === "")) {
    const [has, lacks] = certPath === ""
      ? ["--tls-key", "--tls-cert"]
      : ["--tls-cert", "--tls-key"];
    throw new ConfigError(`${has} needs ${lacks}: a client certificate and its key go together`);
  } else {
    tls = {};
    if (caPath) tls.caPath = caPath;
    if (certPath) (tls.certPath = certPath), (tls.keyPath = keyPath);
    if (!caPath) {
      const roots: NonNullable<TlsFiles["systemRoots"]> = {};
      if (env.SSL_CERT_FILE) roots.file = env.SSL_CERT_FILE;
      const dirs = (env.SSL_CERT_DIR ?? "").split(":").filter(Boolean);
      if (dirs.length > 0) roots.dirs = dirs;
      tls.systemRoots = roots;
    }
  }

  const ingressIP = get("default-ingress-ip");
  if (ingressIP !== "" && isIP(ingressIP) === 0) {
    throw new ConfigError(
      `invalid value "${ingressIP}" for flag --default-ingress-ip: not an IPv4 or IPv6 address`,
    );
  }

  const level = get("log-level");
  if (!(LEVELS as readonly string[]).includes(level)) {
    throw new ConfigError(
      `invalid value "${level}" for flag --log-level: want ${LEVELS.join(", ")}`,
    );
  }

  const workersRaw = get("max-concurrent-reconciles");
  const workers = Number(workersRaw);
  if (!/^\d+$/.test(workersRaw) || workers < 1 || workers > 256) {
    throw new ConfigError(
      `invalid value "${workersRaw}" for flag --max-concurrent-reconciles: want a whole number from 1 to 256`,
    );
  }

  const resync = get("resync-period");
  const resyncPeriodMs = parseDuration(resync);
  if (resyncPeriodMs === undefined || resyncPeriodMs < 1000) {
    throw new ConfigError(
      `invalid value "${resync}" for flag --resync-period: want a duration of at least 1s, e.g. 30s, 10m, 1h`,
    );
  }

  const enableService = parseBool("enable-service", get("enable-service"));
  const enableIngress = parseBool("enable-ingress", get("enable-ingress"));
  const externalDnsAnnotations = parseBool(
    "external-dns-annotations",
    get("external-dns-annotations"),
  );
  if (externalDnsAnnotations && !enableService) {
    throw new ConfigError("--external-dns-annotations needs --enable-service");
  }
  const ingressClasses = raw.get("ingress-class") ?? [];
  for (const c of ingressClasses) {
    if (!DNS_SUBDOMAIN.test(c)) {
      throw new ConfigError(
        `invalid value "${c}" for flag --ingress-class: want an IngressClass name (lower-case letters, digits, "-" and ".")`,
      );
    }
  }
  if (ingressClasses.length > 0 && !enableIngress) {
    throw new ConfigError("--ingress-class needs --enable-ingress");
  }
  const inactivity = get("watch-inactivity-timeout");
  const watchInactivityMs = parseDuration(inactivity);
  if (watchInactivityMs === undefined || watchInactivityMs < 1000) {
    throw new ConfigError(
      `invalid value "${inactivity}" for flag --watch-inactivity-timeout: want a duration of at least 1s, e.g. 90s`,
    );
  }
  const maxHostsRaw = get("max-hosts-per-object");
  const maxHostsPerObject = Number(maxHostsRaw);
  if (!/^\d+$/.test(maxHostsRaw) || maxHostsPerObject < 1 || maxHostsPerObject > 10_000) {
    throw new ConfigError(
      `invalid value "${maxHostsRaw}" for flag --max-hosts-per-object: want a whole number from 1 to 10000`,
    );
  }
  const gc = get("gc-interval");
  const gcIntervalMs = gc === "0" ? 0 : parseDuration(gc);
  if (gcIntervalMs === undefined || (gcIntervalMs > 0 && gcIntervalMs < 1000)) {
    throw new ConfigError(
      `invalid value "${gc}" for flag --gc-interval: want 0 (off) or a duration of at least 1s, e.g. 1h`,
    );
  }

  const kubeconfig = get("kubeconfig") || env.KUBECONFIG || undefined;
  const config: Config = {
    serverAddress: get("server-address"),
    target: validServerAddress(get("server-address")),
    insecure,
    defaultIngressIP: ingressIP,
    enableGateway: parseBool("enable-gateway", get("enable-gateway")),
    leaderElect: parseBool("leader-elect", get("leader-elect")),
    logLevel: level as Level,
    maxConcurrentReconciles: workers,
    resyncPeriodMs,
    namespaces: namespaces(raw.get("namespace")),
    labelSelector: labelSelector(get("label-selector")),
    enableService,
    enableIngress,
    ingressClasses,
    externalDnsAnnotations,
    watchInactivityMs,
    policy: {
      domainFilter: domains("domain-filter", raw.get("domain-filter")),
      excludeDomains: domains("exclude-domains", raw.get("exclude-domains")),
      mode: policyMode(get("policy")),
      ownerId: ownerId(get("owner-id")),
      maxHostsPerObject,
    },
    dryRun: parseBool("dry-run", get("dry-run")),
    gcIntervalMs,
    controllers: parseBool("controllers", get("controllers")),
    webhookMaxBodyBytes: byteSize("webhook-max-body-bytes", get("webhook-max-body-bytes")),
  };
  const ingressService = parseObjectRef("ingress-service", get("ingress-service"));
  if (ingressService) config.ingressService = ingressService;
  if (tls) config.tls = tls;
  const webhook = validBindAddress("webhook-bind-address", get("webhook-bind-address"));
  const allowNetwork = parseBool("webhook-allow-network-bind", get("webhook-allow-network-bind"));
  if (webhook) {
    if (!allowNetwork && !isLoopbackBind(webhook)) {
      throw new ConfigError(
        `--webhook-bind-address=${webhook} is not a loopback address: the webhook API has no authentication, so anyone who reaches this port can create and delete hosts entries; bind 127.0.0.1 (external-dns as a sidecar), or pass --webhook-allow-network-bind to accept that risk (and restrict who reaches the port, e.g. with a NetworkPolicy)`,
      );
    }
    config.webhookBindAddress = webhook;
  }
  if (!config.controllers && !webhook) {
    throw new ConfigError(
      "--controllers=false needs --webhook-bind-address: without controllers and webhook nothing would run",
    );
  }
  const leNamespace = get("leader-election-namespace") || env.POD_NAMESPACE;
  if (leNamespace) config.leaderElectionNamespace = leNamespace;
  const metrics = validBindAddress("metrics-bind-address", get("metrics-bind-address"));
  if (metrics) config.metricsBindAddress = metrics;
  const health = validBindAddress("health-probe-bind-address", get("health-probe-bind-address"));
  if (health) config.healthProbeBindAddress = health;
  if (kubeconfig) config.kubeconfig = kubeconfig;
  return config;
}
