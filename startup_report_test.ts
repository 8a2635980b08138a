import { Buffer } from "node:buffer";
import { parseConfig } from "./config.ts";
import type { TlsMaterial } from "./grpc/tls.ts";
import { startupReport } from "./startup_report.ts";
import { assertEquals } from "./tests/assert.ts";

const TLS = ["--tls-ca=/c/ca.crt", "--tls-cert=/c/tls.crt", "--tls-key=/c/tls.key"];
const material: TlsMaterial = {
  ca: Buffer.from(""),
  caSource: "--tls-ca",
  cert: Buffer.from(""),
  key: Buffer.from(""),
  certFingerprint: "AB:CD",
  certNotAfter: new Date("2030-01-01T00:00:00Z"),
};
const NOW = Date.parse("2029-01-01T00:00:00Z");

Deno.test("a plain configuration: the settings line and nothing to warn about", () => {
  const config = parseConfig([...TLS, "--default-ingress-ip=10.0.0.1"]);
  const lines = startupReport(config, material, "https://api:6443", NOW);
  assertEquals(lines.length, 1);
  assertEquals(lines[0].msg, "starting router-hosts-operator");
  assertEquals(lines[0].fields?.kubernetes, "https://api:6443");
  assertEquals(lines[0].fields?.tls, {
    mode: "mutual TLS",
    roots: "--tls-ca",
    certFingerprint: "AB:CD",
    notAfter: material.certNotAfter,
  });
});

Deno.test("each surprising setting is a warning that names the flag", () => {
  const config = parseConfig([
    ...TLS,
    "--dry-run",
    "--policy=upsert-only",
    "--gc-interval=1h",
    "--enable-gateway",
  ]);
  const expired = { ...material, certNotAfter: new Date("2028-01-01T00:00:00Z") };
  const lines = startupReport(config, expired, "https://api:6443", NOW).slice(1);
  assertEquals(lines.map((l) => [l.level, l.msg.split(/[:;]/)[0]]), [
    ["warn", "--dry-run"],
    ["warn", "--gc-interval is ignored under --policy=upsert-only"],
    ["warn", "the client certificate has expired"],
    ["warn", "--default-ingress-ip and --ingress-service are empty"],
  ]);
  assertEquals(lines[2].fields?.flag, "--tls-cert");
  assertEquals(lines[3].msg.includes("Gateway API routes"), true, "--enable-gateway is mentioned");
});

Deno.test("--insecure warns; a unix socket over TLS says its name is not verified", () => {
  const insecure = parseConfig(["--insecure", "--ingress-service=kube-system/traefik"]);
  assertEquals(
    startupReport(insecure, undefined, "https://api", NOW).slice(1).map((l) => l.msg),
    ["--insecure: talking to router-hosts without TLS"],
  );
  const unix = parseConfig([
    ...TLS,
    "--server-address=unix:///run/rh.sock",
    "--ingress-service=a/b",
  ]);
  assertEquals(
    startupReport(unix, material, "https://api", NOW).slice(1).map((l) => [l.level, l.msg]),
    [["info", "unix socket target: the server certificate's chain is verified, its name is not"]],
  );
});

Deno.test("the scope is in the settings line; a sweep under a selector without an owner id warns", () => {
  const args = [...TLS, "--default-ingress-ip=10.0.0.1", "--namespace=a,b"];
  const scoped = parseConfig([...args, "--label-selector=router=lan", "--gc-interval=1h"]);
  const lines = startupReport(scoped, material, "https://api", NOW);
  assertEquals([lines[0].fields?.namespaces, lines[0].fields?.labelSelector], [
    ["a", "b"],
    "router=lan",
  ]);
  assertEquals(lines.slice(1).map((l) => l.msg.split(":")[0]), [
    "--gc-interval with --label-selector and no --owner-id",
  ]);
  const owned = parseConfig([
    ...args,
    "--label-selector=router=lan",
    "--gc-interval=1h",
    "--owner-id=a",
  ]);
  assertEquals(startupReport(owned, material, "https://api", NOW).length, 1);
  const plain = startupReport(parseConfig(args), material, "https://api", NOW);
  assertEquals(plain[0].fields?.labelSelector, undefined);
});
