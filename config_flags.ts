/**
 * Every flag the operator takes, in the order `--help` lists them, and the
 * `--help` text. Parsing and validation are in config.ts.
 *
 * @module
 */

export interface FlagSpec {
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
    name: "namespace",
    kind: "list",
    default: "",
    help:
      "watch only these namespaces (HostMappings and every source; one watch per namespace); repeatable or comma-separated; default: all",
  },
  {
    name: "label-selector",
    kind: "string",
    default: "",
    help:
      "watch only source objects with these labels (a Kubernetes label selector, applied by the API server, e.g. router=lan); not HostMappings, Gateways or the --ingress-service Service",
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
    name: "max-hosts-per-object",
    kind: "int",
    default: "400",
    help:
      "hostnames one object (route, Ingress, Service) may have entries for; beyond it the first ones are kept and the object gets one TooManyHosts Warning",
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
      `serve external-dns's webhook provider API here (e.g. 127.0.0.1:8888, next to external-dns --provider=webhook); "0" disables it; a non-loopback address needs --webhook-allow-network-bind`,
  },
  {
    name: "webhook-allow-network-bind",
    kind: "bool",
    default: "false",
    help:
      "accept a non-loopback --webhook-bind-address: the webhook API has no authentication, so whoever reaches the port can create and delete entries (restrict it, e.g. with the chart's NetworkPolicy)",
  },
  {
    name: "webhook-max-body-bytes",
    kind: "string",
    default: "1Mi",
    help:
      "largest webhook request body (bytes, or with a Ki/Mi suffix); a larger one is answered 413 without being read",
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
