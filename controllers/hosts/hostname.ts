/**
 * What router-hosts accepts as a hostname: the one check every source, the
 * HostMapping controller and the webhook apply before a name can reach a
 * write.
 *
 * @module
 */

const LABEL = /^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$/;

/**
 * Why router-hosts would refuse `name` as a hostname (its RFC 1035 label
 * rules, checked in the server's order), or null when it accepts it.
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
  return null;
}
