import { assertEquals, assertMatch, assertThrows } from "./tests/assert.ts";
import { ConfigError, HelpRequested, parseConfig, parseDuration, usage } from "./config.ts";

const TLS = ["--tls-ca=/c/ca.crt", "--tls-cert", "/c/tls.crt", "-tls-key=/c/tls.key"];

Deno.test("defaults match the Go operator's flags", () => {
  const c = parseConfig(TLS);
  assertEquals(c.serverAddress, "localhost:50051");
  assertEquals(c.metricsBindAddress, ":8080");
  assertEquals(c.healthProbeBindAddress, ":8081");
  assertEquals(c.leaderElect, false);
  assertEquals(c.defaultIngressIP, "");
  assertEquals(c.logLevel, "info");
  assertEquals(c.maxConcurrentReconciles, 8);
  assertEquals(c.tls, { caPath: "/c/ca.crt", certPath: "/c/tls.crt", keyPath: "/c/tls.key" });
  assertEquals(c.insecure, false);
  assertEquals(c.resyncPeriodMs, 600_000);
  assertEquals(c.enableService, false);
  assertEquals(c.enableIngress, false);
  assertEquals(c.ingressClasses, []);
  assertEquals(c.ingressService, undefined);
  assertEquals(c.externalDnsAnnotations, false);
  assertEquals(c.enableGateway, false);
});

Deno.test("--enable-gateway turns the Gateway API routes on; a bad value names the flag", () => {
  assertEquals(parseConfig([...TLS, "--enable-gateway"]).enableGateway, true);
  assertEquals(parseConfig([...TLS, "-enable-gateway=false"]).enableGateway, false);
  const e = assertThrows(() => parseConfig([...TLS, "--enable-gateway=yes"]));
  assertMatch(e.message, /--enable-gateway/);
});

Deno.test("source flags: --enable-service, --enable-ingress, repeatable --ingress-class, --ingress-service", () => {
  const c = parseConfig([
    ...TLS,
    "--enable-service",
    "-external-dns-annotations=true",
    "--enable-ingress",
    "--ingress-class=traefik",
    "--ingress-class",
    "internal.example.com",
    "--ingress-service",
    "traefik/traefik-lb",
  ]);
  assertEquals(c.enableService, true);
  assertEquals(c.externalDnsAnnotations, true);
  assertEquals(c.enableIngress, true);
  assertEquals(c.ingressClasses, ["traefik", "internal.example.com"]);
  assertEquals(c.ingressService, { namespace: "traefik", name: "traefik-lb" });
  assertEquals(parseConfig([...TLS, "--enable-service=false"]).enableService, false);
  assertMatch(usage(), /--ingress-class string \(repeatable\)/);
});

Deno.test("--resync-period takes Go durations", () => {
  assertEquals(parseConfig([...TLS, "--resync-period=1h30m"]).resyncPeriodMs, 5_400_000);
  assertEquals(parseConfig([...TLS, "--resync-period", "45s"]).resyncPeriodMs, 45_000);
  assertEquals(parseDuration("1500ms"), 1500);
  assertEquals(parseDuration("10"), undefined);
  const e = assertThrows(() => parseConfig([...TLS, "--resync-period=500ms"]));
  assertMatch(e.message, /--resync-period: want a duration of at least 1s/);
});

Deno.test("--watch-inactivity-timeout: 90 s by default, settable, not listed by --help", () => {
  assertEquals(parseConfig(TLS).watchInactivityMs, 90_000);
  assertEquals(
    parseConfig([...TLS, "--watch-inactivity-timeout=5s"]).watchInactivityMs,
    5_000,
  );
  const e = assertThrows(() => parseConfig([...TLS, "--watch-inactivity-timeout=10"]));
  assertMatch(e.message, /--watch-inactivity-timeout: want a duration of at least 1s/);
  assertEquals(usage().includes("watch-inactivity-timeout"), false);
});

Deno.test("Go flag syntax: -x, --x=v, --x v, booleans bare or =true/=false", () => {
  const c = parseConfig([
    ...TLS,
    "-leader-elect",
    "--server-address",
    "[::1]:9000",
    "--metrics-bind-address=0",
    "--default-ingress-ip=192.168.1.10",
    "--max-concurrent-reconciles=8",
    "--log-level",
    "debug",
  ]);
  assertEquals(c.leaderElect, true);
  assertEquals(c.serverAddress, "[::1]:9000");
  assertEquals(c.metricsBindAddress, undefined);
  assertEquals(c.defaultIngressIP, "192.168.1.10");
  assertEquals(c.maxConcurrentReconciles, 8);
  assertEquals(c.logLevel, "debug");
  assertEquals(parseConfig([...TLS, "--leader-elect=false"]).leaderElect, false);
});

