/**
 * `--server-address` as a gRPC target, like the Go operator (grpc-go's
 * `grpc.NewClient`): `host:port`, or a `dns:`, `ipv4:`, `ipv6:` or `unix:`
 * target as gRPC's naming document spells them. Parsed once at startup so a
 * typo exits 2 instead of failing every call.
 *
 * @module
 */
import { isIP } from "node:net";

/** Where the TLS diagnosis opens its own connection. */
export type ProbeAddress = { host: string; port: number } | { path: string };

/** A parsed `--server-address`. */
export interface ServerTarget {
  /** The target handed to grpc-js. */
  grpcTarget: string;
  /** How the address is resolved. */
  scheme: "dns" | "ipv4" | "ipv6" | "unix";
  /**
   * The name the server certificate must carry: a DNS name or an IP literal.
   * Undefined for a unix socket: there is no name to check, so only the
   * certificate chain is verified.
   */
  tlsName?: string;
  /** The first address, for the TLS diagnosis. */
  probe: ProbeAddress;
}

const HOST_PORT = /^(?:\[([^\]]+)\]|([^:\s\[\]\/,]+)):(\d{1,5})$/;

function hostPort(text: string): { host: string; port: number } {
  const m = HOST_PORT.exec(text);
  const port = m ? Number(m[3]) : 0;
  if (!m || port < 1 || port > 65535) throw new Error("want host:port");
  if (m[1] !== undefined && isIP(m[1]) !== 6) {
    throw new Error(`"${m[1]}" is not an IPv6 address`);
  }
  return { host: m[1] ?? m[2], port };
}

/**
 * Parses `address`; throws an Error whose message says what is wrong (the
 * caller prefixes the flag and the value).
 *
 * - `host:port`, `[v6]:port`: resolved by DNS (grpc-js' default, as Go's).
 * - `dns:[//authority/]host:port`: the same, spelled out.
 * - `ipv4:a.b.c.d:port[,...]`, `ipv6:[addr]:port[,...]`: fixed addresses;
 *   the certificate must name the first IP.
 * - `unix:/abs/path`, `unix:///abs/path`, `unix:rel/path`: a local socket;
 *   no name check (nothing to compare with), the chain is still verified.
 */
export function parseTarget(address: string): ServerTarget {
  const text = address.trim();
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):(?!\d+$)/.exec(text)?.[1]?.toLowerCase();
  if (scheme === undefined) {
    const hp = hostPort(text);
    return { grpcTarget: text, scheme: "dns", tlsName: hp.host, probe: hp };
  }
  const rest = text.slice(scheme.length + 1);
  switch (scheme) {
    case "dns": {
      // dns:host:port, dns:///host:port, dns://dns-server/host:port
      const m = /^(?:\/\/[^\/]*\/)?(.*)$/.exec(rest)!;
      const hp = hostPort(m[1]);
      return { grpcTarget: text, scheme: "dns", tlsName: hp.host, probe: hp };
    }
    case "ipv4":
    case "ipv6": {
      const want = scheme === "ipv4" ? 4 : 6;
      const addrs = rest.split(",").map((a) => hostPort(a));
      for (const a of addrs) {
        if (isIP(a.host) !== want) {
          throw new Error(`"${a.host}" is not an IPv${want} address`);
        }
        if (want === 6 && !rest.includes("[")) {
          throw new Error(`write IPv6 addresses as [addr]:port`);
        }
      }
      return { grpcTarget: text, scheme, tlsName: addrs[0].host, probe: addrs[0] };
    }
    case "unix": {
      if (rest.startsWith("//") && !rest.startsWith("///")) {
        throw new Error(`want unix:///absolute/path or unix:relative/path`);
      }
      const path = rest.startsWith("///") ? rest.slice(2) : rest;
      if (path === "" || path === "/") throw new Error(`no socket path`);
      return { grpcTarget: `unix:${path}`, scheme: "unix", probe: { path } };
    }
    default:
      throw new Error(
        `unsupported target scheme "${scheme}:" (use host:port, dns:, ipv4:, ipv6: or unix:)`,
      );
  }
}

/** True when `host` is an IPv4 or IPv6 literal. */
export function isIpLiteral(host: string): boolean {
  return isIP(host) !== 0;
}

/** Directories the shipped binary may open unix sockets in (`--allow-write`, see deno.json). */
export const SOCKET_DIRS = ["/run", "/var/run"] as const;

/**
 * Why the process cannot open `target`'s unix socket, or undefined. Deno
 * asks for read and write permission on a socket path before connecting;
 * without them every call would fail with a permission error, so this is
 * checked once at startup instead.
 */
export async function socketPermissionProblem(target: ServerTarget): Promise<string | undefined> {
  if (!("path" in target.probe)) return undefined;
  const path = target.probe.path;
  for (const name of ["read", "write"] as const) {
    const { state } = await Deno.permissions.query({ name, path });
    if (state !== "granted") {
      return `connecting to the unix socket ${path} needs ${name} permission on it: put the socket under ${
        SOCKET_DIRS.join(" or ")
      }, or run main.ts with --allow-${name}=${path}`;
    }
  }
  return undefined;
}
