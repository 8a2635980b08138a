/**
 * One spelling per address, so `FD00::1`, `fd00::1` and `fd00:0::1` make
 * one router-hosts entry, not three: the server compares addresses as text.
 *
 * @module
 */
import { isIP } from "node:net";

/**
 * The canonical text of an IPv4 or IPv6 address, or undefined when `text`
 * is neither (zones such as `fe80::1%eth0` included: the server refuses
 * them). IPv4 is dotted decimal as given (leading zeros are not an address
 * here). IPv6 is RFC 5952: lower case, no leading zeros, the longest run of
 * two or more zero groups as `::`, and an IPv4-mapped address as
 * `::ffff:a.b.c.d`.
 */
export function canonicalIp(text: string): string | undefined {
  const version = isIP(text);
  if (version === 4) return text;
  if (version !== 6 || text.includes("%")) return undefined;
  // The URL parser writes IPv6 hosts in RFC 5952 form, except the IPv4-mapped one.
  const host = new URL(`http://[${text}]/`).hostname.slice(1, -1);
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(host);
  if (!mapped) return host;
  const [hi, lo] = [parseInt(mapped[1], 16), parseInt(mapped[2], 16)];
  return `::ffff:${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}

/** True when `a` and `b` are the same address (or the same non-address text). */
export function sameIp(a: string, b: string): boolean {
  return (canonicalIp(a) ?? a) === (canonicalIp(b) ?? b);
}