Deno.test("kubeconfig and Lease namespace fall back to the environment", () => {
  const c = parseConfig(TLS, { KUBECONFIG: "/k/config", POD_NAMESPACE: "ops" });
  assertEquals(c.kubeconfig, "/k/config");
  assertEquals(c.leaderElectionNamespace, "ops");
  const d = parseConfig([...TLS, "--kubeconfig=/x", "--leader-election-namespace=a"], {
    KUBECONFIG: "/k/config",
  });
  assertEquals([d.kubeconfig, d.leaderElectionNamespace], ["/x", "a"]);
});

Deno.test("TLS modes as the Go operator: CA alone, client certificate alone, or both", () => {
  assertEquals(parseConfig(["--tls-ca=/c/ca.crt"]).tls, { caPath: "/c/ca.crt" });
  assertEquals(parseConfig(["--tls-cert=/c/t.crt", "--tls-key=/c/t.key"]).tls, {
    certPath: "/c/t.crt",
    keyPath: "/c/t.key",
    systemRoots: {},
  });
  // Without --tls-ca the system roots are read where Go reads them.
  assertEquals(
    parseConfig(["--tls-cert=/c/t.crt", "--tls-key=/c/t.key"], {
      SSL_CERT_FILE: "/etc/roots.pem",
      SSL_CERT_DIR: "/a:/b",
    }).tls?.systemRoots,
    { file: "/etc/roots.pem", dirs: ["/a", "/b"] },
  );
  // With --tls-ca the environment does not matter.
  assertEquals(parseConfig(TLS, { SSL_CERT_FILE: "/etc/roots.pem" }).tls?.systemRoots, undefined);
});

Deno.test("--server-address takes gRPC targets", () => {
  const t = (a: string) => parseConfig([...TLS, `--server-address=${a}`]).target;
  assertEquals(t("dns:///router.lan:50051").grpcTarget, "dns:///router.lan:50051");
  assertEquals(t("dns:///router.lan:50051").tlsName, "router.lan");
  assertEquals(t("ipv4:10.0.0.1:50051").scheme, "ipv4");
  assertEquals(t("unix:///run/router-hosts.sock").probe, { path: "/run/router-hosts.sock" });
  assertEquals(
    parseConfig([...TLS, "--server-address=unix:///r.sock"]).serverAddress,
    "unix:///r.sock",
  );
});

Deno.test("--insecure needs no TLS files and refuses them", () => {
  assertEquals(parseConfig(["--insecure"]).tls, undefined);
  const e = assertThrows(() => parseConfig(["--insecure", "--tls-ca=/a"]));
  assertMatch(e.message, /--insecure cannot be combined with --tls-ca/);
});

