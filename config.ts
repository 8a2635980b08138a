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
import { parseTarget, type ServerTarget } from "./grpc/target.ts";
import type { TlsFiles } from "./grpc/tls.ts";
import { normalizeDomain, type Policy } from "./controllers/hosts/policy.ts";
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
  /** Run the controllers (false: only the webhook, no Kubernetes access). */
  controllers: boolean;
}

/** A bad command line; `main` prints the message and exits 2. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** `--help` was asked for; `main` prints {@link usage} and exits 0. */
export class HelpRequested extends Error {}

interface FlagSpec {
  name: string;
  /** "list": a string flag that may be given more than once. */
  kind: "string" | "bool" | "int" | "duration" | "list";
  default: string;
  help: string;
  /** Accepted but not listed by --help: a knob for tests, not part of the contract. */
  hidden?: boolean;
}

/** Every flag, in the order `--help` lists them. */
export const FLAGS: readonly FlagSpec[] = [
  {
    name: "server-address",
    kind: "string",
    default: "localhost:50051",
    help:
      "router-hosts gRPC target: host:port, dns:///host:port, ipv4:ip:port, ipv6:[ip]:port or unix:///path",
  },
  {
    name: "tls-ca",
    kind: "string",
    default: "",
    help:
      "PEM file of the CA that signed the router-hosts server certificate (default: the system roots)",
  },
  {
    name: "tls-cert",
    kind: "string",
    default: "",
    help: "PEM file of the operator's client certificate (mutual TLS; needs --tls-key)",
  },
  {
    name: "tls-key",
    kind: "string",
    default: "",
    help: "PEM file of the operator's client private key (mutual TLS; needs --tls-cert)",
  },
  {
    name: "insecure",
    kind: "bool",
    default: "false",
    help: "plaintext gRPC without TLS, for development only",
  },
  {
    name: "default-ingress-ip",
    kind: "string",
    default: "",
    help:
      "IP address of every host taken from IngressRoute/IngressRouteTCP rules (with --ingress-service, the fallback while that Service has no address), and of Gateway API routes whose parent Gateway reports no address",
  },
  {
    name: "enable-gateway",
    kind: "bool",
    default: "false",
    help:
      "also sync the hostnames of Gateway API HTTPRoute, GRPCRoute and TLSRoute objects (gateway.networking.k8s.io/v1)",
  },
  {
    name: "ingress-service",
    kind: "string",
    default: "",
    help:
      "namespace/name of the Service (e.g. Traefik's) whose LoadBalancer address is the IP of IngressRoute/IngressRouteTCP hosts; entries follow it when it changes",
  },
  {
    name: "enable-service",
    kind: "bool",
    default: "false",
    help:
      `sync Services annotated router-hosts.fzymgc.house/enabled: "true" (types LoadBalancer and NodePort)`,
  },
  {
    name: "external-dns-annotations",
    kind: "bool",
    default: "false",
    help:
      "with --enable-service, also sync Services annotated external-dns.alpha.kubernetes.io/hostname (and honour .../target)",
  },
  {
    name: "enable-ingress",
    kind: "bool",
    default: "false",
    help: "sync the hosts of networking.k8s.io/v1 Ingresses",
  },
  {
    name: "ingress-class",
    kind: "list",
    default: "",
    help:
      "with --enable-ingress, only Ingresses of this class (spec.ingressClassName or the kubernetes.io/ingress.class annotation); repeatable",
  },
  {
    name: "leader-elect",
    kind: "bool",
    default: "false",
    help: "elect one active replica with a coordination.k8s.io Lease",
  },
  {
    name: "leader-election-namespace",
    kind: "string",
    default: "",
    help: "namespace of the Lease (default: the pod's namespace)",
  },
  {
    name: "metrics-bind-address",
    kind: "string",
    default: ":8080",
    help: `address of the Prometheus /metrics endpoint; "0" disables it`,
  },
  {
    name: "health-probe-bind-address",
    kind: "string",
    default: ":8081",
    help: `address of /healthz and /readyz; "0" disables them`,
  },
  {
    name: "kubeconfig",
    kind: "string",
    default: "",
    help:
      "kubeconfig file (default: $KUBECONFIG, then the in-cluster service account, then ~/.kube/config)",
  },
  { name: "log-level", kind: "string", default: "info", help: "debug, info, warn or error" },
  {
    name: "max-concurrent-reconciles",
    kind: "int",
    default: "8",
    help: "reconcile workers per controller",
  },
  {
    name: "resync-period",
    kind: "duration",
    default: "10m",
    help:
      "how often every object is re-checked against the server (finds entries changed or deleted out of band), e.g. 30s, 10m, 1h",
  },
  {
    name: "watch-inactivity-timeout",
    kind: "duration",
    default: "90s",
    help: "a watch that receives nothing for this long is ended and re-established",
    hidden: true,
  },
  {
    name: "domain-filter",
    kind: "list",
    default: "",
    help:
      "manage only hostnames under this domain (suffix on a label boundary, any case); repeatable or comma-separated; default: every name",
  },
  {
    name: "exclude-domains",
    kind: "list",
    default: "",
    help: "never manage hostnames under this domain; repeatable or comma-separated",
  },
  {
    name: "policy",
    kind: "string",
    default: "sync",
    help:
      "sync: entries follow their objects, deletions included; upsert-only: entries are created and updated, never deleted, and no finalizer is added",
  },
  {
    name: "owner-id",
    kind: "string",
    default: "",
    help:
      "tag every entry owner:<id> and touch only entries with this tag (or none, adopted and tagged); for several clusters sharing one router-hosts server",
  },
  {
    name: "dry-run",
    kind: "bool",
    default: "false",
    help:
      "read and plan everything, log every write it would make (router-hosts and Kubernetes) at info, make none",
  },
  {
    name: "gc-interval",
    kind: "duration",
    default: "0",
    help:
      "orphan sweep: this often, delete our entries whose object no longer exists (e.g. a finalizer removed by hand); 0 = off, 1h recommended",
  },
  {
    name: "webhook-bind-address",
    kind: "string",
    default: "0",
    help:
      `serve external-dns's webhook provider API here (e.g. 127.0.0.1:8888, next to external-dns --provider=webhook); "0" disables it`,
  },
  {
    name: "controllers",
    kind: "bool",
    default: "true",
    help:
      "run the controllers; false runs only the external-dns webhook (needs --webhook-bind-address; no Kubernetes access)",
  },
];

