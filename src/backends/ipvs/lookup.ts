// Which of IPVS mode's virtual servers a new connection meets, looked up in
// the desired state as the kernel looks its table up (ip_vs_service_find): by
// the packet's mark first, when a firewall-mark virtual server has it, then by
// protocol, destination address and port. For `trace`, which names the
// virtual server a flow is scheduled by.
import type { Family, Protocol } from '../../state/types.js';
import { serviceArg, type VirtualServer } from './model.js';

/** What IPVS mode's desired state (IncrementalIpvs) answers about its virtual servers. */
export interface VirtualServerIndex {
  /** The virtual server whose ipvsadm service argument (serviceArg) this is, if there is one. */
  virtualServer(key: string): VirtualServer | undefined;
  /** The mark the helper table sets on a port's short-circuit traffic: its firewall-mark virtual server's (undefined: none). */
  fwmark(portId: string): number | undefined;
  /** The addresses of a family NodePorts answer on: the helper table's nodeport-ips, a virtual server on each per NodePort. */
  nodePortIPs(f: Family): readonly string[];
}

/** The packet as IPVS sees it in LOCAL_IN or LOCAL_OUT, after the helper table classified it. */
export interface IpvsPacket {
  readonly family: Family;
  readonly protocol: Protocol;
  readonly dst: string;
  readonly dport: number;
  /** The packet's whole mark; 0: none. */
  readonly mark: number;
}

export function virtualServerFor(index: VirtualServerIndex, pkt: IpvsPacket): VirtualServer | undefined {
  const byMark = pkt.mark === 0 ? undefined : index.virtualServer(serviceArg({ family: pkt.family, fwmark: pkt.mark }));
  return byMark ?? index.virtualServer(serviceArg({ family: pkt.family, protocol: pkt.protocol, address: pkt.dst, port: pkt.dport }));
}
