// IP addresses as netlink carries them: an address family number and the
// address bytes in network order.
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import type { Family } from '../../state/types.js';

const AF_INET = 2;
const AF_INET6 = 10;

export function afOf(family: Family): number {
  return family === 'ipv4' ? AF_INET : AF_INET6;
}

/** undefined for families other than IPv4 and IPv6. */
export function familyOf(af: number): Family | undefined {
  return af === AF_INET ? 'ipv4' : af === AF_INET6 ? 'ipv6' : undefined;
}

/** The 4 or 16 bytes of `address`; throws if it is not an address of `family`. */
export function addressBytes(family: Family, address: string): Uint8Array {
  if (isIP(address) !== (family === 'ipv4' ? 4 : 6)) throw new TypeError(`not an ${family} address: ${JSON.stringify(address)}`);
  if (family === 'ipv4') {
    // isIP let through four decimal numbers only, so reading digits is enough; ipaddr.js
    // would take most of the time of encoding 10,000 services × 10 endpoints.
    const bytes = new Uint8Array(4);
    for (let i = 0, j = 0; i < address.length; i++) {
      const c = address.charCodeAt(i);
      if (c === 0x2e) j++;
      else bytes[j] = bytes[j]! * 10 + c - 0x30;
    }
    return bytes;
  }
  return Uint8Array.from(ipaddr.parse(address).toByteArray());
}

/** Canonical text of the address at the start of `bytes` (IPVS sends 16 bytes for IPv4 too). */
export function addressText(family: Family, bytes: Buffer): string {
  const n = family === 'ipv4' ? 4 : 16;
  if (bytes.length < n) throw new Error(`${family} address of ${bytes.length} bytes`);
  if (family === 'ipv4') return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  return ipaddr.fromByteArray([...bytes.subarray(0, n)]).toString();
}

/** "10.0.0.1:80", "[fd00::1]:80". */
export function hostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/** The family of an address in text; throws if it is none. */
export function familyOfAddress(address: string): Family {
  const v = isIP(address);
  if (v === 0) throw new TypeError(`not an IP address: ${JSON.stringify(address)}`);
  return v === 4 ? 'ipv4' : 'ipv6';
}