/** The `--help` text. */
export function usage(): string {
  const lines = ["Usage: router-hosts-operator [flags]", "", "Flags:"];
  for (const f of FLAGS) {
    if (f.hidden) continue;
    const arg = f.kind === "bool" ? "" : f.kind === "list" ? " string (repeatable)" : ` ${f.kind}`;
    const def = f.default === "" || f.default === "false" || f.default === "0"
      ? ""
      : ` (default ${JSON.stringify(f.default)})`;
    lines.push(`  --${f.name}${arg}`, `      ${f.help}${def}`);
  }
  return lines.join("\n");
}

function parseBool(name: string, value: string): boolean {
  if (/^(1|t|true)$/i.test(value)) return true;
  if (/^(0|f|false)$/i.test(value)) return false;
  throw new ConfigError(`invalid value "${value}" for flag --${name}: want true or false`);
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

function validBindAddress(name: string, value: string): string | undefined {
  if (value === "0") return undefined;
  const m = /^(\[[^\]]*\]|[^:]*):(\d{1,5})$/.exec(value);
  if (!m || Number(m[2]) > 65535) {
    throw new ConfigError(
      `invalid value "${value}" for flag --${name}: want [host]:port, or "0" to disable`,
    );
  }
  return value;
}

function validServerAddress(value: string): ServerTarget {
  try {
    return parseTarget(value);
  } catch (e) {
    throw new ConfigError(
      `invalid value "${value}" for flag --server-address: ${(e as Error).message}`,
    );
  }
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
    },
    dryRun: parseBool("dry-run", get("dry-run")),
    gcIntervalMs,
    controllers: parseBool("controllers", get("controllers")),
  };
  const ingressService = parseObjectRef("ingress-service", get("ingress-service"));
  if (ingressService) config.ingressService = ingressService;
  if (tls) config.tls = tls;
  const webhook = validBindAddress("webhook-bind-address", get("webhook-bind-address"));
  if (webhook) config.webhookBindAddress = webhook;
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

/** A DNS-1123 label: namespaces and Service names. */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** A DNS-1123 subdomain: IngressClass names. */
const DNS_SUBDOMAIN =
  /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** `namespace/name`, or undefined when empty. */
function parseObjectRef(
  flag: string,
  value: string,
): { namespace: string; name: string } | undefined {
  if (value === "") return undefined;
  const [namespace, name, ...rest] = value.split("/");
  if (rest.length > 0 || !DNS_LABEL.test(namespace) || !DNS_LABEL.test(name ?? "")) {
    throw new ConfigError(
      `invalid value "${value}" for flag --${flag}: want namespace/name of a Service, e.g. traefik/traefik`,
    );
  }
  return { namespace, name };
}

/** Every suffix of a repeatable domain flag, split at commas, normalised. */
function domains(name: string, values: string[] | undefined): string[] {
  const out: string[] = [];
  for (const part of (values ?? []).flatMap((v) => v.split(","))) {
    if (part.trim() === "") continue;
    const d = normalizeDomain(part);
    if (!/^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$/.test(d)) {
      throw new ConfigError(`invalid value "${part}" for flag --${name}: not a domain name`);
    }
    if (!out.includes(d)) out.push(d);
  }
  return out;
}

function policyMode(value: string): Policy["mode"] {
  if (value === "sync" || value === "upsert-only") return value;
  throw new ConfigError(`invalid value "${value}" for flag --policy: want sync or upsert-only`);
}

/** An owner id becomes part of a tag: keep it short and free of separators. */
function ownerId(value: string): string {
  if (value !== "" && !/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(value)) {
    throw new ConfigError(
      `invalid value "${value}" for flag --owner-id: want 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit`,
    );
  }
  return value;
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A Go duration ("1h30m", "45s", "500ms") in milliseconds, or undefined when malformed. */
export function parseDuration(text: string): number | undefined {
  if (!/^(\d+(\.\d+)?(ms|s|m|h))+$/.test(text)) return undefined;
  let total = 0;
  for (const m of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) {
    total += Number(m[1]) * UNIT_MS[m[2]];
  }
  return total;
}