Deno.test("bad command lines give one line naming the flag", () => {
  const cases: [string[], RegExp][] = [
    [["--bogus"], /unknown flag --bogus/],
    [[], /TLS needs --tls-ca .*--tls-cert and --tls-key .*all three .*or --insecure/],
    [["--tls-cert=/c"], /--tls-cert needs --tls-key/],
    [["--tls-ca=/a", "--tls-key=/k"], /--tls-key needs --tls-cert/],
    [[...TLS, "--server-address=xds:///r"], /--server-address: unsupported target scheme "xds:"/],
    [[...TLS, "--server-address=unix:"], /--server-address: no socket path/],
    [[...TLS, "--server-address=nohost"], /--server-address: want host:port/],
    [[...TLS, "--server-address=h:70000"], /--server-address/],
    [[...TLS, "--server-address=[zz]:1"], /not an IPv6 address/],
    [[...TLS, "--default-ingress-ip=1.2.3"], /--default-ingress-ip: not an IPv4 or IPv6/],
    [[...TLS, "--log-level=loud"], /--log-level: want debug, info, warn, error/],
    [[...TLS, "--max-concurrent-reconciles=0"], /--max-concurrent-reconciles/],
    [[...TLS, "--max-concurrent-reconciles=x"], /--max-concurrent-reconciles/],
    [[...TLS, "--leader-elect=maybe"], /--leader-elect: want true or false/],
    [[...TLS, "--metrics-bind-address=8080"], /--metrics-bind-address: want \[host\]:port/],
    [[...TLS, "--kubeconfig"], /flag --kubeconfig needs a value/],
    [[...TLS, "stray"], /unexpected argument "stray"/],
    [[...TLS, "--enable-service=yes"], /--enable-service: want true or false/],
    [[...TLS, "--enable-ingress=2"], /--enable-ingress: want true or false/],
    [[...TLS, "--ingress-service=traefik"], /--ingress-service: want namespace\/name/],
    [[...TLS, "--ingress-service=a/b/c"], /--ingress-service: want namespace\/name/],
    [[...TLS, "--ingress-service=Traefik/x"], /--ingress-service: want namespace\/name/],
    [[...TLS, "--ingress-service=/x"], /--ingress-service: want namespace\/name/],
    [[...TLS, "--enable-ingress", "--ingress-class="], /--ingress-class: want an IngressClass/],
    [[...TLS, "--enable-ingress", "--ingress-class=A B"], /--ingress-class: want an IngressClass/],
    [[...TLS, "--ingress-class=traefik"], /--ingress-class needs --enable-ingress/],
    [[...TLS, "--external-dns-annotations"], /--external-dns-annotations needs --enable-service/],
  ];
  for (const [args, pattern] of cases) {
    const e = assertThrows(() => parseConfig(args), args.join(" "));
    assertEquals(e instanceof ConfigError, true, args.join(" "));
    assertMatch(e.message, pattern);
    assertEquals(e.message.includes("\n"), false);
  }
});

Deno.test("--help lists every flag", () => {
  assertEquals(assertThrows(() => parseConfig(["--help"])) instanceof HelpRequested, true);
  assertEquals(assertThrows(() => parseConfig(["-h"])) instanceof HelpRequested, true);
  for (
    const flag of [
      "server-address",
      "tls-ca",
      "tls-cert",
      "tls-key",
      "default-ingress-ip",
      "leader-elect",
      "metrics-bind-address",
      "health-probe-bind-address",
      "kubeconfig",
      "insecure",
      "log-level",
      "max-concurrent-reconciles",
      "leader-election-namespace",
      "resync-period",
      "enable-service",
      "external-dns-annotations",
      "enable-ingress",
      "ingress-class",
      "ingress-service",
    ]
  ) assertMatch(usage(), new RegExp(`--${flag}\\b`));
});

Deno.test("policy flags: domain filters repeat and split at commas; policy, owner id, dry run, gc interval", () => {
  const c = parseConfig([
    ...TLS,
    "--domain-filter=Home.Arpa.",
    "--domain-filter",
    "lan,.example.org",
    "--exclude-domains=private.home.arpa",
    "--policy=upsert-only",
    "--owner-id=cluster-a",
    "--dry-run",
    "--gc-interval=1h",
    "--max-hosts-per-object=50",
  ]);
  assertEquals(c.policy, {
    domainFilter: ["home.arpa", "lan", "example.org"],
    excludeDomains: ["private.home.arpa"],
    mode: "upsert-only",
    ownerId: "cluster-a",
    maxHostsPerObject: 50,
  });
  assertEquals(c.dryRun, true);
  assertEquals(c.gcIntervalMs, 3_600_000);
  const d = parseConfig(TLS);
  assertEquals(d.policy, {
    domainFilter: [],
    excludeDomains: [],
    mode: "sync",
    ownerId: "",
    maxHostsPerObject: 400,
  });
  assertEquals(d.dryRun, false);
  assertEquals(d.gcIntervalMs, 0);
});

Deno.test("bad policy flags name the flag", () => {
  for (
    const [arg, flag] of [
      ["--policy=delete", "--policy"],
      ["--owner-id=a b", "--owner-id"],
      ["--max-hosts-per-object=0", "--max-hosts-per-object"],
      ["--max-hosts-per-object=many", "--max-hosts-per-object"],
      ["--owner-id=owner:x", "--owner-id"],
      ["--domain-filter=bad..name", "--domain-filter"],
      ["--exclude-domains=*.x", "--exclude-domains"],
      ["--gc-interval=500ms", "--gc-interval"],
      ["--gc-interval=soon", "--gc-interval"],
    ]
  ) {
    const e = assertThrows(() => parseConfig([...TLS, arg]));
    assertMatch(e.message, new RegExp(flag));
  }
});

