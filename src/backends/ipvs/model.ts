// What IPVS mode programs, as plain data: virtual servers (the kernel
// client's, kernel/ipvs/model.ts) with their real servers, the addresses bound
// to the dummy link, and the helper nftables tables (backends/nftables/
// model.ts's NftTable, rendered and planned as there).
import type { Family } from '../../state/types.js';
import type { NftTable } from '../nftables/model.js';
import { hostPort } from '../../kernel/netlink/address.js';
import { ServiceFlags, type RealServer as KernelRealServer, type VirtualServer as KernelVirtualServer, type VirtualServerKey } from '../../kernel/ipvs/model.js';

export { hostPort };
export type { VirtualServerKey, VirtualServerSettings } from '../../kernel/ipvs/model.js';

/** kube-proxy's kube-ipvs0: holds every service address, down, so the kernel takes them as local. */
export const DUMMY_LINK = 'svcrouter-ipvs0';

/** A real server as svcrouter plans it: always NAT ("masq"), no connection limits. */
export type RealServer = Pick<KernelRealServer, 'address' | 'port' | 'weight'>;

export type VirtualServer = KernelVirtualServer & {
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

/** Its persistence timeout in seconds (ClientIP affinity), 0 when not persistent. */
export function persistenceOf(vs: KernelVirtualServer): number {
  return vs.flags & ServiceFlags.persistent ? vs.timeout : 0;
}
