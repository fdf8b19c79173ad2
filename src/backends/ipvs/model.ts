// What IPVS mode programs, as plain data: virtual servers with their real
// servers, the addresses bound to the dummy link, and the helper nftables
// tables (backends/nftables/model.ts's NftTable, rendered and planned as there).
import type { Family, Protocol } from '../../state/types.js';
import type { NftTable } from '../nftables/model.js';

/** kube-proxy's kube-ipvs0: holds every service address, down, so the kernel takes them as local. */
export const DUMMY_LINK = 'svcrouter-ipvs0';

/** A virtual server is keyed by address, protocol and port, or (short-circuit traffic) by firewall mark. */
export type VirtualServerKey =
  | { readonly family: Family; readonly protocol: Protocol; readonly address: string; readonly port: number; readonly fwmark?: undefined }
  | { readonly family: Family; readonly fwmark: number };

export interface RealServer {
  readonly address: string;
  readonly port: number;
  readonly weight: number;
}

/** IP_VS_SVC_F_*: persistence, and for sh/mh the second scheduler flag (hash the source port too). */
export const SERVICE_FLAGS = { persistent: 0x1, sched2: 0x10 } as const;

export interface VirtualServerSettings {
  readonly scheduler: string;
  readonly flags: number;
  /** Persistence timeout, seconds (0 without). */
  readonly timeout: number;
  /** Persistence granularity as a prefix length: one client address (32 or 128). */
  readonly netmask: number;
}

export type VirtualServer = VirtualServerKey & VirtualServerSettings & {
  /** Sorted by address and port. */
  readonly reals: readonly RealServer[];
  /** The ServicePort it serves ("ns/name:port/proto"), for people reading a dump. */
  readonly servicePort: string;
};

export interface IpvsPlan {
  readonly tables: readonly NftTable[];
  /** Addresses to bind to DUMMY_LINK, per family, sorted. */
  readonly addresses: Readonly<Record<Family, readonly string[]>>;
  /** Sorted as `svcrouter dump --ipvsadm` prints them. */
  readonly virtualServers: readonly VirtualServer[];
}

/** ipvsadm's service argument, unique per virtual server: "-t 10.96.0.1:80", "-u [fd00::1]:53", "-f 257 -6". */
export function serviceArg(k: VirtualServerKey): string {
  if (k.fwmark !== undefined) return k.family === 'ipv6' ? `-f ${k.fwmark} -6` : `-f ${k.fwmark}`;
  const flag = k.protocol === 'tcp' ? '-t' : k.protocol === 'udp' ? '-u' : '--sctp-service';
  return `${flag} ${hostPort(k.address, k.port)}`;
}

/** "10.0.0.5:80", "[fd00::5]:80". */
export function hostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}