Deno.test("--webhook-bind-address is off by default; --controllers=false needs it", () => {
  const d = parseConfig([...TLS]);
  assertEquals([d.webhookBindAddress, d.controllers], [undefined, true]);
  const w = parseConfig([...TLS, "--webhook-bind-address=127.0.0.1:8888", "--controllers=false"]);
  assertEquals([w.webhookBindAddress, w.controllers], ["127.0.0.1:8888", false]);
  assertEquals(parseConfig([...TLS, "--webhook-bind-address=0"]).webhookBindAddress, undefined);
  assertMatch(
    assertThrows(() => parseConfig([...TLS, "--controllers=false"])).message,
    /^--controllers=false needs --webhook-bind-address/,
  );
  assertMatch(
    assertThrows(() => parseConfig([...TLS, "--webhook-bind-address=8888"])).message,
    /^invalid value "8888" for flag --webhook-bind-address/,
  );
});

Deno.test("scope flags: --namespace repeats and splits at commas; --label-selector is kept as given", () => {
  const d = parseConfig(TLS);
  assertEquals([d.namespaces, d.labelSelector], [[], ""]);
  const c = parseConfig([
    ...TLS,
    "--namespace=apps,web",
    "--namespace",
    "apps",
    "--namespace=infra",
    "--label-selector=router in (lan, wan),!legacy,tier!=dev,example.com/team=a,x",
  ]);
  assertEquals(c.namespaces, ["apps", "web", "infra"]);
  assertEquals(c.labelSelector, "router in (lan, wan),!legacy,tier!=dev,example.com/team=a,x");
  assertMatch(usage(), /--namespace\b/);
  assertMatch(usage(), /--label-selector\b/);
});

Deno.test("bad scope flags name the flag and the bad part", () => {
  for (
    const [arg, pattern] of [
      ["--namespace=Apps", /--namespace/],
      ["--namespace=a/b", /--namespace/],
      ["--label-selector=router=a b", /--label-selector.*"router=a b" is not/],
      ["--label-selector=a=b,,c", /--label-selector: "" is not/],
      ["--label-selector=router in lan", /--label-selector/],
      ["--label-selector=a==b==c", /--label-selector/],
      ["--label-selector=-bad=x", /--label-selector/],
    ] as const
  ) {
    const e = assertThrows(() => parseConfig([...TLS, arg]), arg);
    assertMatch(e.message, pattern);
  }
});

Deno.test("a non-loopback --webhook-bind-address needs --webhook-allow-network-bind", () => {
  for (const addr of ["127.0.0.1:8888", "127.3.0.1:1", "[::1]:8888", "localhost:8888"]) {
    assertEquals(parseConfig([...TLS, `--webhook-bind-address=${addr}`]).webhookBindAddress, addr);
  }
  for (const addr of [":8888", "0.0.0.0:8888", "[::]:8888", "10.0.0.5:8888", "[fd00::1]:8888"]) {
    const e = assertThrows(() => parseConfig([...TLS, `--webhook-bind-address=${addr}`]));
    assertMatch(e.message, /is not a loopback address: the webhook API has no authentication/);
    assertMatch(e.message, /--webhook-allow-network-bind/);
    const allowed = parseConfig([
      ...TLS,
      `--webhook-bind-address=${addr}`,
      "--webhook-allow-network-bind",
    ]);
    assertEquals(allowed.webhookBindAddress, addr);
  }
});

Deno.test("--webhook-max-body-bytes: 1 MiB by default, a byte count or Ki/Mi/Gi", () => {
  assertEquals(parseConfig([...TLS]).webhookMaxBodyBytes, 1024 * 1024);
  assertEquals(
    parseConfig([...TLS, "--webhook-max-body-bytes=64Mi"]).webhookMaxBodyBytes,
    64 << 20,
  );
  assertEquals(parseConfig([...TLS, "--webhook-max-body-bytes=5000"]).webhookMaxBodyBytes, 5000);
  for (const bad of ["0", "1MB", "-1", "lots"]) {
    assertMatch(
      assertThrows(() => parseConfig([...TLS, `--webhook-max-body-bytes=${bad}`])).message,
      /--webhook-max-body-bytes: want a positive byte count/,
    );
  }
});
