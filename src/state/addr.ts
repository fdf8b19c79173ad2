// Address parsing. Everything from the API passes through here before it can
// reach an nft script: strict syntax (net.isIP), canonical re-serialisation.
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import type { Cidr, Family } from './types.js';

/** Canonical text of an IP, or null if it is not a plain IPv4/IPv6 address. */
export function parseIP(text: unknown): { family: Family; ip: string } | null {
  if (typeof text !== 'string') return null;
  const t = text.trim();
  const v = isIP(t);
  if (v === 0 || t.includes('%')) return null; // a zone (fe80::1%eth0) is no Service address
  // isIP accepts only plain dotted quads without leading zeros: already canonical (and the
  // common case by far: 100k+ endpoint addresses at scale).
  if (v === 4) return { family: 'ipv4', ip: t };

  const addr = ipaddr.IPv6.parse(t);
  if (addr.isIPv4MappedAddress()) return { family: 'ipv4', ip: addr.toIPv4Address().toString() };
  return { family: 'ipv6', ip: addr.toString() };
}

/** Canonical network CIDR ("10.1.2.3/8" -> "10.0.0.0/8"), or null. */
export function parseCIDR(text: unknown): Cidr | null {
  if (typeof text !== 'string') return null;
  const t = text.trim();
  const slash = t.indexOf('/');
  if (slash < 0) return null;
  const ip = parseIP(t.slice(0, slash));
  const lenText = t.slice(slash + 1);
  if (!ip || !/^\d{1,3}$/.test(lenText)) return null;
  const len = Number(lenText);
  if (len > (ip.family === 'ipv4' ? 32 : 128)) return null;
  const net = ip.family === 'ipv4'
    ? ipaddr.IPv4.networkAddressFromCIDR(`${ip.ip}/${len}`)
    : networkV6(ip.ip, len);
  return { family: ip.family, text: `${net.toString()}/${len}` };
}

function networkV6(ip: string, len: number): ipaddr.IPv6 {
  const bytes = ipaddr.IPv6.parse(ip).toByteArray();
  const mask = ipaddr.IPv6.subnetMaskFromPrefixLength(len).toByteArray();
  return ipaddr.fromByteArray(bytes.map((b, i) => b & mask[i]!)) as ipaddr.IPv6;
}

/** The parsed network of each Cidr, for as long as the Cidr lives (a Service's source ranges are checked on every sync). */
const networks = new WeakMap<Cidr, [ipaddr.IPv4 | ipaddr.IPv6, number]>();

/**
 * Parsed by its own family's parser: ipaddr.js's generic parse tries IPv6
 * first and throws on IPv4 text, a cost that showed in profiles of a 10k
 * cluster's first sync.
 */
function network(c: Cidr): [ipaddr.IPv4 | ipaddr.IPv6, number] {
  let n = networks.get(c);
  if (!n) networks.set(c, (n = c.family === 'ipv4' ? ipaddr.IPv4.parseCIDR(c.text) : ipaddr.IPv6.parseCIDR(c.text)));
  return n;
}

export function cidrContains(cidr: Cidr, ip: string): boolean {
  const v = isIP(ip);
  if (v !== (cidr.family === 'ipv4' ? 4 : 6)) return false;
  return (v === 4 ? ipaddr.IPv4.parse(ip) : ipaddr.IPv6.parse(ip)).match(network(cidr));
}

export function isLoopback(ip: string): boolean {
  return ipaddr.parse(ip).range() === 'loopback';
}

/** Drop CIDRs contained in another of the list: nft interval sets refuse overlaps. */
export function withoutNested(cidrs: readonly Cidr[]): Cidr[] {
  const uniq = [...new Map(cidrs.map((c) => [c.text, c])).values()];
  return uniq.filter((c) => {
    const [addr, len] = network(c);
    return !uniq.some((o) => o.family === c.family && network(o)[1] < len && addr.match(network(o)));
  });
}
