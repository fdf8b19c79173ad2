// The port decisions of one family, looked up by a packet's fields as the
// data plane looks them up: which frontend a destination is, which carries a
// no-endpoint verdict, which a source-range firewall, which addresses are
// ClusterIPs or hairpin endpoints.
import { cidrContains } from '../state/addr.js';
import type { Cidr, Family, Protocol } from '../state/types.js';
import type { NoEndpointVerdict, PortPolicy } from '../policy/port-policy.js';

export type Entry = 'clusterIP' | 'externalIP' | 'loadBalancerIP' | 'nodePort';

export interface Frontend {
  readonly p: PortPolicy;
  readonly entry: Entry;
}

export class Lookups {
  private readonly ports: readonly PortPolicy[];

  constructor(policies: Iterable<PortPolicy>, family: Family, private readonly serviceCIDRs: readonly Cidr[]) {
    this.ports = [...policies].filter((p) => p.sp.family === family);
  }

  /** The Service address (ClusterIP, external IP, LB IP) this destination is, whether or not it has endpoints. */
  address(ip: string, proto: Protocol, port: number): Frontend | undefined {
    for (const p of this.ports) {
      if (p.sp.protocol !== proto || p.sp.port !== port) continue;
      if (p.sp.clusterIP === ip) return { p, entry: 'clusterIP' };
      if (p.sp.externalIPs.includes(ip)) return { p, entry: 'externalIP' };
      if (p.sp.loadBalancerIPs.includes(ip)) return { p, entry: 'loadBalancerIP' };
    }
    return undefined;
  }

  nodePort(proto: Protocol, port: number): Frontend | undefined {
    const p = this.ports.find((x) => x.sp.protocol === proto && x.sp.nodePort === port);
    return p && { p, entry: 'nodePort' };
  }

  /** Whether the data plane dispatches this frontend to endpoints at all. */
  static dispatched(fe: Frontend): boolean {
    return fe.entry === 'clusterIP' ? fe.p.internal.length > 0 : fe.p.externalDispatched;
  }

  /** The verdict for packets that reach this frontend undispatched (null: none, they pass). */
  static noEndpointVerdict(fe: Frontend): NoEndpointVerdict {
    return fe.entry === 'clusterIP' ? fe.p.internalVerdict : fe.p.externalVerdict;
  }

  /** The port whose loadBalancerSourceRanges guard this LB IP and port. */
  firewall(ip: string, proto: Protocol, port: number): PortPolicy | undefined {
    return this.ports.find((p) => p.firewallAllow && p.sp.protocol === proto && p.sp.port === port && p.sp.loadBalancerIPs.includes(ip));
  }

  /** A port whose ClusterIP this is, on any port. */
  clusterIP(ip: string): PortPolicy | undefined {
    return this.ports.find((p) => p.sp.clusterIP === ip);
  }

  serviceCIDR(ip: string): Cidr | undefined {
    return this.serviceCIDRs.find((c) => cidrContains(c, ip));
  }

  /** Whether an endpoint reaching itself at this address is masqueraded: the pairs are shared by every port. */
  hairpin(ip: string): boolean {
    return this.ports.some((p) => p.hairpin.includes(ip));
  }
}
