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

  const addr = ipaddr.parse(t);
  if (addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress()) {
    return { family: 'ipv4', ip: (addr as ipaddr.IPv6).toIPv4Address().toString() };
  }
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

export function cidrContains(cidr: Cidr, ip: string): boolean {
  const addr = ipaddr.parse(ip);
  if (addr.kind() !== (cidr.family === 'ipv4' ? 'ipv4' : 'ipv6')) return false;
  return addr.match(ipaddr.parseCIDR(cidr.text));
}

export function isLoopback(ip: string): boolean {
  return ipaddr.parse(ip).range() === 'loopback';
}

/** Drop CIDRs contained in another of the list: nft interval sets refuse overlaps. */
export function withoutNested(cidrs: readonly Cidr[]): Cidr[] {
  const uniq = [...new Map(cidrs.map((c) => [c.text, c])).values()];
  return uniq.filter((c) => !uniq.some((o) => o.family === c.family
    && prefixLen(o) < prefixLen(c) && cidrContains(o, c.text.split('/')[0]!)));
}

function prefixLen(c: Cidr): number {
  return Number(c.text.split('/')[1]);
}
