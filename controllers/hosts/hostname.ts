/**
 * What router-hosts accepts as a hostname: the one check every source, the
 * HostMapping controller and the webhook apply before a name can reach a
 * write.
 *
 * @module
 */

const LABEL = /^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$/;

/**
 * The names of a standard hosts file's own lines (loopback, broadcast and
 * the IPv6 multicast names, with the localhost6 spellings some
 * distributions use). Whoever writes one of them redirects the host's own
 * traffic, so no object and no webhook client may.
 */
export const RESERVED_HOSTNAMES: readonly string[] = [
  "localhost",
  "localhost.localdomain",
  "localhost6",
  "localhost6.localdomain6",
  "broadcasthost",
  "ip6-localhost",
  "ip6-loopback",
  "ip6-localnet",
  "ip6-mcastprefix",
  "ip6-allnodes",
  "ip6-allrouters",
  "ip6-allhosts",
];

/** Why `name` is reserved, or null: the names above, and every name under `localhost` (RFC 6761). */
function reservedProblem(name: string): string | null {
  const lower = name.toLowerCase();
  if (RESERVED_HOSTNAMES.includes(lower)) {
    return `${lower} is a reserved name (a line of every hosts file); it is never written`;
  }
  if (lower.endsWith(".localhost")) {
    return `${lower} is under localhost, which always means this host (RFC 6761); it is never written`;
  }
  return null;
}

/**
 * Why `name` cannot be written: router-hosts would refuse it (its RFC 1035
 * label rules, checked in the server's order), or it is reserved
 * ({@link RESERVED_HOSTNAMES}); null when it can.
 */
export function hostnameProblem(name: string): string | null {
  if (name === "") return "hostname cannot be empty";
  if (new TextEncoder().encode(name).length > 253) {
    return "hostname exceeds maximum length of 253 characters";
  }
  if (name.startsWith(".") || name.endsWith(".")) return "hostname cannot start or end with dot";
  if (name.startsWith("-") || name.endsWith("-")) {
    return "hostname cannot start or end with hyphen";
  }
  for (const label of name.split(".")) {
    if (label === "") return "hostname cannot contain consecutive dots";
    if (!LABEL.test(label)) return `invalid label '${label}' in hostname`;
  }
  return reservedProblem(name);
}
