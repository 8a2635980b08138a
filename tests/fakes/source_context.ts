/**
 * A {@link SourceContext} for unit tests of sources and the engine: a fixed
 * `--default-ingress-ip`, watched objects from a function, DNS from a table
 * (a name not in it fails the lookup).
 *
 * @module
 */
import { ClusterIngressIP, type DnsResolver } from "../../controllers/engine/ip_source.ts";
import type { SourceContext } from "../../controllers/engine/source.ts";

/** Options of {@link fakeContext}. */
export interface FakeContextOptions {
  defaultIngressIP?: string;
  cached?: SourceContext["cached"];
  /** A records by name. */
  dns?: Record<string, string[]>;
}

/** The context; no `--ingress-service`, so the cluster IP is the default IP. */
export function fakeContext(o: FakeContextOptions = {}): SourceContext {
  const table = o.dns ?? {};
  const dns: DnsResolver = {
    resolve4: (name) =>
      table[name] ? Promise.resolve(table[name]) : Promise.reject(new Error("SERVFAIL")),
    resolve6: () => Promise.resolve([]),
  };
  const defaultIngressIP = o.defaultIngressIP ?? "";
  const cluster = new ClusterIngressIP({ defaultIngressIP, dns });
  return {
    defaultIngressIP,
    cached: o.cached ?? (() => undefined),
    clusterIngressIP: () => cluster.resolve(() => undefined),
    dns,
  };
}
